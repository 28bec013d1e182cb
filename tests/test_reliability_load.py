"""A shorter run of bench/load_test.py: 50 concurrent chat sessions for 15 s over HTTP (gradio_client),
extractive engine, against `assistant serve` in a child process on 127.0.0.1. No errors, and the
server's memory, threads and open files stay bounded. BENCHMARKS.md ("Load test") has the 60-second figures."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def _load_test_module():
    spec = importlib.util.spec_from_file_location("load_test", REPO / "bench" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_fifty_sessions_for_fifteen_seconds_without_errors_or_growth(full_index, tmp_path):
    pytest.importorskip("gradio_client", reason="the load test drives the UI with gradio_client (dev extra)")
    lt = _load_test_module()
    index = tmp_path / "index"
    shutil.copytree(full_index[0].index_dir, index, ignore=shutil.ignore_patterns(".ingest.lock"))
    server = lt.Server(index, tmp_path / "server.log", env={"ASSISTANT_CORPUS_DIR": str(full_index[0].corpus_dir)})
    server.start(timeout=300)
    try:
        fig = lt.run_load(server.url, clients=50, duration=15, turns=4, request_timeout=60, pid=server.pid)
    finally:
        server.stop()
    lt.print_figures(fig)
    assert fig["errors"] == 0, fig["error_kinds"]
    assert fig["ok"] >= 50 and fig["sessions"] >= 50  # every client got answers
    assert fig["latency_ms"]["max"] < 60_000
    before, settled = fig["server_before"], fig["server_settled"]
    if before:  # /proc (or psutil) available
        assert settled["rss_mb"] - before["rss_mb"] < 300, fig["rss_mb"]
        assert settled["threads"] <= before["threads"] + 30
        assert settled["fds"] <= before["fds"] + 120
