"""What checking revocation costs a REST request or a socket connect: one primary-key read of the user.

For each database (a fresh SQLite file, and PostgreSQL when --postgres is given) it times, in one
process through `databases` as the service runs it, decoding an access token alone and decoding it
plus the revocation check (`domain.revocation.authenticate`), and for scale the whole of an
authenticated request (`GET /api/cafe/tables/`) and of a socket connect (the orders feed, up to its
`connection_established`) over real HTTP and WebSocket against `cafe_rt.py serve`.

    .venv/bin/python bench/revocation.py --rounds 2000 --postgres postgresql://root@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import micros, socket_connects  # noqa: E402  (this script's folder is on the path)

from cafe_rt import Settings, running_services  # noqa: E402  (the repository root is put on the path just above)
from core.auth import actor_from_token  # noqa: E402
from domain.revocation import authenticate  # noqa: E402
from tests.factory import TEST_SECRET  # noqa: E402
from tests.servers import create_company_by_command, server_env, token_for, uvicorn_server  # noqa: E402


async def in_process(database_url: str, token: str, rounds: int) -> tuple[list[float], list[float]]:
    settings = Settings(database_url=database_url, broadcast_url="memory://", jwt_secret=TEST_SECRET)
    async with running_services(settings) as services:
        decode, check = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            actor_from_token(services.tokens, token)
            decode.append(time.perf_counter() - started)
            started = time.perf_counter()
            await authenticate(services, token)
            check.append(time.perf_counter() - started)
        return decode, check


def measure(name: str, database_url: str, rounds: int) -> None:
    owner_email = create_company_by_command(database_url)
    with uvicorn_server(server_env(database_url)) as host, httpx2.Client(base_url=f"http://{host}") as http:
        token = token_for(http, owner_email)
        headers = {"Authorization": f"Bearer {token}"}
        requests = []
        for _ in range(rounds):
            started = time.perf_counter()
            http.get("/api/cafe/tables/", headers=headers).raise_for_status()
            requests.append(time.perf_counter() - started)
        connects = asyncio.run(socket_connects(host, token, max(1, rounds // 10)))
    decode, check = asyncio.run(in_process(database_url, token, rounds))
    print(f"{name}: decode only {micros(decode)}; decode + revocation check {micros(check)}")
    print(
        f"{name}: the check alone adds {(statistics.median(check) - statistics.median(decode)) * 1e6:.0f} us (median)"
    )
    print(f"{name}: a whole GET /api/cafe/tables/ over HTTP, check included: {micros(requests)}")
    print(f"{name}: a whole socket connect to connection_established, check included: {micros(connects)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL database to measure on as well")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        measure("SQLite", f"sqlite:///{folder}/revocation.db", args.rounds)
    if args.postgres:
        measure("PostgreSQL", args.postgres, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
