"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` so concurrent writers (API processes and
worker threads) queue on a busy timeout instead of failing half-way; PostgreSQL uses its
own transactions. One engine per process and URL, until :func:`dispose_engine`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from config.settings import get_settings


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers queue on the write lock up front (no deadlocked lock upgrades); readers
        # take a plain deferred BEGIN: in WAL mode they never wait for a writer.
        readonly = conn.get_execution_options().get("readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


_ENGINES: dict[str, Engine] = {}
_FACTORIES: dict[tuple[str, bool], sessionmaker[Session]] = {}
_REGISTRY_LOCK = threading.Lock()


def get_engine(url: str) -> Engine:
    """The process's one engine (and connection pool) for ``url``."""
    key = normalize_url(url)
    with _REGISTRY_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = _create_engine(key)
        return engine


def dispose_engine(url: str) -> None:
    """Close ``url``'s pooled connections and forget its engine (a database dropped, or a
    test's own database done with): a pool left behind holds its connections open."""
    key = normalize_url(url)
    with _REGISTRY_LOCK:
        engine = _ENGINES.pop(key, None)
        for spelled in [k for k in _FACTORIES if normalize_url(k[0]) == key]:
            del _FACTORIES[spelled]
    if engine is not None:
        engine.dispose()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_setup(engine)
        return engine
    settings = get_settings()  # each API and worker replica sizes its own pool
    return create_engine(url, pool_pre_ping=True, pool_size=settings.disputeflow_db_pool_size,
                         max_overflow=settings.disputeflow_db_max_overflow)


def _factory(url: str, readonly: bool = False) -> sessionmaker[Session]:
    key = (url, readonly)  # as the caller spells it: no URL parsing per transaction
    factory = _FACTORIES.get(key)
    if factory is None:
        engine = get_engine(url)
        bind = engine.execution_options(readonly=True) if readonly else engine
        factory = _FACTORIES[key] = sessionmaker(bind, expire_on_commit=False)
    return factory


@contextmanager
def session_scope(url: str, *, readonly: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error.

    ``readonly`` sessions skip SQLite's write lock; a write in one fails loudly."""
    session = _factory(url, readonly)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
