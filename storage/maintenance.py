"""The store's maintenance reads (mixed into `Store`): which nodes use each blob, and
how many rows each table holds (doctor, gc and tests)."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import ConversationRow, ImageNodeRow, JobRow, MessageRow, PlanRow


class Maintenance:
    """Needs `reading()` (a read session), as Store provides."""

    def referenced_blobs(self) -> dict[str, list[str]]:
        """sha256 -> ids of the nodes using it (as image, latent or region mask)."""
        refs: dict[str, list[str]] = {}
        q = select(ImageNodeRow.id, ImageNodeRow.image_sha256, ImageNodeRow.latent_sha256,
                   ImageNodeRow.mask_sha256)
        with self.reading() as s:
            for node_id, *shas in s.execute(q):
                for sha in shas:
                    if sha:
                        refs.setdefault(sha, []).append(node_id)
        return refs

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        with self.reading() as s:
            return {
                m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (ConversationRow, ImageNodeRow, MessageRow, PlanRow, JobRow)
            }
