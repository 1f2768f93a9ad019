"""Storage of the observation intake service: SQLAlchemy 2 models, Alembic migrations."""

from electwatch.storage.db import default_url, make_engine, session_factory, transaction, upgrade
from electwatch.storage.models import ROLES, Base

__all__ = [
    "ROLES",
    "Base",
    "default_url",
    "make_engine",
    "session_factory",
    "transaction",
    "upgrade",
]
