"""The benchmarks, small: nothing lost under load and reconnects; stalled sockets closed, readers unharmed;
the speed benchmark runs every section against cafe_rt and the limit server."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import require_redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import loss  # noqa: E402  (bench/ is not a package)
import revocation  # noqa: E402
import speed  # noqa: E402
import stalled  # noqa: E402


def test_nothing_is_lost_duplicated_or_reordered(capsys):
    if shutil.which("redis-server") is None:
        require_redis()
        pytest.skip("redis-server is not installed")
    assert loss.main(["--sockets", "12", "--sse", "0.34", "--writes", "150", "--settle", "30"]) == 0
    out = capsys.readouterr().out
    assert "12 clients (4 server-sent event streams)" in out and "lost 0, duplicated 0, out of order 0" in out


def test_stalled_sockets_are_closed_and_the_readers_lose_nothing(capsys):
    assert stalled.main(["--sockets", "3", "--stalled", "2", "--writes", "220", "--rate", "100", "--queue", "20"]) == 0
    assert "stalled sockets closed with 4008: 2 of 2" in capsys.readouterr().out


def test_the_revocation_check_is_measured(capsys):
    assert revocation.main(["--rounds", "20"]) == 0
    out = capsys.readouterr().out
    assert "SQLite: decode only" in out and "the check alone adds" in out


def test_speed_runs_every_section_and_loses_nothing(capsys):
    argv = ["--orders", "40", "--sockets", "20", "--rate", "20", "--seconds", "1", "--sat-seconds", "1"]
    assert speed.main([*argv, "--idle", "30", "--settle", "30"]) == 0
    out = capsys.readouterr().out
    sections = [json.loads(line)["section"] for line in out.splitlines() if line.startswith("{")]
    assert sections == [
        "writes",
        *["rate", "saturation"] * 2,
        "writes",
        "rate",
        "saturation",
        "connect",
        "connect",
        "connect",
    ]
    targets = [json.loads(line)["target"] for line in out.splitlines() if line.startswith("{")]
    assert targets[1:5] == ["cafe_rt", "cafe_rt", "cafe_rt sse", "cafe_rt sse"]
    rows = [line for line in out.splitlines() if line.startswith("| SQLite: server CPU per order / the write")]
    assert rows and "not measured" not in rows[0]
    assert out.splitlines()[-1].startswith("speed: orders/s ")
    assert out.splitlines()[-1].endswith("| lost 0")
