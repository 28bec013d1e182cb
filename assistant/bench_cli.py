"""`assistant bench [--quick] [--out DIR]`, registered by assistant.cli when present.

The benchmark code lives in `bench/` at the project root (not an installed package): the root is
found from the current folder upwards, else beside this package, and put on sys.path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def project_root() -> Path | None:
    """The folder holding pyproject.toml and bench/, from the current folder or from this package."""
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "bench" / "run.py").is_file():
                return folder
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmark ingestion, retrieval, answers, start-up and memory, each as a ratio to its raw anchor;
    writes bench/results.json, the chart and BENCHMARKS.md (--quick: under bench/quick/)."""
    root = project_root()
    if root is None:
        print("Error: the bench/ folder was not found. Fix: run this from the Stack Assistant project folder.", file=sys.stderr)
        return 2
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if args.cold_start:
        return _cold_start(root, args)
    from bench.run import FULL, QUICK, run, summary

    profile = QUICK if args.quick else FULL
    command = "assistant bench" + (" --quick" if args.quick else "")
    if args.budget:
        from dataclasses import replace

        profile = replace(profile, budget_s=args.budget * 60)
        command += f" --budget {args.budget:g}"
    if args.out:
        out_dir = Path(args.out).resolve()
        markdown = out_dir / "BENCHMARKS.md"
    elif args.quick:  # a quick run never overwrites the full run's committed figures
        out_dir = root / "bench" / "quick"
        markdown = out_dir / "BENCHMARKS.md"
    else:
        out_dir, markdown = root / "bench", root / "BENCHMARKS.md"
    results = run(profile, out_dir, markdown, related_dir=args.related_dir, command=command,
                  log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(summary(results))
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


def _cold_start(root: Path, args: argparse.Namespace) -> int:
    """Only the cold-start section: its own index, fresh processes, bench/coldstart.json and BENCHMARKS.md's section."""
    from bench.coldstart import run_standalone

    out_dir = Path(args.out).resolve() if args.out else root / "bench"
    markdown = out_dir / "BENCHMARKS.md" if args.out else root / "BENCHMARKS.md"
    related = args.related_dir or (root.parent / "shared" / "related")
    cold = run_standalone(out_dir, markdown, related_dir=related if related.is_dir() else None,
                          repeats=args.repeats, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    for t in cold["targets"]:
        print(f"  {'ok    ' if t['met'] else 'MISSED'} {t['name']}: {t['measured']} (goal <= {t['target']})")
    print(f"Wrote {out_dir / 'coldstart.json'} and the Cold start section of {markdown}.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help=cmd_bench.__doc__.splitlines()[0], description=cmd_bench.__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, one LLM question (under two minutes on a quiet laptop)")
    p.add_argument("--out", type=Path, help="write results.json, the chart and BENCHMARKS.md into this folder instead")
    p.add_argument("--budget", type=float, metavar="MINUTES",
                   help="time budget of the run (full: 14); the scale stage measures the largest sizes that fit "
                        "and projects the rest — on 2 cores, measuring 10k chunks needs about 30")
    p.add_argument("--related-dir", type=Path, help="the related docs (default: ../shared/related beside the project)")
    p.add_argument("--cold-start", action="store_true",
                   help="measure only the cold start (fresh `assistant ask`, --help, app.py to HTTP 200 and first answer; ~2 min)")
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per cold-start figure (default 5; the median is reported)")
    p.set_defaults(func=cmd_bench)
