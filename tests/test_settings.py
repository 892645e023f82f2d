"""core/settings.py: one Settings, read from the environment by field name, and documented in the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from core.settings import Settings, WeakSecret

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_each_field_is_read_from_its_name_in_capitals():
    settings = Settings.from_environ(
        {
            "DATABASE_URL": "postgresql://db/cafe",
            "SEND_QUEUE_SIZE": "7",
            "SOCKET_RATE": "2.5",
            "ALLOWED_HOSTS": "cafe.example.com, localhost",
            "METRICS_TOKEN": "t",
        }
    )
    assert settings.database_url == "postgresql://db/cafe"
    assert settings.send_queue_size == 7 and settings.socket_rate == 2.5
    assert settings.allowed_hosts == ("cafe.example.com", "localhost")
    assert settings.metrics_token == "t"
    assert Settings.from_environ({}) == Settings()


def test_the_broker_defaults_to_redis_url_and_broadcast_url_wins():
    assert Settings.from_environ({"REDIS_URL": "redis://r:6379"}).broadcast_url == "redis://r:6379"
    given = {"REDIS_URL": "redis://r:6379", "BROADCAST_URL": "postgres://p/db"}
    assert Settings.from_environ(given).broadcast_url == "postgres://p/db"


def test_a_value_of_the_wrong_type_names_its_variable():
    with pytest.raises(ValueError, match="SEND_QUEUE_SIZE='many' is not a whole number"):
        Settings.from_environ({"SEND_QUEUE_SIZE": "many"})
    with pytest.raises(ValueError, match="SOCKET_RATE='fast' is not a number"):
        Settings.from_environ({"SOCKET_RATE": "fast"})


def test_check_refuses_a_short_secret_and_an_unknown_expiry_rule():
    with pytest.raises(WeakSecret, match="JWT_SECRET is 31 bytes"):
        Settings(jwt_secret="s" * 31).check()
    with pytest.raises(ValueError, match="SOCKET_TOKEN_EXPIRY must be keep or close"):
        Settings(socket_token_expiry="sometimes").check()
    Settings(jwt_secret="s" * 32).check()


def test_the_readme_documents_every_setting_and_no_other():
    section = README.read_text().split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}
    read_elsewhere = {"REDIS_URL", "PORT", "PROMETHEUS_MULTIPROC_DIR"}
    assert documented - read_elsewhere == {setting.name.upper() for setting in fields(Settings)}


@pytest.mark.parametrize("command", [("migrate",), ("serve", "--port", "0"), ("demo",)])
def test_a_command_refuses_a_bad_value_in_one_line(tmp_path, command: tuple[str, ...]):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cafe.db", "SEND_QUEUE_SIZE": "lots"}
    result = subprocess.run(
        [sys.executable, "cafe_rt.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "cafe_rt: SEND_QUEUE_SIZE='lots' is not a whole number" in result.stderr
    assert "Traceback" not in result.stderr
