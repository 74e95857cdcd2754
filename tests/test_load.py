"""Bounded load on loopback: every request is answered (result or explicit 429/503), none lost, RSS bounded."""

from __future__ import annotations

import pytest

from golemline.bench.load import run_load
from tests.servers import Server


@pytest.fixture(scope="module")
def server(monolith: Server) -> Server:
    """The session's default server (conftest): RSS is measured from where this test finds it."""
    return monolith


def test_200_requests_at_concurrency_64_are_all_answered(server: Server) -> None:
    report = run_load(server.url, server.process.pid, requests=200, concurrency=64, time_limit_s=300)
    assert report["lost"] == 0, report["statuses"]
    assert report["answered"] == 200, report["statuses"]
    assert set(report["statuses"]) <= {"200", "429", "503"}, report["statuses"]
    assert report["statuses"].get("200", 0) >= 150  # the queue bounds overload; most requests still get results
    assert report["rss_mib"]["max"] - report["rss_mib"]["start"] < 1024, report["rss_mib"]
