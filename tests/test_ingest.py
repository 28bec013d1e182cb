"""Ingest through real Chroma and real embeddings: incremental, idempotent, and tolerant of bad files."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import CorpusError, IndexCorruptError, IndexWriteError, IngestBusyError
from assistant.ingest import ingest, record_manager
from assistant.knowledge import load_knowledge

from .conftest import make_settings

# The guide indexes as 29 passages (18 prose + 11 factor rows) plus the rows' extra vectors
# (multi-vector retrieval): one per line of the guide's prose about a factor ([table.context], 32
# lines) and one per gloss of what a factor means ([table.meaning], 15 phrases).
_TABLE = tomllib.loads((Path(__file__).parents[1] / "corpus" / "guide.toml").read_text())["table"]
EXTRA = sum(map(len, _TABLE["context"].values())) + sum(map(len, _TABLE["meaning"].values()))
GUIDE = 29 + EXTRA


def _store_ids(settings):
    kb = load_knowledge(settings)
    return [d.metadata["chunk_id"] for d in kb.docs]


def test_first_run_counts_and_rerun_embeds_nothing(guide_index):
    settings, first = guide_index
    assert first.chunks == GUIDE and first.added == GUIDE and first.embedded == GUIDE and not first.failures
    assert first.sentences_embedded > GUIDE and first.sentences_seconds > 0  # the re-ranker's, several per chunk
    again = ingest(settings)
    assert again.embedded == 0 and again.unchanged == GUIDE and again.deleted == 0
    assert again.sentences_embedded == 0
    ids = _store_ids(settings)
    assert len(ids) == len(set(ids)) == GUIDE
    assert len(record_manager(settings).list_keys()) == GUIDE


def test_full_corpus_with_related_sources(full_index):
    settings, report = full_index
    assert len(report.sources) == 10 and not report.failures
    assert report.chunks == report.added > 200
    again = ingest(settings)
    assert again.embedded == 0 and again.deleted == 0


def test_edit_reembeds_only_that_file_and_delete_removes_its_chunks(tmp_path, corpus_copy):
    settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx")
    note = corpus_copy / "notes.md"
    note.write_text("# Our notes\n\nWe deploy on Fridays.\n\n## Hiring\n\nWe hire generalists who write TypeScript.\n")
    first = ingest(settings)
    assert first.added == GUIDE + 2
    note.write_text("# Our notes\n\nWe deploy on Mondays now.\n\n## Hiring\n\nWe hire generalists who write TypeScript.\n")
    edited = ingest(settings)
    assert edited.sentences_embedded == 1  # only the edited sentence
    # Only the edited file's chunks are re-embedded (its later chunks too: their spans moved).
    assert edited.added == edited.deleted and 1 <= edited.added <= 2 and edited.unchanged == GUIDE + 2 - edited.added
    note.unlink()
    removed = ingest(settings)
    assert removed.deleted == 2 and removed.added == 0
    ids = _store_ids(settings)
    assert len(ids) == len(set(ids)) == GUIDE and not any(i.startswith("user-notes") for i in ids)


def test_bad_files_are_named_and_skipped_while_the_rest_is_indexed(tmp_path, corpus_copy):
    (corpus_copy / "empty.md").write_text("")
    (corpus_copy / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 50)
    (corpus_copy / "latin1.txt").write_bytes("Caf\xe9 r\xe9sum\xe9 na\xefve".encode("latin-1"))
    (corpus_copy / "huge.md").write_text("# Big\n\n" + "lorem ipsum " * 20_000)
    (corpus_copy / "slides.pdf").write_bytes(b"%PDF-1.4")
    (corpus_copy / "gone.md").symlink_to(tmp_path / "does-not-exist.md")
    (corpus_copy / "good.rst").write_text("Good\n====\n\nA perfectly fine note about Django admin scaffolding.\n")
    settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx", max_file_bytes=100_000)
    report = ingest(settings)
    problems = {f["name"]: f for f in report.failures}
    assert set(problems) == {"empty.md", "binary.txt", "latin1.txt", "huge.md", "slides.pdf", "gone.md"}
    assert "empty" in problems["empty.md"]["problem"]
    assert "binary" in problems["binary.txt"]["problem"]
    assert "UTF-8" in problems["latin1.txt"]["problem"] and "UTF-8" in problems["latin1.txt"]["fix"]
    assert "limit" in problems["huge.md"]["problem"] and "ASSISTANT_MAX_FILE_BYTES" in problems["huge.md"]["fix"]
    assert "unsupported" in problems["slides.pdf"]["problem"]
    assert "cannot be read" in problems["gone.md"]["problem"]
    assert {s["id"] for s in report.sources} == {"guide", "user-good"}
    assert report.chunks == GUIDE + 1


def test_cli_exit_status_zero_with_skips_nonzero_when_nothing_indexed(tmp_path, capsys):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "only.md").write_text("")
    os.environ["ASSISTANT_CORPUS_DIR"] = str(corpus)
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert "Nothing could be indexed" in err and "only.md" in err and "Fix:" in err
    (corpus / "ok.md").write_text("# Ok\n\nSome words about Node.js streams.\n")
    assert main(["ingest", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["chunks"] == 1 and "only.md" in out.err


def test_missing_corpus_dir(tmp_path):
    with pytest.raises(CorpusError) as info:
        ingest(make_settings(corpus_dir=tmp_path / "nope", index_dir=tmp_path / "idx"))
    assert "does not exist" in info.value.problem and "ASSISTANT_CORPUS_DIR" in info.value.fix


def test_unwritable_index_dir_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IndexWriteError) as info:
        ingest(make_settings(index_dir=blocker / "idx"))
    assert str(blocker / "idx") in info.value.problem and "ASSISTANT_INDEX_DIR" in info.value.fix


def test_corrupted_index_gives_rebuild_fix_and_rebuild_recovers(tmp_path, capsys):
    settings = make_settings(index_dir=tmp_path / "idx")
    ingest(settings)
    db = tmp_path / "idx" / "chroma" / "chroma.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexCorruptError) as info:
        load_knowledge(settings)
    assert "assistant ingest --rebuild" in info.value.fix
    os.environ["ASSISTANT_INDEX_DIR"] = str(tmp_path / "idx")
    assert main(["ask", "Which is better for real-time apps?", "--llm", "extractive"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--rebuild" in err
    report = ingest(settings, rebuild=True)
    assert report.added == GUIDE and len(_store_ids(settings)) == GUIDE


def test_second_ingest_while_one_runs_is_refused(tmp_path):
    from filelock import FileLock

    settings = make_settings(index_dir=tmp_path / "idx")
    (tmp_path / "idx").mkdir()
    with FileLock(str(tmp_path / "idx" / ".ingest.lock")):
        with pytest.raises(IngestBusyError):
            ingest(settings)


def test_if_stale_skips_unchanged_and_notices_edits(tmp_path, corpus_copy):
    settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx")
    ingest(settings)
    assert ingest(settings, if_stale=True).skipped_stale_check
    (corpus_copy / "new.md").write_text("# New\n\nA new note on FastAPI.\n")
    report = ingest(settings, if_stale=True)
    assert not report.skipped_stale_check and report.added == 1


def test_unreachable_related_source_is_named_and_rest_ingests(tmp_path, corpus_copy):
    (corpus_copy / "sources.toml").write_text(
        '[[sources]]\nid = "nowhere"\nfile = "nowhere.md"\ntitle = "Nowhere"\nurl = "http://127.0.0.1:9/x"\n'
        'raw_url = "http://127.0.0.1:9/nowhere.md"\nlicense = "MIT"\n')
    report = ingest(make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx"), related=True)
    assert report.failures and report.failures[0]["name"] == "related source nowhere"
    assert "cannot download" in report.failures[0]["problem"] and "--related-dir" in report.failures[0]["fix"]
    assert report.chunks == GUIDE


def test_related_sources_download_over_http_and_are_cached(tmp_path, corpus_copy):
    """A real local HTTP server stands in for the raw URLs."""
    import http.server
    import threading

    from .conftest import require_related

    related = require_related()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(related), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        (corpus_copy / "sources.toml").write_text(
            '[[sources]]\nid = "nodejs-introduction"\nfile = "nodejs-introduction.md"\ntitle = "Introduction to Node.js"\n'
            f'url = "https://nodejs.org/en/learn/getting-started/introduction-to-nodejs"\nraw_url = "http://127.0.0.1:{port}/nodejs-introduction.md"\n'
            'license = "MIT"\n')
        settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx")
        report = ingest(settings, related=True)
        assert not report.failures and any(s["id"] == "nodejs-introduction" for s in report.sources)
    finally:
        server.shutdown()
    # Cached: a second run needs no server.
    again = ingest(settings, related=True, rebuild=True)
    assert not again.failures and any(s["id"] == "nodejs-introduction" for s in again.sources)
