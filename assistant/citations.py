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
