"""What the small cost benchmarks (revocation.py, socket_cap.py) share: a sample summary and timed socket connects."""

from __future__ import annotations

import asyncio
import statistics
import time

from websockets.asyncio.client import connect


def micros(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us"


async def socket_connects(host: str, token: str, rounds: int) -> list[float]:
    """Seconds each of `rounds` whole socket connects took, up to the feed's first message."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        async with connect(f"ws://{host}/ws/cafe/orders/?token={token}") as ws:
            await asyncio.wait_for(ws.recv(), 10)
            samples.append(time.perf_counter() - started)
    return samples
