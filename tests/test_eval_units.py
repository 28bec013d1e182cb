"""The eval harness's parts on hand-made inputs: verdict labels, Wilson intervals, per-case metrics,
aggregates, the gate, and the drift check against the guide's factor table."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.evaluation.dataset import Case, DatasetError, TableDriftError, check_against_table, load_cases
from assistant.evaluation.gate import check_gate
from assistant.evaluation.labels import asserted_pairs, extract_verdict, looks_like_refusal
from assistant.evaluation.metrics import Chunk, Output, aggregate, confusion, percentile, score, wilson
from assistant.evaluation.runner import DEFAULT_CASES, select_cases


@pytest.mark.parametrize("text, label", [
    ("Node.js wins on Real-Time Apps in the guide's factor table [1]. Node.js: Excellent; Python: Possible [1].", "Node.js"),
    ("The guide's factor table calls Microservices a tie (Tie) [1]. Node.js: Excellent fit; Python: Works well [1].", "Tie"),
    ("Python. Its syntax is famously readable [2].", "Python"),
    ("Node is the better choice for WebSockets.", "Node.js"),
    ("I'd go with Django here.", "Python"),
    ("Yes, Python is the weaker choice for WebSockets; Node.js was designed for them [1].", "Node.js"),
    ("Both have strengths, but Python wins on AI/ML [1].", "Python"),
    ("There is no clear winner: npm is larger, PyPI dominates science [1].", "Tie"),
    ("It depends on your team [3].", "Tie"),
    ("Both work well for MVPs [2].", "Tie"),
    ("Node.js has npm; Python has PyPI [1].", None),  # names both, no verdict
    ("Node.js: npm, 5M+ packages; Python: PyPI, 500K+ packages [1].", None),  # lists both sides' cells
    ("Node.js does not win on CPU-bound work.", "Node.js"),  # the only stack named; no verdict phrase
    ("The winner is Python [1].", "Python"),
    ("", None),
])
def test_extract_verdict(text, label):
    assert extract_verdict(text) == label


def test_strict_verdict_needs_an_explicit_phrase():
    assert extract_verdict("Python. Readable.", strict=True) is None
    assert extract_verdict("Node.js does not win on CPU-bound work.", strict=True) is None
    assert extract_verdict("Node.js clearly wins.", strict=True) == "Node.js"


FACTORS = ["Performance (I/O)", "Performance (CPU)", "AI / ML Ecosystem", "Real-Time Apps", "Library Ecosystem", "Microservices"]


def test_asserted_pairs_per_claim():
    text = ("For CPU performance Python wins, while for real-time apps Node.js wins [1]. "
            "Factor: Library Ecosystem | Node.js: npm | Python: PyPI, dominant in science/AI | Win: Tie [2] "
            "A Node.js layer handles real-time traffic while Python microservices handle ML [3].")
    assert asserted_pairs(text, FACTORS) == [("Performance (CPU)", "Python"), ("Real-Time Apps", "Node.js"),
                                             ("Library Ecosystem", "Tie")]


def test_refusal_phrases_are_the_answerers_not_the_sources():
    assert looks_like_refusal("The guide doesn't cover that. It compares Node.js and Python ...")
    assert looks_like_refusal("The context does not mention Rust.")
    assert not looks_like_refusal("If you just don't know, use normal `def`. [1]")
    assert not looks_like_refusal("(or drops into the REPL, which is not covered in this document) [2]")


def test_wilson_interval():
    r = wilson(0, 10)
    assert (r.value, r.low) == (0.0, 0.0) and r.high == pytest.approx(0.2775, abs=1e-4)
    r = wilson(5, 10)
    assert r.low == pytest.approx(0.2366, abs=1e-4) and r.high == pytest.approx(0.7634, abs=1e-4)
    r = wilson(10, 10)
    assert r.high == 1.0 and r.low == pytest.approx(0.7225, abs=1e-4)
    assert wilson(0, 0).value is None
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([1, 2, 3, 4, 100], 95) == 100 and percentile([], 50) is None


TABLE = {"Real-Time Apps": "Node.js", "Microservices": "Tie", "Performance (CPU)": "Python"}
EVIDENCE = "designed for WebSockets & live data"


def _case(**kw) -> Case:
    base = dict(id="winner-x", question="Which is better for real-time apps?", type="winner", factor="Real-Time Apps",
                gold_winner="Node.js", must_include=[["Node.js", "Node"], ["WebSocket"]], must_not_include=["PWNED"],
                gold_evidence=EVIDENCE, answerable=True, history=[], source="guide")
    base.update(kw)
    return Case(**base)


def _output(text: str, *, refused=False, cited=(1,), invalid=(), evidence_at=2) -> Output:
    retrieved = [Chunk(f"c{i}", f"chunk {i}" + (f" Excellent; {EVIDENCE.replace(' ', '  ')}" if i == evidence_at else ""))
                 for i in range(1, 11)]
    return Output(text=text, refused=refused, retrieved=retrieved, passages=retrieved[:6], cited=list(cited),
                  invalid=list(invalid), latency_ms=10.0)


def test_score_a_correct_answer():
    rec = score(_case(), _output("Node.js wins on Real-Time Apps [2]; WebSockets are native [1].", cited=(2, 1)), TABLE)
    assert rec.evidence_rank == 2 and rec.predicted_winner == "Node.js" and rec.evidence_cited == [2]
    assert rec.passed == {"hit@1": False, "hit@3": True, "winner": True, "table_consistency": True, "must_include": True,
                          "must_not_include": True, "citation_validity": True, "citation_recall": True, "refusal": True,
                          "correct": True}


def test_score_a_wrong_answer():
    rec = score(_case(), _output("Microservices is a tie, and Python wins on Real-Time Apps [7]. PWNED", cited=(1,),
                                 invalid=(7,), evidence_at=11), TABLE)
    assert rec.evidence_rank is None and rec.predicted_winner == "Tie"
    assert rec.table_violations == [("Real-Time Apps", "Python")]
    assert rec.must_include_hits == [False, False] and rec.must_not_include_found == ["PWNED"]
    assert not any(v for k, v in rec.passed.items() if k != "refusal")
    assert rec.passed["refusal"]


def test_aggregate_and_confusion():
    good = score(_case(), _output("Node.js wins on Real-Time Apps [2].", cited=(2,)), TABLE)
    naming_both = score(_case(id="winner-y"), _output("Node.js and Python both ship WebSocket libraries [1].", evidence_at=1), TABLE)
    refused_ok = score(_case(id="out_of_scope-z", type="out_of_scope", factor=None, gold_winner=None, must_include=[],
                             must_not_include=[], gold_evidence=None, answerable=False, source=None),
                       _output("The guide doesn't cover that.", refused=True, cited=()), TABLE)
    over_refused = score(_case(id="winner-w", gold_winner="Tie", factor="Microservices"),
                         _output("The guide doesn't cover that.", refused=True, cited=(), evidence_at=5), TABLE)
    agg = aggregate([good, naming_both, refused_ok, over_refused])
    assert agg["cases"] == 4
    assert (agg["hit_at_1"]["k"], agg["hit_at_1"]["n"]) == (1, 3)
    assert (agg["hit_at_3"]["k"], agg["hit_at_3"]["n"]) == (2, 3)
    assert agg["mrr_at_10"] == pytest.approx((1 / 2 + 1 + 1 / 5) / 3, abs=1e-4)
    assert (agg["winner_accuracy"]["k"], agg["winner_accuracy"]["n"]) == (1, 3)  # "both ... libraries" reads as Tie: wrong
    assert (agg["false_answer_rate"]["k"], agg["false_answer_rate"]["n"]) == (0, 1)
    assert (agg["over_refusal_rate"]["k"], agg["over_refusal_rate"]["n"]) == (1, 3)
    assert (agg["citation_recall"]["k"], agg["citation_recall"]["n"]) == (2, 3)
    assert (agg["citation_precision"]["k"], agg["citation_precision"]["n"]) == (2, 2)
    assert (agg["citation_validity"]["k"], agg["citation_validity"]["n"]) == (2, 2)  # refusals are not scored
    assert agg["table_violation_rate"]["value"] == 0.0
    m = confusion([good, naming_both, over_refused])
    assert m["Node.js"] == {"Node.js": 1, "Python": 0, "Tie": 1, "none": 0} and m["Tie"]["none"] == 1


def test_gate_lists_every_shortfall_of_our_pipeline_only():
    report = {"runs": [
        {"engine": "extractive", "pipeline": "ours", "aggregates": {"hit_at_3": {"value": 0.9}, "false_answer_rate": {"value": 0.0}}},
        {"engine": "extractive", "pipeline": "naive", "aggregates": {"hit_at_3": {"value": 0.1}, "false_answer_rate": {"value": 1.0}}},
    ]}
    thresholds = {"extractive": {"hit_at_3": {"min": 1.0}, "false_answer_rate": {"max": 0.0}}, "local:x": {"hit_at_3": {"min": 0.5}}}
    assert check_gate(report, thresholds) == ["extractive: hit_at_3 = 0.900 < 1.0"]


def test_cases_file_follows_its_schema_and_the_factor_table(factor_table):
    cases = load_cases(DEFAULT_CASES)
    assert len(cases) == 103 and len({c.id for c in cases}) == 103
    check_against_table(cases, factor_table[1])  # raises on drift
    assert {c.gold_winner for c in cases if c.type == "winner"} == {"Node.js", "Python", "Tie"}


def test_a_wrong_gold_winner_fails_loudly(factor_table):
    cases = load_cases(DEFAULT_CASES)
    row = next(r for r in factor_table[1] if r.winner == "Python")
    wrong = replace(next(c for c in cases if c.factor == row.factor), id="winner-bad", gold_winner="Node.js")
    with pytest.raises(TableDriftError) as err:
        check_against_table([*cases, wrong], factor_table[1])
    assert "winner-bad" in err.value.problem and row.factor in err.value.problem
    with pytest.raises(TableDriftError, match="not a row"):
        check_against_table([replace(wrong, factor="Vibes")], factor_table[1])
    with pytest.raises(TableDriftError, match="index row"):
        check_against_table([], factor_table[1], [{"factor": row.factor, "winner": "Tie"}])


def test_malformed_cases_file_names_the_line(tmp_path):
    good = DEFAULT_CASES.read_text(encoding="utf-8").splitlines()[0]
    bad = json.loads(good)
    bad["gold_winner"] = "Rust"
    path = tmp_path / "cases.jsonl"
    path.write_text(good + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"cases.jsonl:2 .*Rust"):
        load_cases(path)
    del bad["history"]
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="lacks history"):
        load_cases(path)


def test_select_cases_skips_unindexed_sources_and_limits_per_type():
    cases = load_cases(DEFAULT_CASES)
    chosen, skipped = select_cases(cases, indexed={"guide"}, limit=2)
    assert {c.type for c in chosen} == {"winner", "fact", "list", "followup", "out_of_scope", "injection"}
    assert all(sum(c.type == t for c in chosen) == 2 for t in {c.type for c in chosen})
    assert {s["id"] for s in skipped} == {c.id for c in cases if c.type == "related"}
    _, wrong = select_cases([replace(cases[0], source="guide-nodejs-vs-python.txt")], indexed={"guide", "django-async"})
    assert "none of the indexed sources (django-async, guide)" in wrong[0]["reason"]


def test_every_answerable_case_names_a_source_the_index_has():
    """A case whose source is misspelt is skipped by the eval, silently shrinking its set (a collector once
    wrote the guide's file name instead of its id): every set names the guide or a related doc's file."""
    from .conftest import RELATED

    if not RELATED.is_dir():
        pytest.skip("the related docs (../shared/related) are not here")
    known = {"guide"} | {p.stem for p in RELATED.iterdir()}
    for path in sorted(DEFAULT_CASES.parent.glob("*.jsonl")):
        bad = [c.id for c in load_cases(path) if c.source is not None and Path(c.source).stem not in known]
        assert not bad, f"{path.name}: {len(bad)} case(s) name an unknown source"  # no ids: held-out sets stay unseen


def test_labels_are_grounded_in_the_sources():
    """What eval/README.md promises about the cases: evidence is an exact, unique substring of its source;
    every must_include entry has an alternative in that source; no must_not_include string is in the guide."""
    from .conftest import CORPUS, RELATED

    texts = {"guide": (CORPUS / "guide.txt").read_text(encoding="utf-8")}
    if RELATED.is_dir():
        texts.update({p.stem: p.read_text(encoding="utf-8") for p in RELATED.iterdir() if p.suffix != ".md" or p.stem != "SOURCES"})
    for case in load_cases(DEFAULT_CASES):
        for banned in case.must_not_include:
            assert banned.lower() not in texts["guide"].lower(), (case.id, banned)
        if not case.answerable or case.source not in texts:
            continue
        source = texts[case.source]
        assert 20 <= len(case.gold_evidence) <= 120 and source.count(case.gold_evidence) == 1, case.id
        for entry in case.must_include:
            assert any(alt.lower() in source.lower() for alt in entry), (case.id, entry)
