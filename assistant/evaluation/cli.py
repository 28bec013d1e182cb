"""`assistant eval`: run the labelled cases on each engine, ours next to the naive baseline.

Registering the command imports nothing heavy (`assistant --help` must not load the chain): the
runner, LangChain and Chroma are imported inside `cmd_eval`.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from .dataset import CASE_TYPES

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "eval" / "cases.jsonl"  # = runner.DEFAULT_CASES

DEFAULT_LLM_SAMPLE = 2  # per case type, for the local engine added by default (keeps `assistant eval` quick)
DEFAULT_LOCAL = "local"  # the product's default engine (qwen-1.5b)


def register(subparsers) -> None:
    doc = inspect.cleandoc(cmd_eval.__doc__)
    p = subparsers.add_parser("eval", help=doc.splitlines()[0], description=doc,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llm", action="extend", nargs="+", metavar="SPEC",
                   help=f"engine(s) to evaluate (default: extractive, plus {DEFAULT_LOCAL} when installed)")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="cases file (default: eval/cases.jsonl)")
    p.add_argument("--out", type=Path, default=Path("eval"), help="folder for report.json, report.md, report.png (default: eval/)")
    p.add_argument("--gate", action="store_true", help="exit 1 when our pipeline misses a threshold of --thresholds")
    p.add_argument("--thresholds", type=Path, default=DEFAULT_CASES.parent / "thresholds.toml", help="gate thresholds (TOML)")
    p.add_argument("--limit", type=int, help="run only the first N cases of each type (every engine)")
    p.add_argument("--llm-limit", type=int, help="run only the first N cases of each type on LLM engines "
                   f"(default: {DEFAULT_LLM_SAMPLE} when the engines are not named, else all)")
    p.add_argument("--types", nargs="+", choices=CASE_TYPES, metavar="TYPE",
                   help=f"case types to run (default: all): {', '.join(CASE_TYPES)}")
    p.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    p.add_argument("--related", action="store_true", help="when no index exists yet: build it with the related sources (downloaded once)")
    p.add_argument("--related-dir", type=Path, help="read the related sources from this folder (to build the index, and for the naive baseline)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure answer quality against the guide's factor table, per engine, next to a naive baseline.

    Writes report.json, report.md and report.png to --out and prints the summary table. Metric
    definitions: eval/README.md. Builds the index first when there is none.
    """
    from ..config import load_settings
    from ..engines import local_status, parse_spec
    from ..ingest import index_exists, ingest
    from .gate import check_gate, load_thresholds
    from .report import summary_table, write_chart, write_json, write_markdown
    from .runner import evaluate

    settings = load_settings(related_dir=args.related_dir)
    if not index_exists(settings):
        print(f"No index in {settings.index_dir}; building it first.", file=sys.stderr)
        ingest(settings, related=args.related or settings.related_dir is not None)
    specs = args.llm or ["extractive"] + ([DEFAULT_LOCAL] if local_status()[0] else [])
    llm_limit = args.llm_limit if args.llm_limit is not None else (None if args.llm else DEFAULT_LLM_SAMPLE)

    def limit(spec: str) -> int | None:
        if parse_spec(spec)[0] == "extractive" or llm_limit is None:
            return args.limit
        return llm_limit if args.limit is None else min(llm_limit, args.limit)

    limits = {spec: limit(spec) for spec in specs}
    progress = None if args.quiet else (lambda line: print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True))
    report = evaluate(settings, specs, cases_path=args.cases, types=args.types, limits=limits, naive=not args.no_naive,
                      progress=progress)
    if progress:
        print(file=sys.stderr)
    gate = check_gate(report, load_thresholds(args.thresholds)) if args.gate else None
    if gate is not None:
        report["gate"] = {"thresholds": str(args.thresholds), "failures": gate}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(report, args.out / "report.json")
    write_chart(report, args.out / "report.png")
    write_markdown(report, args.out / "report.md", chart="report.png", gate=gate)
    print(summary_table(report))
    print(f"\nWrote {args.out / 'report.md'}, report.json and report.png.")
    if gate:
        print("\nGate FAILED:", *gate, sep="\n  ", file=sys.stderr)
        return 1
    if gate is not None:
        print("Gate passed.")
    return 0
