"""A small HTTP/1.1 keep-alive load generator, used when `wrk` is not installed.

Run it in its own process (ideally with uvloop, which the rendered project's venv has):

    python bench/loadgen.py --url http://127.0.0.1:8000/health/live --connections 32 --duration 10

It prints one JSON object: requests, non_2xx, errors, seconds, rps, p50_ms, p99_ms. A fixed
number of connections each send a request and wait for its response (no pipelining), for a
fixed duration. `--body` may contain `{n}`, replaced by a counter unique within the run.
It is slower than wrk: `bench/run.py` reports which tool produced the numbers, and the bare
Starlette ceiling shows whether the generator, not the server, was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
import time
from urllib.parse import urlsplit

READ_TIMEOUT = 10.0


def build_request(method: str, host: str, target: str, headers: list[str], body: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += headers
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def connection(
    args: argparse.Namespace,
    deadline: float,
    counter: itertools.count[int],
    stats: dict[str, list[float]],
) -> None:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    target = url.path + (f"?{url.query}" if url.query else "")
    token = secrets.token_hex(4)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            body = args.body.replace("{n}", f"{token}-{next(counter)}") if args.body else ""
            request = build_request(args.method, url.netloc, target, args.header, body)
            started = time.perf_counter()
            writer.write(request)
            try:
                status = await asyncio.wait_for(read_response(reader), READ_TIMEOUT)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                stats["errors"].append(1)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            stats["latency"].append(time.perf_counter() - started)
            if not 200 <= status < 400:
                stats["non_2xx"].append(status)
    finally:
        writer.close()


async def main_async(args: argparse.Namespace) -> dict[str, float | int]:
    stats: dict[str, list[float]] = {"latency": [], "non_2xx": [], "errors": []}
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + args.duration
    tasks = [connection(args, deadline, counter, stats) for _ in range(args.connections)]
    await asyncio.wait_for(asyncio.gather(*tasks), args.duration + READ_TIMEOUT + 5)
    seconds = time.perf_counter() - started
    latency = sorted(stats["latency"])

    def percentile(fraction: float) -> float:
        if not latency:
            return 0.0
        return float(latency[min(len(latency) - 1, int(fraction * len(latency)))]) * 1000

    return {
        "requests": len(latency),
        "non_2xx": len(stats["non_2xx"]),
        "errors": len(stats["errors"]),
        "seconds": round(seconds, 3),
        "rps": round(len(latency) / seconds, 1),
        "p50_ms": round(percentile(0.50), 3),
        "p99_ms": round(percentile(0.99), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[], help='"Name: value"')
    parser.add_argument("--body", default="")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(main_async(args))))
    else:
        print(json.dumps(uvloop.run(main_async(args))))


if __name__ == "__main__":
    main()
