"""Consistency check of a store: the database file's own integrity (SQLite's
`integrity_check` and `foreign_key_check`), the lineage and message trees (no cycle, no
dangling parent), every referenced blob present and intact; orphans found.

Orphan blobs are files no node refers to (left by a process killed between writing
blobs and committing its node, or by a deleted conversation). Collecting them is safe
at any grace period: the final "is it still unreferenced?" check and the deletions run
inside one write transaction that holds the blob-collection lock (storage.gc), and every
writer re-puts its blobs inside its own transaction under the same lock, so a node can
never commit referring to a blob that is being deleted. The grace period only spares
blobs a writer has put but not yet used (it would otherwise write them again).

Nothing under the data folder is followed if it is a symbolic link (storage/paths.py):
a link among the blobs is reported, never entered, and nothing it points to is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.repository import Store


@dataclass
class DoctorReport:
    blobs: int = 0  # blob files on disk
    referenced: int = 0  # distinct blobs the database refers to
    missing: dict[str, list[str]] = field(default_factory=dict)  # sha -> node ids
    corrupt: dict[str, list[str]] = field(default_factory=dict)  # sha -> node ids
    orphans: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)
    removed_temp: list[Path] = field(default_factory=list)
    database: list[str] = field(default_factory=list)  # integrity / foreign key problems
    links: list[Path] = field(default_factory=list)  # symbolic links under the blob folder
    trees: list[str] = field(default_factory=list)  # cycles and dangling parents

    @property
    def damaged(self) -> bool:
        """The database file is damaged, a tree is broken, or some node's image or latent
        is missing or corrupt."""
        return bool(self.missing or self.corrupt or self.database or self.trees)

    @property
    def ok(self) -> bool:
        """No missing or corrupt blob, and no orphan or temp file left on disk."""
        left = set(self.orphans) - set(self.removed_orphans)
        temp_left = set(self.temp_files) - set(self.removed_temp)
        return not (self.damaged or left or temp_left or self.links)

    def lines(self) -> list[str]:
        out = [f"{self.referenced} blobs referenced, {self.blobs} on disk"]
        out.extend(f"database: {line}" for line in self.database)
        out.extend(f"tree: {line}" for line in self.trees)
        for label, found in (("missing", self.missing), ("corrupt", self.corrupt)):
            for sha, nodes in sorted(found.items()):
                out.append(f"{label} blob {sha} (nodes {', '.join(nodes)})")
        removed = set(self.removed_orphans)
        for sha in self.orphans:
            out.append(f"orphan blob {sha}" + (" removed" if sha in removed else ""))
        removed_tmp = set(self.removed_temp)
        for path in self.temp_files:
            out.append(f"temp file {path}" + (" removed" if path in removed_tmp else ""))
        for path in self.links:
            out.append(f"link {path} skipped: mtedit never follows links out of its data "
                       "folder; remove it (what it points to is not touched)")
        if self.database:
            out.append("DAMAGED: the database file fails SQLite's own checks; restore it from "
                       "a backup, or export what still reads and import it into a new one")
        if self.damaged:
            out.append("DAMAGED: the nodes listed above cannot be shown or edited further")
        else:
            out.append("ok: every image and latent is present and intact")
        return out


def check(store: Store, fix: bool = False, grace: float = 60.0) -> DoctorReport:
    from storage.gc import collect_orphans, database_problems, tree_problems

    report = DoctorReport()
    report.database = database_problems(store)
    if report.database:  # the rows cannot be trusted: report, and touch no file
        return report
    report.trees = tree_problems(store)
    on_disk = set(store.blobs)
    report.blobs = len(on_disk)
    refs = store.referenced_blobs()
    report.referenced = len(refs)
    for sha, nodes in refs.items():
        state = store.blobs.verify(sha) if sha in on_disk else "missing"
        if state == "missing" and store.blobs.exists(sha):  # written since the listing
            state = store.blobs.verify(sha)
        if state != "ok":
            getattr(report, state)[sha] = sorted(nodes)
    report.orphans = sorted(on_disk - set(refs))
    report.temp_files = store.blobs.temp_files()
    report.links = store.blobs.links()
    if fix:
        if report.orphans:
            report.removed_orphans = collect_orphans(store, report.orphans, grace)
        for path in report.temp_files:
            if store.blobs.stale_temp(path, older_than=max(grace, 3600.0)):
                store.blobs.remove_temp(path)
                report.removed_temp.append(path)
    return report
