"""A JWT_SECRET too short to sign with stops the service and the management commands before they start."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from cafe_rt import Settings, WeakSecret, create_app
from tests.servers import ROOT, free_port

SHORT = "s" * 31


def run(database_url: str, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": SHORT, "BROADCAST_URL": "memory://"}
    return subprocess.run(
        [sys.executable, "cafe_rt.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_app_refuses_a_short_secret(settings: Settings):
    with (
        pytest.raises(WeakSecret, match="JWT_SECRET is 31 bytes"),
        TestClient(create_app(replace(settings, jwt_secret=SHORT))),
    ):
        pass


def test_32_bytes_are_enough(settings: Settings):
    with TestClient(create_app(replace(settings, jwt_secret="é" * 16))) as client:
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "command",
    [
        ("serve", "--port", "0"),
        ("demo",),
        ("create-company", "Cafe", "--owner-email", "o@x.cafe", "--owner-password", "password-1"),
    ],
)
def test_the_commands_refuse_a_short_secret(tmp_path, command: tuple[str, ...]):
    if command[0] == "serve":
        command = ("serve", "--port", str(free_port()))
    result = run(f"sqlite:///{tmp_path}/cafe.db", *command)
    assert result.returncode != 0
    assert "JWT_SECRET is 31 bytes; it must have at least 32" in result.stderr
    assert "Traceback" not in result.stderr
