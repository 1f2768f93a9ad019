"""Alembic environment: runs on the connection handed over by electwatch.storage.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from electwatch.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is None:  # plain `alembic` command line use
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise SystemExit("alembic: set sqlalchemy.url (the database to migrate)")
        engine = create_engine(url)
        with engine.begin() as conn:
            context.configure(
                connection=conn, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
