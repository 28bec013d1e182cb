"""Chroma client/server mode against a real `chroma run` server on 127.0.0.1.

Ingest and ask work as in embedded mode; app processes whose index folder is empty (stateless
replicas) share the server's index; a server killed or frozen mid-session gives
StoreUnavailableError with the fix, and the same Assistant answers again once it is back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.cli import main
from assistant.errors import StoreUnavailableError
from assistant.ingest import ingest, record_manager
from assistant.knowledge import load_knowledge
from assistant.service import Assistant

from .conftest import make_settings

Q = "Which is better for real-time apps?"
CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run` as a subprocess on 127.0.0.1; stop/start keep the same path and port."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.port = path, port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = path.parent / f"chroma-{self.port}.log"

    def start(self, timeout: float = 30.0) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                          "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test froze it
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def env(self) -> dict[str, str]:
        return {"ASSISTANT_CHROMA_HOST": "127.0.0.1", "ASSISTANT_CHROMA_PORT": str(self.port)}


def _chroma_available() -> None:
    if not CHROMA.exists():
        pytest.skip(f"the chroma CLI is not installed beside {sys.executable} (it comes with the chromadb package)")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    _chroma_available()
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def own_chroma_server(tmp_path):
    """A server this test may kill, freeze and restart."""
    _chroma_available()
    server = ChromaServer(tmp_path / "chroma-data").start()
    yield server
    server.stop()


def server_settings(server: ChromaServer, index_dir: Path, **kw):
    return make_settings(index_dir=index_dir, chroma_host="127.0.0.1", chroma_port=server.port, llm="extractive", **kw)


def _collection_ids(settings) -> list[str]:
    return [d.metadata["chunk_id"] for d in load_knowledge(settings).docs]


@pytest.mark.slow
def test_ingest_and_ask_through_a_server_match_embedded_mode(chroma_server, guide_index, tmp_path):
    embedded_settings, embedded_report = guide_index
    n = embedded_report.chunks
    settings = server_settings(chroma_server, tmp_path / "writer")
    assert settings.store_mode == "server"
    first = ingest(settings)
    assert first.chunks == first.added == n and not first.failures
    again = ingest(settings)
    assert again.embedded == 0 and again.unchanged == n  # incremental against the server too
    # Nothing of Chroma's lives locally in server mode: the record manager and the manifest, plus three caches a reader
    # rebuilds when missing (lexical.npz: chunks + BM25; models/onnx: the query embedding model's ONNX export;
    # sentences.npz: the re-ranker's sentence vectors, embedded on first use without it).
    assert sorted(p.name for p in settings.index_dir.iterdir() if not p.name.startswith(".")) == \
        ["index.json", "lexical.npz", "models", "records.sqlite", "sentences.npz"]

    ids = _collection_ids(settings)
    assert len(ids) == len(set(ids)) == n and set(ids) == set(_collection_ids(embedded_settings))
    served, local = Assistant(settings).ask(Q), Assistant(embedded_settings).ask(Q)
    assert served.text == local.text and served.text.startswith("Node.js wins on Real-Time Apps")
    assert [c.chunk_id for c in served.citations] == [c.chunk_id for c in local.citations]

    rebuilt = ingest(settings, rebuild=True)
    assert rebuilt.added == n and len(_collection_ids(settings)) == n


def _ask_subprocess(server: ChromaServer, index_dir: Path, question: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, **server.env(), "ASSISTANT_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", "ask", question, "--json", "--llm", "extractive"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _answers(procs: list[subprocess.Popen], timeout: float = 180) -> list[dict]:
    out = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert proc.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


@pytest.mark.slow
def test_two_stateless_app_processes_share_the_server_index(chroma_server, corpus_copy, tmp_path, monkeypatch):
    """Replicas need only the Chroma server: their index folders stay empty (no manifest, no records)."""
    writer = server_settings(chroma_server, tmp_path / "writer", corpus_dir=corpus_copy, chunk_tokens=180)
    ingest(writer)
    replicas = [tmp_path / "replica-a", tmp_path / "replica-b"]
    monkeypatch.setenv("ASSISTANT_CHUNK_TOKENS", "180")  # the collection name depends on it
    a, b = _answers([_ask_subprocess(chroma_server, r, Q, tmp_path) for r in replicas])
    assert a["text"] == b["text"] and a["text"].startswith("Node.js wins on Real-Time Apps")
    assert [c["chunk_id"] for c in a["citations"]] == [c["chunk_id"] for c in b["citations"]]

    # The writer adds a document; a replica started afterwards answers from it.
    (corpus_copy / "ops.md").write_text("# Our ops notes\n\nWe run the Zanzibar queue on Node.js workers behind nginx.\n")
    assert ingest(writer).added == 1
    (c,) = _answers([_ask_subprocess(chroma_server, replicas[0], "Where does the Zanzibar queue run?", tmp_path)])
    assert any(cit["source_id"] == "user-ops" for cit in c["citations"]), c

    # In-process replica: the source list comes from the store when there is no local manifest.
    kb = load_knowledge(server_settings(chroma_server, tmp_path / "replica-c", corpus_dir=corpus_copy, chunk_tokens=180))
    assert kb.manifest.get("from_store") and {s["id"] for s in kb.manifest["sources"]} == {"guide", "user-ops"}
    assert "Our ops notes" in kb.source_titles()
    # Nothing written by replicas but the model cache (the ONNX export of the query embedding model, made once)
    written = [p.name for r in replicas if r.exists() for p in r.iterdir() if p.name != "models"]
    assert not written, written


@pytest.mark.slow
def test_a_second_writer_with_its_own_record_manager_adds_no_duplicates(chroma_server, tmp_path):
    """Chunk ids are stable and Chroma upserts: a fresh records.sqlite re-embeds, but never duplicates."""
    first = server_settings(chroma_server, tmp_path / "one", chunk_tokens=220)
    ingest(first)
    second = server_settings(chroma_server, tmp_path / "two", chunk_tokens=220)
    report = ingest(second)
    assert report.added == report.chunks  # it had no records, so it embedded everything again
    ids = _collection_ids(second)
    assert len(ids) == len(set(ids)) == report.chunks
    assert len(record_manager(first).list_keys()) == len(record_manager(second).list_keys()) == report.chunks


@pytest.mark.slow
def test_server_killed_mid_session_gives_clear_error_then_recovers_without_restart(own_chroma_server, tmp_path):
    settings = server_settings(own_chroma_server, tmp_path / "idx")
    ingest(settings)
    bot = Assistant(settings)
    assert bot.ask(Q).citations

    own_chroma_server.proc.kill()
    own_chroma_server.proc.wait(timeout=10)
    for attempt in (lambda: bot.ask(Q), lambda: list(bot.stream("Which is better for AI/ML?"))):
        t = time.perf_counter()
        with pytest.raises(StoreUnavailableError) as info:
            attempt()
        assert time.perf_counter() - t < 15
        assert f"127.0.0.1:{own_chroma_server.port}" in info.value.problem
        assert "chroma run" in info.value.fix and "reconnects" in info.value.fix

    own_chroma_server.start()
    ans = bot.ask(Q)  # the same object, no restart
    assert ans.text.startswith("Node.js wins on Real-Time Apps") and ans.citations


@pytest.mark.slow
def test_frozen_server_times_out_instead_of_hanging(own_chroma_server, tmp_path, monkeypatch):
    import assistant.store

    monkeypatch.setattr(assistant.store, "CHROMA_HTTP_TIMEOUT", (1.0, 2.0))
    settings = server_settings(own_chroma_server, tmp_path / "idx")
    ingest(settings)
    bot = Assistant(settings)
    assert bot.ask(Q).citations
    own_chroma_server.proc.send_signal(signal.SIGSTOP)
    try:
        t = time.perf_counter()
        with pytest.raises(StoreUnavailableError) as info:
            bot.ask(Q)
        assert time.perf_counter() - t < 10
        assert "Timeout" in info.value.problem
    finally:
        own_chroma_server.proc.send_signal(signal.SIGCONT)
    assert bot.ask(Q).citations


@pytest.mark.slow
def test_server_killed_during_ingest_is_a_clear_error_and_the_rerun_completes(own_chroma_server, corpus_copy, tmp_path):
    for i in range(150):  # one chunk each: the first batch of 128 lands, the second fails
        (corpus_copy / f"note-{i:03}.md").write_text(f"# Note {i}\n\nWorker pool sizing note {i} for Node.js and Python services.\n")
    settings = server_settings(own_chroma_server, tmp_path / "idx", corpus_dir=corpus_copy)

    def kill_after_first_batch(docs):
        for n, doc in enumerate(docs):
            if n == 140:  # the first batch of 128 has been upserted by now
                own_chroma_server.proc.kill()
                own_chroma_server.proc.wait(timeout=10)
            yield doc

    with pytest.raises(StoreUnavailableError) as info:
        ingest(settings, progress=kill_after_first_batch)
    assert "chroma run" in info.value.fix
    own_chroma_server.start()
    report = ingest(settings)
    ids = _collection_ids(settings)
    assert len(ids) == len(set(ids)) == report.chunks == len(record_manager(settings).list_keys())


def test_cli_with_no_chroma_server_says_how_to_start_one(tmp_path, monkeypatch, capsys):
    port = free_port()  # nothing listens here
    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("ASSISTANT_CHROMA_PORT", str(port))
    for argv in (["ask", Q, "--llm", "extractive"], ["ingest"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"Chroma server at 127.0.0.1:{port}" in err and "Fix: Start it (chroma run" in err
        assert "Traceback" not in err
