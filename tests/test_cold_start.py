"""Cold start: what each command imports, the compact BM25 file (used when it matches the store, rebuilt with
a log line when it does not, never a different answer), and the cold-start benchmark section."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import lexical
from assistant.knowledge import load_knowledge, search_text

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("assistant.chain", "assistant.service", "assistant.knowledge", "chromadb", "langchain_chroma", "onnxruntime",
         "torch", "transformers", "sentence_transformers", "gradio")
QUESTIONS = ["Which is better for real-time apps?", "How does Django protect against CSRF?",
             "Which is better for AI/ML?", "What blocks the event loop?"]

IMPORTS_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from assistant.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
heavy = [m for m in HEAVY if m in sys.modules]
print(json.dumps({"rc": rc, "heavy": heavy, "s": time.perf_counter() - t0}), file=sys.stderr)
"""


def _child_env(settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_INDEX_DIR=str(settings.index_dir), ASSISTANT_CORPUS_DIR=str(settings.corpus_dir),
               PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    return env


@pytest.mark.parametrize("argv", [["--help"], ["status"], ["engines"], ["ask", "--help"]])
def test_help_status_and_engines_import_no_chain_store_or_model(guide_index, argv):
    settings, _ = guide_index
    code = f"HEAVY = {HEAVY!r}\n{IMPORTS_CHILD}"
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *argv], env=_child_env(settings), capture_output=True, text=True,
                         timeout=60, cwd=settings.index_dir)
    wall = time.perf_counter() - t0
    result = json.loads(out.stderr.strip().splitlines()[-1])
    print(f"\nassistant {' '.join(argv)}: {wall:.2f} s wall, {result['s']:.2f} s in main")
    assert result["rc"] == 0, out.stderr[-1500:]
    assert result["heavy"] == []


def test_the_assistant_process_prints_the_whole_answer_and_exits_cleanly(guide_index):
    """`assistant ask` ends without the interpreter's teardown: the output must still be complete."""
    settings, _ = guide_index
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", QUESTIONS[0], "--llm", "extractive"],
                         env=_child_env(settings), capture_output=True, text=True, timeout=120, cwd=settings.index_dir)
    print(f"\ncold assistant ask: {time.perf_counter() - t0:.2f} s")
    assert out.returncode == 0, out.stderr[-1500:]
    assert "[1]" in out.stdout and "Sources:" in out.stdout and out.stdout.rstrip().endswith("ms)")
    piped = subprocess.run(f"{sys.executable} -m assistant.cli ask - --json --llm extractive | head -c 40",
                           shell=True, input="\n".join(QUESTIONS * 5), env=_child_env(settings), capture_output=True,
                           text=True, timeout=120, cwd=settings.index_dir)
    assert piped.stdout.startswith('{"question"') and "Traceback" not in piped.stderr


def test_ingest_writes_the_lexical_file_and_load_uses_it(guide_index, caplog):
    settings, report = guide_index
    path = lexical.lexical_path(settings.index_dir)
    assert path.is_file()
    with caplog.at_level(logging.INFO, logger="assistant.index"):
        kb = load_knowledge(settings)
    assert not [r for r in caplog.records if "Rebuilding the BM25" in r.getMessage()]
    assert len(kb.docs) == report.chunks
    # The same chunks, order and metadata as the store holds, and the same BM25 scores as one built from them.
    from assistant.knowledge import _store_docs

    stored = _store_docs(kb.store)
    assert [(d.id, d.page_content, d.metadata) for d in kb.docs] == [(d.id, d.page_content, d.metadata) for d in stored]
    rebuilt = lexical.build_bm25(stored, search_text)
    from assistant.text import tokens

    assert isinstance(kb.bm25, lexical.CompactBM25)  # scored without importing bm25s
    cases = [json.loads(line)["question"] for line in (REPO / "eval" / "cases.jsonl").read_text().splitlines() if line]
    for q in QUESTIONS + cases:
        toks = [t for t in tokens(q) if t in rebuilt.vocab_dict]
        for k in (1, 10, 20):
            a = kb.bm25.retrieve([toks], k=k, show_progress=False, n_threads=0)
            b = rebuilt.retrieve([toks], k=k, show_progress=False, n_threads=0)
            assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist(), q


@pytest.fixture
def index_copy(guide_index, tmp_path):
    """A private copy of the guide index (Chroma folder, manifest, lexical file, ONNX export)."""
    settings, _ = guide_index
    dest = tmp_path / "index-copy"
    shutil.copytree(settings.index_dir, dest, ignore=shutil.ignore_patterns(".ingest.lock", "*.lock"))
    return settings.model_copy(update={"index_dir": dest})


def _answers(settings) -> list[tuple]:
    from assistant.service import Assistant

    assistant = Assistant(settings)
    out = []
    for q in QUESTIONS:
        a = assistant.ask(q, llm="extractive")
        out.append((a.text, [(p.chunk_id, p.fused_score) for p in a.passages]))
    return out


def _break_stale(settings) -> None:
    kb = load_knowledge(settings)
    fewer = lexical.Lexical(kb.docs[:-1], lexical.build_bm25(kb.docs[:-1], search_text))
    lexical.save(lexical.lexical_path(settings.index_dir), kb.manifest["collection"], fewer)


def _break_corrupt(settings) -> None:
    lexical.lexical_path(settings.index_dir).write_bytes(b"PK\x03\x04 this is not a zip")


def _break_truncated(settings) -> None:
    path = lexical.lexical_path(settings.index_dir)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _break_tokenizer(settings) -> None:
    kb = load_knowledge(settings)
    real = lexical.TOKENIZER_PROBE
    lexical.TOKENIZER_PROBE = "a different tokenizer wrote this"  # as if text.tokens had changed since
    try:
        lexical.save(lexical.lexical_path(settings.index_dir), kb.manifest["collection"], lexical.Lexical(kb.docs, kb.bm25))
    finally:
        lexical.TOKENIZER_PROBE = real


def _break_missing(settings) -> None:
    lexical.lexical_path(settings.index_dir).unlink()


@pytest.mark.parametrize("damage,reason", [(_break_stale, "stale"), (_break_corrupt, "damaged"),
                                           (_break_truncated, "damaged"), (_break_tokenizer, "tokenizer"),
                                           (_break_missing, "does not exist")])
def test_a_bad_lexical_file_is_rebuilt_from_the_store_with_a_log_line(index_copy, caplog, damage, reason):
    before = _answers(index_copy)
    damage(index_copy)
    with caplog.at_level(logging.INFO, logger="assistant.index"):
        after = _answers(index_copy)
    logged = [r.getMessage() for r in caplog.records if "Rebuilding the BM25" in r.getMessage()]
    assert logged and reason in logged[0]
    assert after == before  # never a wrong answer
    kb = load_knowledge(index_copy)  # the file was rewritten and now matches
    cached, why = lexical.load(lexical.lexical_path(index_copy.index_dir), kb.manifest["collection"], [d.id for d in kb.docs])
    assert cached is not None, why


def test_an_unwritable_index_folder_still_answers(index_copy, caplog):
    lexical.lexical_path(index_copy.index_dir).unlink()
    blocker = lexical.lexical_path(index_copy.index_dir)
    blocker.mkdir()  # a folder where the file should go: the write fails, the answer must not
    with caplog.at_level(logging.WARNING, logger="assistant.index"):
        kb = load_knowledge(index_copy)
    assert kb.bm25 is not None and len(kb.docs) > 50
    assert any("Cannot write" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_cold_start_benchmark_section_from_real_processes(guide_index):
    from bench.coldstart import run_coldstart, section

    settings, _ = guide_index
    cold = run_coldstart(settings.index_dir, settings.corpus_dir, repeats=1, app=False, bulk=False, log=lambda m: None)
    text = section(cold)
    print("\n" + text)
    assert cold["ask"]["wall_s"] > cold["help"]["wall_s"] > 0
    assert cold["ask"]["peak_rss_mb"] > cold["encode"]["peak_rss_mb"] > 0
    assert "| `assistant ask` wall time |" in text and f"{cold['ask']['wall_s']:.2f} s" in text


UI_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import httpx
from assistant.config import load_settings
from assistant.ui.app import create_app
from assistant.ui.server import launch

settings = load_settings(port=int(sys.argv[1]), llm="extractive")
demo = create_app(settings)
heavy_before_serving = [m for m in HEAVY if m in sys.modules and m != "gradio"]
launch(settings, demo=demo, block=False, quiet=True)
page = httpx.get(f"http://127.0.0.1:{sys.argv[1]}/", timeout=30).status_code
t_page = time.perf_counter() - t0
ready = demo.runtime.wait(120)
answer = demo.runtime.get().ask("Which is better for real-time apps?")
print(json.dumps({"heavy": heavy_before_serving, "page": page, "page_s": t_page, "ready": ready,
                  "ready_s": demo.runtime.ready_s, "cited": len(answer.citations)}))
sys.stdout.flush()
import os
os._exit(0)
"""


@pytest.mark.slow
def test_the_page_is_served_before_the_chain_store_or_model_load(guide_index):
    from bench.startup import free_port

    settings, _ = guide_index
    code = f"HEAVY = {HEAVY!r}\n{UI_CHILD}"
    out = subprocess.run([sys.executable, "-c", code, str(free_port())], env=_child_env(settings), capture_output=True,
                         text=True, timeout=240, cwd=settings.index_dir)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\npage served {result['page_s']:.1f} s after start; background load {result['ready_s']:.1f} s")
    assert result["heavy"] == []  # the Blocks are built and served before LangChain's chain, Chroma or ONNX load
    assert result["page"] == 200 and result["ready"] and result["cited"] >= 1
