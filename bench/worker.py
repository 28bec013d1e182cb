"""Entry point of a benchmark child process: `python -m bench.worker TASK ARGS.json RESULT.json`.

`run_task(name, args, isolate)` runs a task in a fresh process (isolate=True: its own peak RSS and
cold caches) or in this one (tests, where a tiny run must be fast).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _tasks() -> dict:
    from . import answers, openmp, scale

    return {"scale_ingest": scale.child_ingest, "scale_build": scale.child_build_projected,
            "scale_query": scale.child_query, "llm_answers": answers.child_llm, "embed_probe": openmp.child_probe}


def run_task(name: str, args: dict, *, isolate: bool = True, timeout: float = 1800, env: dict | None = None) -> dict:
    if isolate or env:
        from .measure import run_child

        return run_child(name, args, timeout=timeout, env=env)
    out = _tasks()[name](args)
    out["in_process"] = True  # peak RSS is the whole test process's, not this task's
    return out


def main(argv: list[str]) -> int:
    name, spec, out = argv
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = _tasks()[name](json.loads(Path(spec).read_text()))
    Path(out).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
