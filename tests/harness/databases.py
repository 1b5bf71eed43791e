"""Throwaway databases for a served render (README examples, contract fuzzing)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .commands import run_command
from .services import POSTGRES_URL

POSTGRES_STATEMENT = """\
import asyncio, sys, asyncpg
async def main():
    connection = await asyncpg.connect(sys.argv[1])
    await connection.execute(sys.argv[2])
    await connection.close()
asyncio.run(main())
"""


@contextlib.contextmanager
def throwaway_database(
    project: Path, env: Mapping[str, str], services: frozenset[str], tmp: Path, purpose: str
) -> Iterator[str]:
    """A database of `purpose`'s own: a SQLite file in `tmp`, or a PostgreSQL database on the
    harness's server, dropped at the end. Needs the project's synced `.venv` (its asyncpg)."""
    if "postgres" not in services:
        yield f"sqlite+aiosqlite:///{tmp / f'{purpose}.db'}"
        return
    name = f"{purpose}_{os.getpid()}_{tmp.parent.name}_{tmp.name}".replace("-", "_").lower()[:63]
    _postgres(f'CREATE DATABASE "{name}"', project, env)
    try:
        yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    finally:
        _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', project, env)


def _postgres(statement: str, project: Path, env: Mapping[str, str]) -> None:
    """One statement on the maintenance database, through the project's own asyncpg."""
    python = str(project / ".venv" / "bin" / "python")
    dsn = POSTGRES_URL.replace("+asyncpg", "")
    result = run_command([python, "-c", POSTGRES_STATEMENT, dsn, statement], project, env, 60)
    if not result.ok:
        raise RuntimeError(result.describe())
