"""Fresh, migrated databases for each test: nothing is shared between tests.

SQLite: the migrations run once into a template file, copied per test. PostgreSQL (when
DISPUTEFLOW_TEST_POSTGRES_URL is set, as CI does): the migrations run once into a template
database and each test gets ``CREATE DATABASE ... TEMPLATE`` of it — through Alembic, never
create_all.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from db.session import dispose_engine

PG_URL = os.environ.get("DISPUTEFLOW_TEST_POSTGRES_URL")


class SqliteFactory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        upgrade(f"sqlite:///{self.template}")
        dispose_engine(f"sqlite:///{self.template}")

    @contextmanager
    def database(self) -> Iterator[str]:
        path = self.root / f"t_{uuid.uuid4().hex[:10]}.db"
        shutil.copyfile(self.template, path)
        url = f"sqlite:///{path}"
        try:
            yield url
        finally:
            dispose_engine(url)


class PostgresFactory:
    def __init__(self, url: str) -> None:
        self.admin_url = make_url(url).set(drivername="postgresql+psycopg")
        self.template = f"dfl_tmpl_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.template}"'))
        tmpl_url = self._url(self.template)
        upgrade(tmpl_url)
        dispose_engine(tmpl_url)

    def _url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    @contextmanager
    def database(self) -> Iterator[str]:
        name = f"dfl_t_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        url = self._url(name)
        try:
            yield url
        finally:
            dispose_engine(url)
            with self.admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
        self.admin.dispose()
