"""The eval harness on the real index (guide + related docs): the extractive engine must pass the
gate of eval/thresholds.toml on every CI run; the local engine's eval runs as a slow report."""

from __future__ import annotations

import importlib.util
import json

import pytest

from assistant.evaluation.gate import check_gate, load_thresholds
from assistant.evaluation.report import summary_table, write_chart, write_json, write_markdown
from assistant.evaluation.runner import DEFAULT_CASES, evaluate

THRESHOLDS = DEFAULT_CASES.parent / "thresholds.toml"
GATED = ("hit@3", "winner", "table_consistency", "citation_validity", "refusal")  # per-case views of the gated aggregates


@pytest.fixture(scope="session")
def extractive_report(full_index):
    settings, _report = full_index
    return evaluate(settings, ["extractive"])


def test_extractive_engine_passes_the_gate(extractive_report):
    failures = check_gate(extractive_report, load_thresholds(THRESHOLDS))
    ours = next(r for r in extractive_report["runs"] if r["pipeline"] == "ours")
    failing = []
    for r in ours["records"]:
        gated = [m for m in GATED if r["passed"].get(m) is False and (m != "hit@3" or r["gold_winner"])]
        if gated:
            failing.append(f"{r['case_id']}: {', '.join(gated)} :: {' '.join(r['answer'].split())[:160]}")
    assert not failures, "\n".join(failures + ["cases failing a gated metric:"] + failing)


def test_every_case_runs_and_ours_beats_the_naive_baseline(extractive_report):
    runs = {r["pipeline"]: r for r in extractive_report["runs"]}
    assert set(runs) == {"ours", "naive"} and not extractive_report["metadata"]["skipped_cases"]
    ours, naive = runs["ours"]["aggregates"], runs["naive"]["aggregates"]
    assert ours["cases"] == naive["cases"] == 103 and ours["errors"] == 0
    for metric in ("hit_at_3", "winner_accuracy", "must_include_recall", "citation_recall"):
        assert ours[metric]["value"] > naive[metric]["value"], metric
    assert ours["false_answer_rate"]["value"] < naive["false_answer_rate"]["value"]
    rec = runs["ours"]["records"][0]
    assert {"retrieved_ids", "answer", "predicted_winner", "passed", "latency_ms"} <= set(rec)
    assert len(rec["retrieved_ids"]) == 10


def test_report_files(extractive_report, tmp_path):
    write_json(extractive_report, tmp_path / "report.json")
    write_chart(extractive_report, tmp_path / "report.png")
    write_markdown(extractive_report, tmp_path / "report.md", chart="report.png", gate=[])
    meta = json.loads((tmp_path / "report.json").read_text())["metadata"]
    assert len(meta["corpus_sha256"]) == 64 and meta["settings"]["k"] and "auth" not in meta["settings"]
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text()
    assert "## Headline: ours vs naive" in md and "extractive · naive" in md and "## Winner accuracy per factor" in md
    assert "extractive · ours" in summary_table(extractive_report)


def test_cli_eval_writes_the_report_and_gates(full_index, tmp_path, monkeypatch):
    from assistant.cli import main

    settings, _ = full_index
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    thresholds = tmp_path / "t.toml"
    thresholds.write_text('[extractive]\nwinner_accuracy = { min = 1.01 }\n')
    code = main(["eval", "--llm", "extractive", "--types", "winner", "--limit", "1", "--no-naive", "--quiet",
                 "--related-dir", str(settings.related_dir), "--out", str(tmp_path / "out"), "--gate",
                 "--thresholds", str(thresholds)])
    assert code == 1  # nothing reaches 1.01
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["gate"]["failures"] == [f"extractive: winner_accuracy = {report['runs'][0]['aggregates']['winner_accuracy']['value']:.3f} < 1.01"]
    assert [r["engine"] for r in report["runs"]] == ["extractive"] and report["runs"][0]["aggregates"]["cases"] == 1


@pytest.mark.slow
def test_local_engine_eval_report(full_index, tmp_path):
    """The local model (temperature 0) on the first two cases of each type, ours and naive; gated at
    the bar of eval/thresholds.toml's local section."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not installed (make install-local)")
    from assistant.engines import local_status

    ok, why = local_status()
    if not ok:
        pytest.skip(f"the local model is not installed: {why}")
    settings = full_index[0].model_copy(update={"llm_timeout": 300.0})  # a busy CI machine must not turn into fallbacks
    report = evaluate(settings, ["local:qwen-0.5b"], limits={"local:qwen-0.5b": 2})
    write_markdown(report, tmp_path / "report.md")
    ours = next(r for r in report["runs"] if r["pipeline"] == "ours")
    assert ours["aggregates"]["cases"] == 14
    assert ours["aggregates"]["alce_citation_recall"]["n"] > 0  # the sentence-support gates are not met vacuously
    failures = check_gate(report, load_thresholds(THRESHOLDS))
    assert not failures, "\n".join(failures)


REAL_DEV = DEFAULT_CASES.parent / "real_dev.jsonl"
REAL_DEV2 = DEFAULT_CASES.parent / "real_dev2.jsonl"
REAL_DEV3 = DEFAULT_CASES.parent / "real_dev3.jsonl"
REAL_DEV4 = DEFAULT_CASES.parent / "real_dev4.jsonl"
REAL_DEV5 = DEFAULT_CASES.parent / "real_dev5.jsonl"
# Issue #12: share of answers that are right as a founder judges them (eval/README.md, "Correct"),
# extractive engine, on the two tuning sets of real questions. real_dev: 10/41 before the question
# plan, 15/41 after, 18/41 after the second pass, 19/41 after the fourth. real_dev2 (the first held-out
# set, 12/41 when measured once; a tuning set since the fourth pass): 18/41. real_dev3 (the second
# held-out set, 15/52 when measured once; a tuning set since the fifth pass): 16/52 (17/52 with a looser
# not-covered rule that a fresh held-out set showed answering more out-of-scope questions; eval/README.md).
# real_dev4 (the third held-out set, measured three times as a whole; a tuning set since the sixth pass):
# 8/50. Sixth pass: sentence re-ranking and four quoted sentences took real_dev2 18 -> 21; lowercase
# package names that neither the corpus nor English knows (refused when a short question asks about
# them, said to be uncovered in a long one) took real_dev4 8 -> 12.
# real_dev5 (the fourth held-out set, 15/49 and 16/49 when measured as a whole at the end of the sixth
# pass; a tuning set since the seventh): 16/49. Seventh pass: what a figure counts took real_dev3 16 -> 17.
# Each gate sits at the level reached so that it can only go up.
REAL_DEV_GATES = {REAL_DEV: 19, REAL_DEV2: 21, REAL_DEV3: 17, REAL_DEV4: 12, REAL_DEV5: 16}


@pytest.mark.parametrize("path", list(REAL_DEV_GATES), ids=lambda p: p.name)
def test_real_dev_questions_reach_the_gate(full_index, path):
    settings, _ = full_index
    report = evaluate(settings, ["extractive"], cases_path=path, naive=False)
    ours = report["runs"][0]
    correct = ours["aggregates"]["correct"]
    cases = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    assert not report["metadata"]["skipped_cases"] and correct["n"] == cases
    wrong = [f"{r['case_id']}: {' '.join(r['answer'].split())[:120]}" for r in ours["records"] if not r["passed"]["correct"]]
    assert correct["k"] >= REAL_DEV_GATES[path], f"correct {correct['k']}/{correct['n']}:\n" + "\n".join(wrong)
