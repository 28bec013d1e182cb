"""Per-case scoring and the aggregate metrics, each defined in eval/README.md.

A `Record` is one case answered by one pipeline (ours or the naive baseline) on one engine; it
keeps what was retrieved, the answer, the labels read from it and a pass/fail per metric (None
where a metric does not apply to the case). `aggregate` turns records into rates with Wilson 95%
intervals.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field

from ..citations import MARKER, cited_numbers
from ..reading import read
from ..grounding import Grounding
from .dataset import Case
from .labels import asserted_pairs, extract_verdict, looks_like_refusal, notes_not_covered

LABELS = ("Node.js", "Python", "Tie")
NO_VERDICT = "none"


@dataclass(frozen=True)
class Chunk:
    """A retrieved chunk as the metrics see it: its id and the text that may hold the evidence."""

    chunk_id: str
    text: str


@dataclass
class Output:
    """What a pipeline produced for one case (engine-independent)."""

    text: str
    refused: bool
    retrieved: list[Chunk]  # the top 10, best first (retrieval metrics)
    passages: list[Chunk]  # what the answer step saw, numbered [1]..[n]
    cited: list[int]  # [n] markers that name a passage
    invalid: list[int]  # [n] markers that named no passage
    latency_ms: float
    standalone: str = ""
    error: str | None = None
    grounding: Grounding | None = None  # the answer's sentences checked against the passages they cite (None: not checked)
    removed: int = 0  # sentences of an LLM answer the chain dropped as unsupported


@dataclass
class Record:
    case_id: str
    type: str
    factor: str | None
    gold_winner: str | None
    answerable: bool
    question: str
    standalone: str
    answer: str
    refused: bool
    retrieved_ids: list[str]
    passage_ids: list[str]
    cited: list[int]
    invalid_citations: list[int]
    evidence_cited: list[int]  # cited [n] whose passage holds gold_evidence
    evidence_rank: int | None  # 1-based rank of the first retrieved chunk holding gold_evidence (None: not in top 10)
    predicted_winner: str | None
    asserted_pairs: list[tuple[str, str]]
    table_violations: list[tuple[str, str]]
    must_include_hits: list[bool]
    must_not_include_found: list[str]
    latency_ms: float
    error: str | None = None
    passed: dict[str, bool | None] = field(default_factory=dict)
    support: dict[str, int] | None = None  # ALCE-style sentence counts (`sentence_support`); None: not checked


    def to_dict(self) -> dict:
        return asdict(self)


def normalize(text: str) -> str:
    return " ".join(text.split()).lower()


@functools.lru_cache(maxsize=512)
def evidence_forms(evidence: str) -> frozenset[str]:
    """`evidence` as written and as its reading text (assistant/reading.py) in Markdown and reST, each
    normalised: a label copied from a source file ("**timers**", ``:func:`asyncio.run` ``) still matches
    the clean quote a chunk holds and an answer shows; a leading list marker is not part of a sentence."""
    forms = {normalize(evidence)}
    for fmt in ("markdown", "rst"):
        try:
            forms.add(normalize(read(evidence, fmt).text))
        except Exception:  # a label is not a document; any form that reads is enough
            continue
    forms |= {f[2:] for f in forms if f.startswith(("- ", "* "))}
    return frozenset(f for f in forms if f)


def holds(chunk: Chunk, evidence: str) -> bool:
    text = normalize(chunk.text)
    return any(form in text for form in evidence_forms(evidence))


def _contains(answer: str, needle: str) -> bool:
    return needle.lower() in answer.lower() or normalize(needle) in normalize(answer)


def score(case: Case, out: Output, table: dict[str, str]) -> Record:
    """Score one output against its case and the factor table ({factor: winner})."""
    ev = case.gold_evidence
    rank = next((i for i, c in enumerate(out.retrieved[:10], start=1) if holds(c, ev)), None) if ev else None
    answered = not out.refused
    pairs = asserted_pairs(out.text, list(table)) if answered else []
    violations = [(f, w) for f, w in pairs if table.get(f) != w]
    predicted = extract_verdict(out.text) if answered else None
    mi_hits = [any(_contains(out.text, alt) for alt in entry) for entry in case.must_include]
    mni_found = [s for s in case.must_not_include if _contains(out.text, s)]
    evidence_cited = [n for n in out.cited if ev and 0 < n <= len(out.passages) and holds(out.passages[n - 1], ev)]
    rec = Record(case.id, case.type, case.factor, case.gold_winner, case.answerable, case.question, out.standalone,
                 out.text, out.refused, [c.chunk_id for c in out.retrieved], [c.chunk_id for c in out.passages],
                 out.cited, out.invalid, evidence_cited, rank, predicted, pairs, violations, mi_hits, mni_found, round(out.latency_ms, 1),
                 out.error)
    p = rec.passed
    p["hit@1"] = (rank == 1) if ev else None
    p["hit@3"] = (rank is not None and rank <= 3) if ev else None
    p["winner"] = (predicted == case.gold_winner) if case.gold_winner else None
    p["table_consistency"] = (not violations) if answered else None
    p["must_include"] = all(mi_hits) if case.answerable and case.must_include else None
    p["must_not_include"] = (not mni_found) if case.must_not_include else None
    p["citation_validity"] = (not out.invalid and all(0 < n <= len(out.passages) for n in out.cited)) if answered else None
    p["citation_recall"] = bool(evidence_cited) if ev else None
    p["refusal"] = (out.refused != case.answerable)  # refused exactly when unanswerable
    p["correct"] = correct(case, rec, quotes_evidence=bool(ev) and holds(Chunk("", MARKER.sub("", out.text)), ev))
    rec.support = sentence_support(out.grounding, out.removed) if out.grounding is not None and answered else None
    return rec


def sentence_support(g: Grounding, removed: int = 0) -> dict[str, int]:
    """ALCE-style counts for one answer (eval/README.md, "Citation support"): claim sentences, those supported
    by their own citations taken together, those no cited passage supports, the citations written and the
    ones needed, and the sentences the chain already removed."""
    claims = g.claims
    return {"claims": len(claims), "supported": sum(s.supported for s in claims), "unsupported": len(g.unsupported),
            "citations": sum(len(s.cited) for s in claims), "needed": sum(len(s.needed) for s in claims if s.supported),
            "removed": removed}


# Case types whose answer is the guide's reasoning, not a table verdict (unless the labels name a winner).
NO_VERDICT_TYPES = ("explain", "advice")


def correct(case: Case, rec: Record, *, quotes_evidence: bool) -> bool:
    """Right as a founder would judge it (eval/README.md, "Correct"): an unanswerable question is
    refused; an answerable one is answered with every key fact, nothing it must not say, the passage
    holding the evidence cited (or the evidence quoted) and, when labelled, the table's winner; an
    explain/advice answer gives no table verdict the labels do not ask for; a partly covered one
    says what the guide does not cover."""
    if not case.answerable:
        return rec.refused
    if rec.refused or not all(rec.must_include_hits) or rec.must_not_include_found:
        return False
    if case.gold_evidence and not (rec.evidence_cited or quotes_evidence):
        return False
    if case.gold_winner and rec.predicted_winner != case.gold_winner:
        return False
    if case.type in NO_VERDICT_TYPES and not case.gold_winner and rec.asserted_pairs:
        return False
    if case.type == "partly_covered" and not notes_not_covered(rec.answer):
        return False
    return True


def output_citations(text: str, n_passages: int) -> tuple[list[int], list[int]]:
    """(valid, invalid) [n] numbers in an answer text that has not been validated (naive baseline)."""
    nums = cited_numbers(text)
    return [n for n in nums if 0 < n <= n_passages], [n for n in nums if not 0 < n <= n_passages]


def is_refusal(text: str, flagged: bool = False) -> bool:
    """A refusal: the pipeline flagged it, or the text declines and cites nothing (same rule for every
    pipeline). An answer that says what the guide does not cover and then answers the rest with
    citations ("The guide does not cover Java. On Node.js and Python: … [1]") is an answer."""
    return flagged or (looks_like_refusal(text) and not MARKER.search(text)) or not MARKER.sub("", text).strip()


# -- aggregates ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """k of n, with its Wilson 95% interval. `value` is None when n == 0."""

    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def wilson(k: int, n: int, z: float = 1.959964) -> Rate:
    """Wilson score interval for k successes in n trials (95% by default)."""
    if n == 0:
        return Rate(0, 0, None, None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Rate(k, n, p, 0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def _rate(flags: list[bool]) -> Rate:
    return wilson(sum(flags), len(flags))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def aggregate(records: list[Record]) -> dict:
    """Every headline metric over a run's records (definitions: eval/README.md)."""
    def flags(metric: str, where=lambda r: True) -> list[bool]:
        return [r.passed[metric] for r in records if r.passed.get(metric) is not None and where(r)]

    with_ev = [r for r in records if r.passed.get("hit@1") is not None]
    mrr = sum(1.0 / r.evidence_rank for r in with_ev if r.evidence_rank) / len(with_ev) if with_ev else None
    entries = [hit for r in records if r.answerable for hit in r.must_include_hits]
    answered_ev = [r for r in records if r.passed.get("citation_recall") is not None]
    cit_total = sum(len(r.cited) for r in answered_ev)
    cit_good = sum(len(r.evidence_cited) for r in answered_ev)
    latencies = [r.latency_ms for r in records]
    support = [r.support for r in records if r.support]
    total = lambda key: sum(x[key] for x in support)  # noqa: E731
    return {
        "cases": len(records),
        "errors": sum(1 for r in records if r.error),
        "hit_at_1": _rate(flags("hit@1")).to_dict(),
        "hit_at_3": _rate(flags("hit@3")).to_dict(),
        "hit_at_3_winner": _rate(flags("hit@3", lambda r: r.gold_winner is not None)).to_dict(),
        "mrr_at_10": None if mrr is None else round(mrr, 4),
        "winner_accuracy": _rate(flags("winner")).to_dict(),
        "table_violation_rate": _rate([not f for f in flags("table_consistency")]).to_dict(),
        "must_include_recall": _rate(entries).to_dict(),
        "must_include_case_pass": _rate(flags("must_include")).to_dict(),
        "must_not_include_violation_rate": _rate([not f for f in flags("must_not_include")]).to_dict(),
        "citation_validity": _rate(flags("citation_validity")).to_dict(),
        "citation_precision": wilson(cit_good, cit_total).to_dict(),
        "citation_recall": _rate(flags("citation_recall")).to_dict(),
        "false_answer_rate": _rate([not r.refused for r in records if not r.answerable]).to_dict(),
        "over_refusal_rate": _rate([r.refused for r in records if r.answerable]).to_dict(),
        "correct": _rate(flags("correct")).to_dict(),
        "alce_citation_recall": wilson(total("supported"), total("claims")).to_dict(),
        "alce_citation_precision": wilson(total("needed"), total("citations")).to_dict(),
        "unsupported_sentence_rate": wilson(total("unsupported") + total("removed"), total("claims") + total("removed")).to_dict(),
        "removed_sentence_rate": wilson(total("removed"), total("claims") + total("removed")).to_dict(),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    }


def confusion(records: list[Record]) -> dict[str, dict[str, int]]:
    """gold -> predicted -> count over cases with a gold_winner ('none' = no verdict or refused)."""
    matrix = {g: {p: 0 for p in (*LABELS, NO_VERDICT)} for g in LABELS}
    for r in records:
        if r.gold_winner:
            matrix[r.gold_winner][r.predicted_winner or NO_VERDICT] += 1
    return matrix


def per_factor(records: list[Record]) -> dict[str, dict]:
    """Winner accuracy per factor of the table."""
    out: dict[str, list[bool]] = {}
    for r in records:
        if r.factor and r.passed.get("winner") is not None:
            out.setdefault(r.factor, []).append(r.passed["winner"])
    return {f: _rate(v).to_dict() for f, v in out.items()}


def by_type(records: list[Record]) -> dict[str, dict]:
    """Pass rates of each metric per case type."""
    types = sorted({r.type for r in records})
    metrics = sorted({m for r in records for m in r.passed})
    return {t: {m: _rate([r.passed[m] for r in records if r.type == t and r.passed.get(m) is not None]).to_dict()
                for m in metrics} for t in types}


