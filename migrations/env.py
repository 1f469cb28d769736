"""Alembic environment: the URL comes from the caller (``db.migrate``) or DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from config.settings import get_settings
from db.models import Base
from db.session import get_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _pragma(connection: Connection, setting: str) -> None:
    """On the driver's connection, outside any transaction (the engine's ``begin`` hook would
    open one first, inside which SQLite ignores this pragma)."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute(f"PRAGMA {setting}")


def run_migrations_online() -> None:
    engine = get_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it into a new one and dropping the old, which
            # a table others refer to (users) cannot survive with foreign keys enforced. The
            # pragma only takes effect outside a transaction; the check below proves nothing
            # was left dangling before it is turned back on.
            _pragma(connection, "foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if dangling:
                        raise RuntimeError(f"migration left rows without their parent: "
                                           f"{dangling[:5]}")
        finally:
            if sqlite:
                connection.rollback()  # a no-op after the commit; ends a failed migration
                _pragma(connection, "foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
