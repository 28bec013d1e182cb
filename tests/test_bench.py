"""Smoke tests of the benchmark code (bench/) on tiny sizes: the output's structure, never its timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS, REPO, require_related

sys.path.insert(0, str(REPO))  # bench/ is not an installed package

from bench import report, synth  # noqa: E402
from bench.run import TINY, run  # noqa: E402


def test_synthetic_corpus_is_deterministic_and_near_its_target(tmp_path):
    related = require_related()
    a = synth.write_corpus(tmp_path / "a", 120, CORPUS, related)
    b = synth.write_corpus(tmp_path / "b", 120, CORPUS, related)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and a == b
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a)
    assert not (tmp_path / "a" / "sources.toml").exists() and a["files"] >= 1
    original = next(related.glob("*.md")).read_text()
    variant = (tmp_path / "a" / "synthetic" / "v0000" / next(related.glob("*.md")).name)
    if variant.exists():
        text = variant.read_text()
        assert text != original and len(text) == len(original)  # same-length word swaps


def test_perturbed_vectors_are_unit_length_and_seeded():
    import numpy as np

    base = np.eye(4, 8, dtype=np.float32)
    v1, v2 = synth.perturbed_vectors(base, 10, start=3), synth.perturbed_vectors(base, 10, start=3)
    assert v1.shape == (10, 8) and np.allclose(v1, v2) and np.allclose(np.linalg.norm(v1, axis=1), 1.0, atol=1e-5)


def test_tiny_run_writes_results_markdown_and_chart(tmp_path):
    require_related()
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\n## Load test\n\nHand-written load test figures.\n\n## Other\n")
    results = run(TINY, tmp_path / "out", md, log=lambda _m: None)
    failed = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    assert not failed, failed
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["profile"] == "tiny" and saved["machine"]["cpus"]
    corpus = saved["ingestion"]["corpora"][0]
    assert {"chunks", "chunks_per_s", "raw_chunks_per_s", "ratio_to_raw", "breakdown_s"} <= set(corpus)
    assert saved["ingestion"]["reingest_command"]["embedded"] == 0
    assert saved["ingestion"]["reingest_in_process"]["embedded"] == 0
    for side in ("hybrid", "dense_raw"):
        assert {"p50_ms", "p95_ms", "n"} <= set(saved["retrieval"][side])
    assert saved["answers"]["extractive"]["total"]["n"] > 0
    kinds = [r["kind"] for r in saved["scale"]["rows"]]
    assert kinds == ["measured", "projected"]
    projected = saved["scale"]["rows"][1]
    assert projected["ingest"]["ingest_s_extrapolated"] > 0 and projected["index_mb"] > 0
    assert {t["name"] for t in saved["targets"]} and all("met" in t for t in saved["targets"])
    text = md.read_text()
    for heading in ("## Targets", "## Ingestion", "## Scale", "## Retrieval", "## Answers", "## Start-up and memory",
                    "## Peer row", "## Load test"):
        assert heading in text
    assert "Hand-written load test figures." in text  # the merged load-test section survives regeneration
    assert (tmp_path / "out" / report.CHART).stat().st_size > 1000


def test_report_renders_llm_startup_and_peer_rows(tmp_path):
    """The sections a tiny run skips, from a hand-made results dict."""
    side = {"ttft_p50_s": 4.0, "total_p50_s": 20.0, "tokens_per_s_p50": 10.0, "tokens_p50": 150}
    results = {
        "profile": "full", "date": "today", "total_s": 600, "machine": {"cpus": 2, "cpu": "x", "load_avg_start": [0.1]},
        "answers": {"extractive": {"total": {"n": 3, "p50_ms": 20.0, "p95_ms": 30.0}, "retrieve": {"p50_ms": 10.0},
                                   "questions": 3, "refused_share": 0.0},
                    "llm": [{"engine": "local:qwen-1.5b", "ours": side, "anchor": side, "ratio_ttft": 1.01, "ratio_total": 1.02,
                             "ratio_tokens_per_s": 0.99, "ratio_same_work": 1.01, "complete_pairs": 3, "stopped_early": 0,
                             "prompt_tokens_p50": 1200, "runs": 3, "same_output": 3,
                             "fallbacks": 0, "params": {"n_ctx": 4096}},
                            {"engine": "local:qwen-0.5b", "skipped": "not installed"}]},
        "startup": {"rows": [{"engine": "extractive", "http_200_s": 5.0, "first_answer_s": 9.0, "rss_at_http_200_mb": 500,
                              "peak_rss_mb": 900, "runs": 3, "max_tokens": 48}]},
        "peer": {"pipeline": "naive", "chunks": 100, "build_s": 3.0, "retrieve_top4": {"p50_ms": 8.0, "p95_ms": 9.0},
                 "answer_extractive": {"p50_ms": 9.0, "p95_ms": 10.0}},
        "notes": ["a note"],
    }
    from bench import targets

    results["targets"] = targets.check(results)
    names = {t["name"] for t in results["targets"]}
    assert "Local 1.5B time to first token" in names and "UI ready (process start to HTTP 200, with an index)" in names
    # Sections written by hand (llama.cpp builds, the model comparison) survive a regenerated report.
    (tmp_path / "BENCHMARKS.md").write_text("# old\n\n## llama.cpp builds\nbuild table\n\n## Models\nmodel table\n")
    paths = report.write_all(results, tmp_path, tmp_path / "BENCHMARKS.md")
    text = Path(paths["markdown"]).read_text()
    assert "local:qwen-1.5b" in text and "not installed" in text and "naive" in text and "## Load test" in text
    assert "## llama.cpp builds\nbuild table" in text and "## Models\nmodel table" in text
    assert paths["chart"] is None  # no scale rows, no chart


def test_bench_command_is_registered():
    from assistant.cli import build_parser

    args = build_parser().parse_args(["bench", "--quick", "--out", "x"])
    assert args.quick and args.out == Path("x") and callable(args.func)


@pytest.mark.parametrize("name", ["full", "quick"])
def test_profiles_cover_every_section(name):
    from bench.run import PROFILES

    p = PROFILES[name]
    assert p.scale_measured and p.scale_projected and p.llm_models and p.startup_engines
    # the full run measures each scale step's peak RSS in its own process; LLM runs are always isolated
    assert p.isolate_scale == (name == "full")
