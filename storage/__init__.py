"""Conversations, branches and image lineage: SQLAlchemy models, the repository API
(`Store`), content-addressed blobs and Alembic migrations. Imports neither
editing_core nor agent."""

from storage.blobs import BlobStore
from storage.doctor import DoctorReport
from storage.errors import (
    BlobCorruptError,
    BlobMissingError,
    ConversationBusy,
    InvalidImageError,
    NotFoundError,
    StorageError,
    StoreMismatchError,
)
from storage.records import (
    JOB_ACTIVE,
    JOB_STATUSES,
    NODE_KINDS,
    Conversation,
    Job,
    Message,
    Node,
    Plan,
)
from storage.repository import Store

__all__ = [
    "JOB_ACTIVE",
    "JOB_STATUSES",
    "NODE_KINDS",
    "BlobCorruptError",
    "BlobMissingError",
    "BlobStore",
    "Conversation",
    "ConversationBusy",
    "DoctorReport",
    "InvalidImageError",
    "Job",
    "Message",
    "Node",
    "NotFoundError",
    "Plan",
    "StorageError",
    "Store",
    "StoreMismatchError",
]
