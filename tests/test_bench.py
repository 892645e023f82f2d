"""The loss benchmark, small: sockets, writes, resumes and a Redis restart, and nothing lost."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import require_redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import loss  # noqa: E402  (bench/ is not a package)


def test_nothing_is_lost_duplicated_or_reordered(capsys):
    if shutil.which("redis-server") is None:
        require_redis()
        pytest.skip("redis-server is not installed")
    assert loss.main(["--sockets", "12", "--writes", "150", "--settle", "30"]) == 0
    assert "lost 0, duplicated 0, out of order 0" in capsys.readouterr().out
