"""`--gate`: compare our pipeline's aggregates with eval/thresholds.toml; list what fell short."""

from __future__ import annotations

import tomllib
from pathlib import Path

from .report import value


def load_thresholds(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{engine spec: {metric: {"min": x} or {"max": x}}}."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def check_gate(report: dict, thresholds: dict) -> list[str]:
    """Shortfalls of our pipeline (never the naive baseline) for every engine that has thresholds and
    was run; an engine with thresholds that was not run is not a failure."""
    failures = []
    for run in report["runs"]:
        if run["pipeline"] != "ours" or run["engine"] not in thresholds:
            continue
        for metric, bound in thresholds[run["engine"]].items():
            got = value(run["aggregates"], metric)
            if metric not in run["aggregates"]:
                failures.append(f"{run['engine']}: unknown metric {metric!r} in thresholds")
            elif got is None:
                failures.append(f"{run['engine']}: {metric} has no cases to measure")
            elif "min" in bound and got < bound["min"]:
                failures.append(f"{run['engine']}: {metric} = {got:.3f} < {bound['min']}")
            elif "max" in bound and got > bound["max"]:
                failures.append(f"{run['engine']}: {metric} = {got:.3f} > {bound['max']}")
    return failures
