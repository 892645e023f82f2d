"""What a cross-process socket cap would add to a connect: a Redis lease, or a database row, per socket.

Times, against `cafe_rt.py serve` on PostgreSQL with Redis as the broker, a whole socket connect up to
`connection_established`; then, from one process as the connect path would run them, a lease taken and
given back in Redis (realtime/socket_leases.py: one script call, one ZREM) and the same as a row
inserted and deleted in PostgreSQL (two short transactions).

    .venv/bin/python bench/socket_cap.py --rounds 2000 --postgres postgresql://root@127.0.0.1:5432/<empty db>
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import micros, socket_connects  # noqa: E402  (this script's folder is on the path)

from realtime.socket_leases import SocketLeases  # noqa: E402
from storage.sql import Database
from tests.servers import create_company_by_command, server_env, token_for, uvicorn_server  # noqa: E402

CREATE = "CREATE TABLE IF NOT EXISTS bench_socket_leases (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at TEXT)"
COUNT_AND_INSERT = """
INSERT INTO bench_socket_leases (id, user_id, expires_at) SELECT :id, :user_id, :expires_at
WHERE (SELECT COUNT(*) FROM bench_socket_leases WHERE user_id = :user_id) < :cap
"""
DELETE = "DELETE FROM bench_socket_leases WHERE id = :id"


async def redis_leases(url: str, rounds: int) -> tuple[list[float], list[float]]:
    leases, user = SocketLeases(url), uuid.uuid4().hex
    claims, releases = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        claim = await leases.claim(user, 50)
        claims.append(time.perf_counter() - started)
        assert claim.lease is not None
        started = time.perf_counter()
        await leases.release(claim.lease)
        releases.append(time.perf_counter() - started)
    await leases.close()
    return claims, releases


async def database_leases(url: str, rounds: int) -> tuple[list[float], list[float]]:
    database = Database(url)
    await database.connect()
    await database.execute(CREATE)
    claims, releases, user = [], [], uuid.uuid4().hex
    for _ in range(rounds):
        lease = uuid.uuid4().hex
        started = time.perf_counter()
        async with database.transaction():
            await database.execute(COUNT_AND_INSERT, {"id": lease, "user_id": user, "expires_at": "x", "cap": 50})
        claims.append(time.perf_counter() - started)
        started = time.perf_counter()
        async with database.transaction():
            await database.execute(DELETE, {"id": lease})
        releases.append(time.perf_counter() - started)
    await database.execute("DROP TABLE bench_socket_leases")
    await database.disconnect()
    return claims, releases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--postgres", required=True, help="URL of an empty PostgreSQL database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    owner_email = create_company_by_command(args.postgres)
    env = server_env(args.postgres, BROADCAST_URL=args.redis)
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        connects = asyncio.run(socket_connects(host, token_for(http, owner_email), max(1, args.rounds // 10)))
    print(f"a whole socket connect (PostgreSQL, Redis broker): {micros(connects)}")
    claims, releases = asyncio.run(redis_leases(args.redis, args.rounds))
    print(f"Redis lease: take {micros(claims)}; give back {micros(releases)}")
    claims, releases = asyncio.run(database_leases(args.postgres, args.rounds))
    print(f"PostgreSQL row: insert under the cap {micros(claims)}; delete {micros(releases)}")
    print(f"(connect median {statistics.median(connects) * 1e6:.0f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
