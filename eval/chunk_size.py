"""Retrieval quality by chunk size: ASSISTANT_CHUNK_TOKENS in {120, 160, 200, 250}.

Each size gets its own temporary index (guide + related sources), then the extractive eval runs on
it (our pipeline only) and the retrieval metrics are tabulated in eval/chunk_size.md, with the
answer metrics beside them for context.

    HF_HUB_OFFLINE=1 python eval/chunk_size.py --related-dir ../shared/related [--sizes 120 160 200 250]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from assistant.config import Settings, load_settings
from assistant.evaluation.report import fmt, value
from assistant.evaluation.runner import evaluate
from assistant.ingest import ingest

COLUMNS = (("hit_at_1", "hit@1"), ("hit_at_3", "hit@3"), ("mrr_at_10", "MRR@10"), ("winner_accuracy", "winner accuracy"),
           ("must_include_recall", "key-fact recall"), ("citation_recall", "citation recall"))


def _overlap(rates: list[dict]) -> bool:
    return max(r["low"] for r in rates) <= min(r["high"] for r in rates)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--related-dir", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[120, 160, 200, 250])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("chunk_size.md"))
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"chunks-{size}-") as tmp:
            settings = load_settings(index_dir=Path(tmp), related_dir=args.related_dir, chunk_tokens=size, llm="extractive")
            built = ingest(settings, related=True)
            run = evaluate(settings, ["extractive"], naive=False)["runs"][0]
            guide = next(s["chunks"] for s in built.sources if s["id"] == "guide")
            rows.append((size, built.chunks, guide, run["aggregates"]))
            print(f"chunk_tokens={size}: {built.chunks} chunks, hit@3 {fmt(run['aggregates'], 'hit_at_3', interval=False)}",
                  flush=True)
    default = Settings.model_fields["chunk_tokens"].default
    lines = ["# Chunk size", "",
             "Written by `eval/chunk_size.py`: one temporary index per `ASSISTANT_CHUNK_TOKENS` value (guide + the nine related"
             " docs), the extractive eval on each (our pipeline; retrieval with k=10 on the standalone question), metrics as"
             " defined in [README.md](README.md). Rates show the Wilson 95% interval and k/n. Factor-table rows are one chunk"
             f" each at every size; only prose chunks change. The current default is {default}.", "",
             "| chunk_tokens | chunks (guide) | " + " | ".join(label for _, label in COLUMNS) + " |",
             "| ---: | ---: |" + " ---: |" * len(COLUMNS)]
    for size, total, guide, agg in rows:
        mark = " (default)" if size == default else ""
        lines.append(f"| {size}{mark} | {total} ({guide}) | " + " | ".join(fmt(agg, key) for key, _ in COLUMNS) + " |")
    best = {label: max(rows, key=lambda r: (value(r[3], key) or 0, r[0] == default))[0] for key, label in COLUMNS}
    overlap = "overlap" if _overlap([r[3]["hit_at_3"] for r in rows]) else "do not all overlap"
    lines += ["", "Best size per metric (ties go to the default): " + ", ".join(f"{label} {size}" for label, size in best.items())
              + f". The hit@3 intervals of the sizes {overlap} at n = {rows[0][3]['hit_at_3']['n']} answerable cases, so this"
              " ranks the sizes only weakly."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
