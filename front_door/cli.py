"""`python cafe_rt.py serve | migrate | demo | create-company`: the service's commands, each a thin adapter."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from core.settings import Settings
from core.shapes import CreatedCompany
from domain import accounts, demo
from events.broker import reaches_one_process
from events.services import running_services
from front_door.serving import run_migrations, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cafe_rt.py", description="cafe_rt management commands")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve", help="run the service under uvicorn with its WebSocket settings")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8000)
    server.add_argument("--log-level", default="info")
    server.add_argument("--workers", type=int, default=None, help="processes (default: WEB_CONCURRENCY, else 1)")
    server.add_argument(
        "--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="event loop (auto: uvloop if installed)"
    )
    commands.add_parser("migrate", help="bring the database's schema to this release (idempotent); see README")
    commands.add_parser("demo", help="load the demo company (idempotent) and print its logins")
    company = commands.add_parser("create-company", help="create a company and its owner; prints JSON ids")
    company.add_argument("name")
    company.add_argument("--owner-email", required=True)
    company.add_argument("--owner-password", required=True)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environ()
        settings.check()
    except ValueError as refused:  # WeakSecret included: the reason in one line, not a traceback
        raise SystemExit(f"cafe_rt: {refused}") from None
    if args.command == "serve":
        workers = max(1, args.workers if args.workers is not None else settings.web_concurrency)
        if workers > 1 and reaches_one_process(settings.broadcast_url):
            raise SystemExit(
                "cafe_rt: --workers/WEB_CONCURRENCY above 1 needs a shared broker (BROADCAST_URL or REDIS_URL: "
                "redis:// or postgres://); memory:// reaches one process only"
            )
        serve(settings, args.host, args.port, args.log_level, workers, args.loop)
        return 0
    if args.command == "migrate":
        print(run_migrations(settings.database_url))
        return 0
    if args.command == "demo":
        print(asyncio.run(_demo(settings)))
        return 0
    try:
        result = asyncio.run(create_company_command(settings, args.name, args.owner_email, args.owner_password))
    except Exception as error:  # a clear one-line reason instead of a traceback
        detail = getattr(error, "detail", str(error))
        print(json.dumps({"error": detail}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


async def _demo(settings: Settings) -> str:
    async with running_services(settings) as services:
        return await demo.load(services)


async def create_company_command(settings: Settings, name: str, email: str, password: str) -> CreatedCompany:
    """What `create-company` does once its arguments are read (the server tests call it in their own process)."""
    async with running_services(settings) as services:
        return await accounts.create_company(services, name, email, password)
