"""Measures the real-time fan-out of running servers, from one client process.

Run by `bench/realtime.py` with the rendered project's interpreter (its `websockets` client);
prints one JSON object. CLIENTS sockets are spread over the servers' socket URLs, each
subscribed to one room; a publisher on the first server publishes to it.

- throughput: MESSAGES published as fast as the publisher's socket takes them; timed from the
  first publication to the last delivery to every client (deliveries per second = messages x
  clients / seconds);
- latency: LATENCY_MESSAGES published one at a time, each after the previous one reached
  every client; each delivery's latency is its arrival minus its publication (one clock: one
  process), p50 and p99 over every delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ROOM = "rooms:bench"


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency that happened)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def opened(url: str, token: str, *, subscribe: bool = True) -> ClientConnection:
    socket = await connect(url, max_queue=None, open_timeout=30)
    if token:
        await socket.send(json.dumps({"type": "authenticate", "token": token}))
    expected = ["ready"]
    if subscribe:
        await socket.send(json.dumps({"type": "subscribe", "channel": ROOM}))
        expected.append("subscribed")
    replies = [json.loads(await socket.recv()) for _ in expected]
    assert [reply["type"] for reply in replies] == expected, replies
    return socket


class Client:
    """One subscriber: it records when each message (by its sequence number) arrived."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.arrivals: dict[int, int] = {}
        self.sent_at: dict[int, int] = {}
        self.closed: str | None = None

    async def read(self, until: int) -> None:
        """Read events until message `until` (a sequence number) has arrived."""
        try:
            while until not in self.arrivals:
                frame = json.loads(await self.socket.recv())
                if frame.get("type") != "event":
                    continue
                data = frame["data"]
                self.arrivals[data["seq"]] = time.perf_counter_ns()
                self.sent_at[data["seq"]] = data["sent"]
        except Exception as error:  # a dropped client is reported, not fatal
            self.closed = f"{type(error).__name__}: {error}"


async def publish(publisher: ClientConnection, seq: int) -> None:
    data = {"seq": seq, "sent": time.perf_counter_ns()}
    await publisher.send(json.dumps({"type": "publish", "channel": ROOM, "data": data}))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    urls = args.url
    clients = [
        Client(await opened(urls[index % len(urls)], args.token)) for index in range(args.clients)
    ]
    publisher = await opened(urls[0], args.token, subscribe=False)
    seq = 0

    async def round_of(count: int, *, one_at_a_time: bool) -> tuple[float, list[int]]:
        nonlocal seq
        first = seq
        started = time.perf_counter_ns()
        if one_at_a_time:
            for _ in range(count):
                readers = [asyncio.create_task(c.read(seq)) for c in clients if not c.closed]
                await publish(publisher, seq)
                await asyncio.wait_for(asyncio.gather(*readers), args.timeout)
                seq += 1
        else:
            readers = [asyncio.create_task(c.read(seq + count - 1)) for c in clients]
            for _ in range(count):
                await publish(publisher, seq)
                seq += 1
            await asyncio.wait_for(asyncio.gather(*readers), args.timeout)
        ended = max(max(c.arrivals.values(), default=started) for c in clients)
        latencies = [
            c.arrivals[n] - c.sent_at[n]
            for c in clients
            for n in range(first, seq)
            if n in c.arrivals
        ]
        return (ended - started) / 1e9, latencies

    await round_of(args.warmup, one_at_a_time=False)
    cpu_before = cpu_seconds()
    seconds, _ = await round_of(args.messages, one_at_a_time=False)
    client_cpu = (cpu_seconds() - cpu_before) / seconds
    _, latencies_ns = await round_of(args.latency_messages, one_at_a_time=True)
    latencies = sorted(value / 1e6 for value in latencies_ns)
    dropped = [c.closed for c in clients if c.closed]
    for socket in [publisher, *(c.socket for c in clients)]:
        await socket.close()
    deliveries = args.messages * (args.clients - len(dropped))
    return {
        "clients": args.clients,
        "servers": len(urls),
        "throughput": {
            "messages": args.messages,
            "seconds": round(seconds, 3),
            "messages_per_second": round(args.messages / seconds, 1),
            "deliveries_per_second": round(deliveries / seconds, 1),
            "client_cpu": round(client_cpu, 2),
        },
        "latency": {
            "messages": args.latency_messages,
            "deliveries": len(latencies),
            "min_ms": round(latencies[0], 3),
            "p50_ms": round(percentile(latencies, 0.50), 3),
            "p99_ms": round(percentile(latencies, 0.99), 3),
            "max_ms": round(latencies[-1], 3),
        },
        "dropped_clients": dropped,
        "pid": os.getpid(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", action="append", required=True, help="a server's socket URL")
    parser.add_argument("--token", default="", help="an access token, when auth is on")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency-messages", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
