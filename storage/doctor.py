"""Consistency check of a store: every referenced blob present and intact; orphans found.

Orphan blobs are files no node refers to (left by a process killed between writing
blobs and committing its node, or by a deleted conversation). They are removed only
when older than a grace period, because a writer in another process may be about to
commit a node that uses them.
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

    @property
    def damaged(self) -> bool:
        """Some node's image or latent is missing or corrupt."""
        return bool(self.missing or self.corrupt)

    @property
    def ok(self) -> bool:
        """No missing or corrupt blob, and no orphan or temp file left on disk."""
        left = set(self.orphans) - set(self.removed_orphans)
        temp_left = set(self.temp_files) - set(self.removed_temp)
        return not (self.missing or self.corrupt or left or temp_left)

    def lines(self) -> list[str]:
        out = [f"{self.referenced} blobs referenced, {self.blobs} on disk"]
        for label, found in (("missing", self.missing), ("corrupt", self.corrupt)):
            for sha, nodes in sorted(found.items()):
                out.append(f"{label} blob {sha} (nodes {', '.join(nodes)})")
        removed = set(self.removed_orphans)
        for sha in self.orphans:
            out.append(f"orphan blob {sha}" + (" removed" if sha in removed else ""))
        removed_tmp = set(self.removed_temp)
        for path in self.temp_files:
            out.append(f"temp file {path}" + (" removed" if path in removed_tmp else ""))
        if self.damaged:
            out.append("DAMAGED: the nodes listed above cannot be shown or edited further")
        else:
            out.append("ok: every image and latent is present and intact")
        return out


def check(store: Store, fix: bool = False, grace: float = 60.0) -> DoctorReport:
    report = DoctorReport()
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
    if fix:
        if report.orphans:
            again = store.referenced_blobs()  # a node may have been committed meanwhile
            for sha in report.orphans:
                if sha not in again and store.blobs.age(sha) >= grace:
                    store.blobs.delete(sha)
                    report.removed_orphans.append(sha)
        for path in report.temp_files:
            if store.blobs.stale_temp(path, older_than=max(grace, 3600.0)):
                path.unlink(missing_ok=True)
                report.removed_temp.append(path)
    return report
