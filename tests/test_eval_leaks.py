"""No eval question may leak into the code: a run of 4+ consecutive words of any question in
eval/*.jsonl found in a file under assistant/ means the code was tuned on that phrasing, and the set
measuring it is no longer blind (issue #12). Not counted: runs with fewer than two words besides stop
words and the stacks' names ("is better for the", "node js or python", "out of the box"), which carry
no phrasing of a question, and runs the guide itself contains (corpus/guide.txt): the code may quote
the guide, whose words the questions also use.

The held-out set is checked too, but its failures are reported without the phrase, so that running
this test teaches nothing about the held-out questions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.text import STOPWORDS

REPO = Path(__file__).resolve().parents[1]
RUN = 4
_NEUTRAL = STOPWORDS | {"node", "js", "nodejs", "python", "vs", "versus", "which", "better", "what", "how", "why"}
_WORD = re.compile(r"[a-z0-9]+")


def _runs(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1)
            if sum(w not in _NEUTRAL for w in words[i:i + RUN]) >= 2}


def _guide_runs() -> set[tuple[str, ...]]:
    return _runs((REPO / "corpus" / "guide.txt").read_text(encoding="utf-8"))


def _code_runs() -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for path in sorted((REPO / "assistant").rglob("*")):
        if path.is_file() and path.suffix in {".py", ".toml", ".json", ".jsonl", ".txt", ".md", ".csv"}:
            for run in _runs(path.read_text(encoding="utf-8", errors="replace")):
                out.setdefault(run, str(path.relative_to(REPO)))
    return out


def _questions(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        out.append(case["question"])
        out.extend(t.get("content", "") for t in case.get("history") or [] if t.get("role") == "user")
    return out


EVAL_FILES = sorted((REPO / "eval").glob("*.jsonl"))


@pytest.mark.parametrize("path", EVAL_FILES, ids=[p.name for p in EVAL_FILES])
def test_no_eval_phrase_in_the_code(path):
    code = _code_runs()
    for run in _guide_runs():
        code.pop(run, None)
    leaks = sorted({(" ".join(run), code[run]) for q in _questions(path) for run in _runs(q) if run in code})
    if path.name.startswith("real_holdout"):
        # pytest.fail, not assert: pytest's assertion rewriting would print the phrases of a held-out set.
        if leaks:
            pytest.fail(f"{len(leaks)} run(s) of {RUN}+ words of held-out questions appear under {sorted({f for _, f in leaks})} "
                        "(not shown: the set stays blind)")
        return
    assert not leaks, "eval phrasings found in the code:\n" + "\n".join(f"  {p!r} in {f}" for p, f in leaks)


def test_the_check_finds_a_planted_phrase(tmp_path):
    assert _runs("Should we avoid Node.js for CPU-heavy work?") & _runs("# e.g. we avoid node js for cpu heavy work")
    assert not _runs("Is it better for the Node.js or Python?") and not _runs("out of the box")
