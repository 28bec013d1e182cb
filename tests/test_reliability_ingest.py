"""Index faults: an ingest killed halfway, unwritable/full/read-only index folders, damaged index files.

Each ends in a clear error naming the path and the fix (exit status 2 from the CLI, no traceback),
or in the previous index still being served. Tests run as root, so "read-only" and "full" are
simulated in ways root cannot write through: a path under a regular file, a folder where a file
must go, monkeypatched low-level writes, and (when allowed) a real tiny or read-only tmpfs mount.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import IndexCorruptError, IndexWriteError
from assistant.ingest import ingest, is_stale, record_manager
from assistant.knowledge import load_knowledge
from assistant.service import Assistant

from .conftest import require_related

Q = "Which is better for real-time apps?"


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return status, out.out, out.err


def store_ids(settings) -> list[str]:
    return [d.metadata["chunk_id"] for d in load_knowledge(settings).docs]


@pytest.fixture
def built(guide_index, tmp_path, monkeypatch):
    """A private copy of the session's guide index in tmp_path/idx; ASSISTANT_INDEX_DIR points at it (for the CLI)."""
    from .conftest import make_settings

    shutil.copytree(guide_index[0].index_dir, tmp_path / "idx", ignore=shutil.ignore_patterns(".ingest.lock"))
    settings = make_settings(index_dir=tmp_path / "idx", llm="extractive")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    return settings


# -- ingest killed halfway ----------------------------------------------------------------

def _records(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            return conn.execute("SELECT count(*) FROM upsertion_record").fetchone()[0]
    except sqlite3.Error:  # not created yet, or locked by the writer for a moment
        return -1


@pytest.mark.slow
def test_ingest_killed_halfway_keeps_serving_and_the_next_ingest_completes(tmp_path, corpus_copy, monkeypatch):
    from .conftest import make_settings

    related = require_related()
    settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx", llm="extractive")
    # The previous content: the guide.
    previous = ingest(settings)
    previous_ids = store_ids(settings)
    before = Assistant(settings).ask(Q)
    assert before.citations
    # Next: the related sources and a few hundred new files, several batches of 128.
    settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx", related_dir=related, llm="extractive")
    for i in range(300):
        (corpus_copy / f"gen-{i:03}.md").write_text(
            f"# Generated note {i}\n\nWorker pool note {i}: queue depth {i * 7} and cache hit rate {i % 97} percent "
            f"on the service called svc{i}.\n")
    db = settings.index_dir / "records.sqlite"
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_CORPUS_DIR": str(corpus_copy),
           "ASSISTANT_RELATED_DIR": str(related), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ingest"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        # The first batch has landed once records exist beyond the previous ingest's.
        while _records(db) <= previous.chunks and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the ingest finished before it could be killed: " + proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the first batch never landed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    landed = _records(db)
    assert previous.chunks < landed < previous.chunks + 300 + 200

    # Still served: the previous content still gives the same cited verdict (the batches that landed are
    # searchable too, so a supporting sentence may now come from one of them), every citation resolves.
    kb = load_knowledge(settings)
    after = Assistant(settings, kb=kb).ask(Q)
    assert after.text.split("[")[0] == before.text.split("[")[0] and not after.refused
    assert after.citations[0].chunk_id == before.citations[0].chunk_id  # the same table row
    assert all(c.chunk_id in kb.by_id and c.quote == kb.by_id[c.chunk_id].metadata["quote"] for c in after.citations)
    ids = [d.metadata["chunk_id"] for d in kb.docs]
    assert len(ids) == len(set(ids))
    assert set(previous_ids) <= set(ids)
    assert is_stale(settings, related=True)  # the manifest still describes the previous ingest

    # The next ingest resumes (the landed batch is not embedded again) and completes.
    report = ingest(settings)
    assert not report.failures and len(report.sources) == 1 + 9 + 300
    assert report.unchanged >= landed and report.added == report.chunks - report.unchanged
    ids = store_ids(settings)
    keys = record_manager(settings).list_keys()
    assert len(ids) == len(set(ids)) == len(keys) == report.chunks
    assert set(ids) == set(keys)
    assert not is_stale(settings, related=True)


# -- unwritable, full, read-only ------------------------------------------------------------

def test_cli_ingest_and_ask_under_a_regular_file_name_the_path(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(blocker / "idx"))
    status, _, err = run_cli(["ingest"], capsys)
    assert status == 2 and str(blocker / "idx") in err and "cannot be written" in err
    assert "Fix:" in err and "ASSISTANT_INDEX_DIR" in err
    status, _, err = run_cli(["ask", Q, "--llm", "extractive"], capsys)
    assert status == 2 and str(blocker / "idx") in err and "assistant ingest" in err


def test_cli_ingest_with_a_file_where_the_chroma_folder_goes(tmp_path, monkeypatch, capsys):
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "chroma").write_text("not a folder")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(idx))
    status, _, err = run_cli(["ingest"], capsys)
    assert status == 2 and str(idx / "chroma") in err and "Remove or rename" in err


def test_manifest_that_cannot_be_written_fails_clearly_and_the_index_still_serves(built, corpus_copy, monkeypatch, capsys):
    (built.index_dir / "index.tmp").mkdir()  # where the manifest is written first: now a folder
    (corpus_copy / "note.md").write_text("# Note\n\nWe use Celery for background jobs.\n")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus_copy))
    status, _, err = run_cli(["ingest"], capsys)
    assert status == 2 and str(built.index_dir) in err and "Free disk space" in err
    status, out, _ = run_cli(["ask", Q, "--llm", "extractive"], capsys)
    assert status == 0 and out.startswith("Node.js wins on Real-Time Apps")


def test_disk_full_while_writing_records_is_an_index_write_error(built, guide_index, corpus_copy, monkeypatch, capsys):
    import sqlalchemy.exc
    from langchain_classic.indexes import SQLRecordManager

    disk = {"full": True}
    real_update = SQLRecordManager.update

    def update(self, *a, **k):
        if disk["full"]:
            raise sqlalchemy.exc.OperationalError("INSERT INTO upsert_record", {},
                                                  sqlite3.OperationalError("database or disk is full"))
        return real_update(self, *a, **k)

    monkeypatch.setattr(SQLRecordManager, "update", update)
    (corpus_copy / "note.md").write_text("# Note\n\nWe use Celery for background jobs.\n")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus_copy))
    status, _, err = run_cli(["ingest"], capsys)
    assert status == 2 and str(built.index_dir) in err and "disk is full" in err and "Free disk space" in err
    disk["full"] = False
    status, out, _ = run_cli(["ingest"], capsys)  # space freed: the rerun completes
    assert status == 0 and f"{guide_index[1].chunks + 1} chunks" in out


def test_full_or_read_only_disk_when_opening_is_not_called_corruption(built, monkeypatch, capsys):
    """Chroma writes even to read; SQLITE_FULL/READONLY on open must not advise deleting a good index."""
    import chromadb
    from chromadb.errors import InternalError

    for message in ("error returned from database: (code: 13) database or disk is full",
                    "error returned from database: (code: 8) attempt to write a readonly database"):
        def refuse(*a, _m=message, **k):
            raise InternalError(_m)

        monkeypatch.setattr(chromadb, "PersistentClient", refuse)
        status, _, err = run_cli(["ask", Q, "--llm", "extractive"], capsys)
        assert status == 2 and str(built.index_dir / "chroma") in err and "full or read-only" in err
        assert "--rebuild" not in err and "Free disk space" in err


def _mount(target: Path, *args: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting needs root; the monkeypatched tests cover these faults")
    res = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount here ({res.stderr.strip() or res.returncode}); the monkeypatched tests cover it")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.mark.slow
def test_real_full_disk_and_read_only_mount(tmp_path, monkeypatch, capsys):
    """A real 256 KiB tmpfs fills during ingest; a good index behind a real read-only bind mount."""
    mnt = tmp_path / "tiny"
    _mount(mnt, "-t", "tmpfs", "-o", "size=256k", "tmpfs")
    try:
        monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(mnt / "idx"))
        status, _, err = run_cli(["ingest"], capsys)
        assert status == 2 and str(mnt / "idx") in err and "Free disk space" in err
        assert "disk is full" in err or "No space left" in err
    finally:
        _umount(mnt)

    # A good index seen through a read-only bind mount (as a read-only volume would be).
    src, ro = tmp_path / "good", tmp_path / "ro"
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(src))
    assert run_cli(["ingest"], capsys)[0] == 0
    _mount(ro, "--bind", str(src))
    try:
        res = subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot remount read-only: {res.stderr.strip()}")
        monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(ro))
        status, _, err = run_cli(["ask", Q, "--llm", "extractive"], capsys)
        assert status == 2 and str(ro / "chroma") in err and "read-only" in err and "--rebuild" not in err
        status, _, err = run_cli(["ingest"], capsys)
        assert status == 2 and str(ro) in err and "Read-only file system" in err
    finally:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        _umount(ro)


# -- damaged index files ---------------------------------------------------------------------

def test_damaged_record_manager_names_the_file_and_rebuild_recovers(built, guide_index, capsys):
    db = built.index_dir / "records.sqlite"
    db.write_bytes(b"garbage, not sqlite " * 200)
    status, _, err = run_cli(["ingest"], capsys)
    assert status == 2 and str(db) in err and "assistant ingest --rebuild" in err
    status, out, _ = run_cli(["ingest", "--rebuild"], capsys)
    assert status == 0 and f"{guide_index[1].chunks} added" in out
    assert run_cli(["ask", Q, "--llm", "extractive"], capsys)[0] == 0


def test_damaged_manifest_names_the_file_and_rebuild_recovers(built, capsys):
    manifest = built.index_dir / "index.json"
    manifest.write_text('{"collection": "stack-')  # cut off mid-write
    status, _, err = run_cli(["ask", Q, "--llm", "extractive"], capsys)
    assert status == 2 and str(manifest) in err and "assistant ingest --rebuild" in err
    assert run_cli(["ingest", "--rebuild"], capsys)[0] == 0
    assert run_cli(["ask", Q, "--llm", "extractive"], capsys)[0] == 0


def test_truncated_chroma_database_names_the_path_and_rebuild_recovers(built, capsys):
    db = built.index_dir / "chroma" / "chroma.sqlite3"
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 3)
    status, _, err = run_cli(["ask", Q, "--llm", "extractive"], capsys)
    assert status == 2 and str(built.index_dir / "chroma") in err and "assistant ingest --rebuild" in err
    assert run_cli(["ingest", "--rebuild"], capsys)[0] == 0
    assert run_cli(["ask", Q, "--llm", "extractive"], capsys)[0] == 0


def test_emptied_chroma_database_is_reported_and_a_plain_ingest_repairs_it(built, guide_index, capsys):
    """The record manager still lists every chunk; the next ingest must not skip them as unchanged."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    (built.index_dir / "chroma" / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(IndexCorruptError) as info:
        load_knowledge(built)
    assert "lost its chunks" in info.value.problem and "--rebuild" in info.value.fix
    status, out, _ = run_cli(["ingest"], capsys)
    n = guide_index[1].chunks
    assert status == 0 and f"{n} added" in out
    assert len(store_ids(built)) == n and len(record_manager(built).list_keys()) == n


def test_write_errors_keep_their_cause_for_debugging(tmp_path):
    """ASSISTANT_DEBUG=1 shows the traceback: the library error chains the original."""
    from .conftest import make_settings

    blocker = tmp_path / "f"
    blocker.write_text("x")
    with pytest.raises(IndexWriteError) as info:
        ingest(make_settings(index_dir=blocker / "idx"))
    assert isinstance(info.value.__cause__, OSError)
