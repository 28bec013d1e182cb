"""Sweep the "not covered" thresholds (min_relevance x min_coverage) over the labelled cases.

For every case the question goes through the real chain once (to get the standalone question
the guard sees) and the real retriever; then `assistant.refusal.judge` is re-run for each pair of
thresholds. Writes eval/refusal_tuning.md: the false-answer rate on unanswerable cases and the
over-refusal rate on answerable ones for each pair, and the pick (zero false answers, then the
fewest over-refusals, then the most off-topic probe questions refused, then the most unanswerable
cases caught by the thresholds alone, then the widest margin around the pick).

    HF_HUB_OFFLINE=1 python eval/tune_refusal.py [--related-dir ../shared/related] [--out eval/refusal_tuning.md]

Uses the index of ASSISTANT_INDEX_DIR (building it when missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.config import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_RELEVANCE, load_settings
from assistant.evaluation.dataset import load_cases
from assistant.evaluation.metrics import wilson
from assistant.evaluation.runner import DEFAULT_CASES, select_cases
from assistant.ingest import index_exists, ingest
from assistant.refusal import judge
from assistant.service import Assistant

RELEVANCE = [round(0.20 + 0.02 * i, 2) for i in range(21)]  # 0.20 .. 0.60
COVERAGE = [round(0.30 + 0.05 * i, 2) for i in range(15)]  # 0.30 .. 1.00
FIRST_GUESS = (0.42, 0.6)  # the defaults before this sweep, for comparison
# Off-topic questions that name nothing the corpus lacks, so only the threshold rule can refuse them.
# cases.jsonl has few of these (its out-of-scope cases mostly name a technology), so they break ties.
PROBES = [
    "How should we price our subscription product?", "What's the best way to raise a seed round?",
    "How do I write a good cover letter?", "Which database is fastest for time series data?",
    "How many vacation days should employees get?", "What is the capital of France?",
    "How do I set up continuous integration for my team?", "How do I fix a memory leak in my frontend?",
    "Which cloud provider is cheapest for startups?", "What should we put in our privacy policy?",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--related-dir", type=Path)
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("refusal_tuning.md"))
    args = ap.parse_args()
    settings = load_settings(related_dir=args.related_dir, llm="extractive")
    if not index_exists(settings):
        ingest(settings, related=settings.related_dir is not None)
    assistant = Assistant(settings)
    kb = assistant.kb
    cases, skipped = select_cases(load_cases(args.cases), indexed={s["id"] for s in kb.manifest["sources"]})
    probes = []  # (case, standalone question, retrieved docs, verdict with the thresholds off)
    for case in cases:
        standalone = assistant.ask(case.question, case.history, llm="extractive").standalone_question
        docs = assistant.retriever.invoke(standalone)
        probes.append((case, standalone, docs, judge(standalone, docs, kb.vocabulary, kb.idf, 0.0, 0.0)))

    probe_verdicts = []
    for question in PROBES:
        standalone = assistant.ask(question, llm="extractive").standalone_question
        docs = assistant.retriever.invoke(standalone)
        probe_verdicts.append(judge(standalone, docs, kb.vocabulary, kb.idf, 0.0, 0.0))

    def by_threshold(v, rel: float, cov: float) -> bool:  # judge's threshold rule (checked against judge below)
        return v.best_dense < rel and v.coverage < cov

    def outcome(rel: float, cov: float) -> tuple[list, list, list]:
        """(false answers, over-refusals, unanswerable cases the threshold rule alone refuses)."""
        refused = {c.id: v.refuse or by_threshold(v, rel, cov) for c, _q, _d, v in probes}
        return ([c for c, *_ in probes if not c.answerable and not refused[c.id]],
                [c for c, *_ in probes if c.answerable and refused[c.id]],
                [c for c, _q, _d, v in probes if not c.answerable and by_threshold(v, rel, cov)])

    n_unans = sum(1 for c, *_ in probes if not c.answerable)
    n_ans = len(probes) - n_unans
    grid = {(r, c): outcome(r, c) for r in RELEVANCE for c in COVERAGE}
    probes_refused = {k: sum(v.refuse or by_threshold(v, *k) for v in probe_verdicts) for k in grid}
    score = {k: (len(fa), len(ov), -probes_refused[k], -len(alone)) for k, (fa, ov, alone) in grid.items()}

    def neighbourhood(k, d: int) -> list[tuple[float, float]]:
        i, j = RELEVANCE.index(k[0]), COVERAGE.index(k[1])
        return [(RELEVANCE[a], COVERAGE[b]) for a in range(max(0, i - d), min(len(RELEVANCE), i + d + 1))
                for b in range(max(0, j - d), min(len(COVERAGE), j + d + 1))]

    def stable(k) -> bool:  # one grid step either way changes neither false answers nor over-refusals
        return all(score[n][:2] == score[k][:2] for n in neighbourhood(k, 1))

    def margin(k) -> int:  # grid steps to the nearest point that scores differently
        d = 1
        while d < 20 and all(score[n] == score[k] for n in neighbourhood(k, d)):
            d += 1
        return d

    candidates = [k for k in grid if stable(k)] or list(grid)
    best = min(score[k] for k in candidates)
    optimal = [k for k in candidates if score[k] == best]
    pick = max(optimal, key=lambda k: (margin(k), -k[0], -k[1]))
    for c, q, docs, _v in probes:  # the sweep must agree with the guard itself at the pick
        direct = judge(q, docs, kb.vocabulary, kb.idf, *pick).refuse
        assert direct == (_v.refuse or by_threshold(_v, *pick)), f"sweep and judge disagree on {c.id}"
    current = (DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_COVERAGE)
    lines = [
        "# Refusal threshold tuning", "",
        "Written by `eval/tune_refusal.py` (rerun it after changing the corpus, the retriever or the guard).",
        f"Cases: {n_ans} answerable, {n_unans} unanswerable from `{args.cases.name}`"
        f"{f' ({len(skipped)} skipped: source not indexed)' if skipped else ''}; index `{kb.manifest.get('collection')}`"
        f" with {len(kb.docs)} chunks.", "",
        "The guard (`assistant/refusal.py::judge`) refuses when the question names a technology the corpus never mentions"
        " (\"unknown names\"), when nothing of the question is left after injection stripping, or when the best dense"
        " similarity is below `min_relevance` **and** the IDF-weighted term coverage is below `min_coverage` (the"
        " \"threshold rule\"). Only the threshold rule depends on the two settings; it is the safety net for off-topic"
        " questions that name nothing unknown (\"What's a good recipe for sourdough bread?\").", "",
        "## Result", "",
        f"- pick: **min_relevance = {pick[0]}, min_coverage = {pick[1]}** — {_fmt(grid[pick], n_unans, n_ans)}",
        f"- defaults in assistant/config.py now ({current[0]}, {current[1]}): {_fmt(outcome(*current), n_unans, n_ans)}",
        f"- the first, untuned guess ({FIRST_GUESS[0]}, {FIRST_GUESS[1]}): {_fmt(outcome(*FIRST_GUESS), n_unans, n_ans)}",
        "- rule: among points whose neighbours one grid step away have the same false answers and over-refusals (so no"
        " labelled case sits on the edge): zero false answers, then the fewest over-refusals, then the most of the"
        f" {len(PROBES)} off-topic probe questions below refused, then the most unanswerable cases refused by the threshold"
        f" rule alone; {len(optimal)} grid points tie on all four, and the pick is the one with the widest margin of"
        " identical points around it (then the lower thresholds).",
        f"- off-topic probes refused at the pick: {probes_refused[pick]}/{len(PROBES)} (first guess: "
        f"{sum(v.refuse or by_threshold(v, *FIRST_GUESS) for v in probe_verdicts)}/{len(PROBES)}). They name nothing the"
        " corpus lacks, so only the threshold rule can refuse them, and the labelled out-of-scope cases have few such"
        " questions (most name a technology). Probes: " + "; ".join(f"\"{q}\"" for q in PROBES) + ".", "",
    ]
    fa, ov, alone = grid[pick]
    lines += ["Over-refused at the pick (answerable cases the guard refuses), with the guard's reason:", ""]
    reasons = {c.id: judge(q, d, kb.vocabulary, kb.idf, *pick).reason for c, q, d, _v in probes}
    lines += [f"- `{c.id}`: {c.question} — {reasons[c.id]}" for c in ov] or ["- none"]
    lines += ["", "Per-case signals at the pick: every unanswerable case, then the answerable cases nearest the thresholds:", "",
              "| case | answerable | best dense | coverage | unknown names | refused by |", "| --- | --- | ---: | ---: | --- | --- |"]
    unans = [(c, v) for c, _q, _d, v in probes if not c.answerable]
    near = sorted(((c, v) for c, _q, _d, v in probes if c.answerable),
                  key=lambda cv: max(cv[1].best_dense - pick[0], cv[1].coverage - pick[1]))[:12]
    for c, v in unans + near:
        why = [w for w, on in (("unknown names" if v.unknown_terms else "empty question", v.refuse),
                               ("threshold rule", by_threshold(v, *pick))) if on]
        lines.append(f"| `{c.id}` | {c.answerable} | {v.best_dense:.3f} | {v.coverage:.3f} | "
                     f"{', '.join(v.unknown_terms) or '—'} | {' + '.join(why) or 'answered'} |")
    lines += ["", "## Sweep", "",
              f"Each cell: false answers / over-refusals / off-topic probes refused / unanswerable cases the threshold rule"
              f" alone refuses (counts out of {n_unans} unanswerable, {n_ans} answerable, {len(PROBES)} probes, {n_unans}"
              " unanswerable). Bold: the pick.", "",
              "| min_relevance \\ min_coverage | " + " | ".join(f"{c:.2f}" for c in COVERAGE) + " |",
              "| --- |" + " --- |" * len(COVERAGE)]
    for r in RELEVANCE:
        cells = []
        for c in COVERAGE:
            f, o, p, t = score[(r, c)]
            cell = f"{f}/{o}/{-p}/{-t}"
            cells.append(f"**{cell}**" if (r, c) == pick else cell)
        lines.append(f"| {r:.2f} | " + " | ".join(cells) + " |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"pick: min_relevance={pick[0]} min_coverage={pick[1]}: {_fmt(grid[pick], n_unans, n_ans)}")
    print(f"wrote {args.out}")
    return 0


def _fmt(result: tuple[list, list, list], n_unans: int, n_ans: int) -> str:
    fa, ov, alone = result
    f, o = wilson(len(fa), n_unans), wilson(len(ov), n_ans)
    return (f"false answers {len(fa)}/{n_unans} ({f.value:.3f}, 95% CI {f.low:.2f}–{f.high:.2f}), "
            f"over-refusals {len(ov)}/{n_ans} ({o.value:.3f}, 95% CI {o.low:.2f}–{o.high:.2f}), "
            f"threshold rule alone refuses {len(alone)}/{n_unans} unanswerable")


if __name__ == "__main__":
    sys.exit(main())
