"""`serve --reload` restarts for code changes only, not for files the service writes."""

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from tests.e2e.test_cli import COMMAND, free_port, wait_for_server

# watchfiles logs this for every change it sees in a watched folder.
CHANGE_DETECTED = b"change detected"


async def test_reload_ignores_files_written_in_the_working_directory(
    new_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        COMMAND,
        "serve",
        "--reload",
        "--port",
        str(port),
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": await new_database(), "ENVIRONMENT": "test"},
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # the reloader and its worker stop together
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_for_server(server, client)
        # What SQLite does to ./var/*.db on every write.
        database = tmp_path / "var" / "service.db"
        database.parent.mkdir()
        for count in range(3):
            database.write_bytes(b"page" * count)
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # longer than watchfiles' debounce (1.6 s)
    finally:
        server.terminate()
        _, log = await server.communicate()

    assert b"Started reloader process" in log
    assert CHANGE_DETECTED not in log
