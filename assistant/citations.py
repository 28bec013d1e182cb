"""Parse the [n] markers of an answer and drop the ones that name no passage."""

from __future__ import annotations

import re

# [1]  [1][2]  [1, 2]  [1,3]  — markers an LLM commonly writes.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def cited_numbers(text: str) -> list[int]:
    """Every number cited, in order of first appearance."""
    seen: list[int] = []
    for m in MARKER.finditer(text):
        for part in m.group(1).split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def validate_citations(text: str, valid: set[int]) -> tuple[str, list[int], list[int]]:
    """(text with invalid numbers removed, valid numbers cited, invalid numbers found)."""
    invalid: list[int] = []

    def fix(m: re.Match) -> str:
        keep = []
        for part in m.group(1).split(","):
            n = int(part)
            (keep if n in valid else invalid).append(n)
        return "".join(f"[{n}]" for n in keep)

    cleaned = MARKER.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return cleaned, [n for n in cited_numbers(cleaned) if n in valid], sorted(set(invalid))


def renumber_text(text: str, known: set[int] | None = None) -> tuple[str, dict[int, int]]:
    """Markers renumbered 1..n in order of first use (numbers not in `known` dropped); returns (text, old->new).

    Applied to a streamed prefix it gives the same numbers as on the whole answer, so the markers
    do not change when the answer completes.
    """
    used = [n for n in cited_numbers(text) if known is None or n in known]
    new = {old: i for i, old in enumerate(used, start=1)}

    def swap(m: re.Match) -> str:
        return "".join(f"[{new[int(p)]}]" for p in m.group(1).split(",") if int(p) in new)

    return MARKER.sub(swap, text), new


def renumber(answer):
    """For display: the answer's markers numbered 1..n in order of first use, uncited citations dropped.

    The chain numbers citations by passage (so an answer may read [2][4][6]); a reader expects
    [1][2][3]. Returns a copy of the `assistant.answer.Answer`; the chain's own object is unchanged.
    """
    text, new = renumber_text(answer.text, {c.n for c in answer.citations})
    cits = sorted((c.model_copy(update={"n": new[c.n]}) for c in answer.citations if c.n in new), key=lambda c: c.n)
    return answer.model_copy(update={"text": text, "citations": cits})
