"""Fixtures for the shared-store tests: one throw-away PostgreSQL cluster and one ``chroma run`` per session, a
fresh database and collection per test. Without PostgreSQL the tests skip, except where ``scripts/test.sh``
installed it and set ``CCHC_REQUIRE_TOOLS=1``: there a missing server fails the run instead of hiding it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from settings import Settings
from tests.conftest import unavailable
from tests.servers import ChromaServer, PostgresServer, postgres_bin


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    if not Path(server.binary).exists():
        unavailable("the chroma CLI is not installed")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def database_url(postgres: PostgresServer) -> str:
    """A new, empty database on the session's cluster."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(postgres.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture()
def shared(tmp_path: Path, cache_dir: Path, database_url: str, chroma: ChromaServer) -> Settings:
    """Settings of one replica in server mode: the test's database and its own collection on the Chroma server."""
    return replica(tmp_path / "replica-a", cache_dir, database_url, chroma)


def replica(data_dir: Path, cache_dir: Path, database_url: str, chroma: ChromaServer) -> Settings:
    return Settings(
        data_dir=data_dir,
        cache_dir=cache_dir,
        database_url=database_url,
        chroma_host="127.0.0.1",
        chroma_port=chroma.port,
        collection=f"c{make_url(database_url).database}",
    )
