"""The guide's factor table, parsed from the corpus text itself (never hard-coded).

Used by the chunker (one chunk per row), the extractive engine (winner answers), the eval
harness (ground truth) and the UI's Compare view.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

WINNERS = ("Node.js", "Python", "Tie")
# The two stacks' names as founders write them.
STACK_NAMES = re.compile(r"\b(?:node(?:\.|\s|-)?js|node|python)\b", re.I)  # "node js" too: its "js" is no factor


@dataclass(frozen=True)
class FactorRow:
    """One row of the table, with its character span in the guide's text."""

    factor: str
    node: str
    python: str
    win_cell: str
    winner: str  # one of WINNERS
    start: int
    end: int
    line: int  # 1-based line number in the guide

    def render(self, header: tuple[str, ...]) -> str:
        """The row as self-contained text carrying the header: `Factor: … | Node.js: … | …`."""
        cells = (self.factor, self.node, self.python, self.win_cell)
        return " | ".join(f"{name}: {cell}" for name, cell in zip(header, cells))

    def to_dict(self) -> dict:
        return asdict(self)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def normalize_winner(cell: str) -> str:
    """Map a `Win` cell to Node.js, Python or Tie ('Tie (context-dependent)' is a Tie)."""
    low = cell.strip().lower()
    if low.startswith("tie"):
        return "Tie"
    if low.startswith("node"):
        return "Node.js"
    if low.startswith("python"):
        return "Python"
    raise ValueError(f"Unrecognised winner cell {cell!r}")


def line_offsets(text: str) -> list[int]:
    """Start offset of every line (index 0 = line 1); a final entry is len(text)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    if starts[-1] != len(text):
        starts.append(len(text))
    return starts


def line_span(text: str, offsets: list[int], lineno: int) -> tuple[int, int]:
    """(start, end) of line `lineno` (1-based) without its newline."""
    start = offsets[lineno - 1]
    end = offsets[lineno] if lineno < len(offsets) else len(text)
    return start, len(text[start:end].rstrip("\r\n")) + start


def parse_factor_table(text: str, header_line: int, first_row: int, last_row: int) -> tuple[tuple[str, ...], list[FactorRow]]:
    """Parse the header and rows of the table located at the given 1-based lines."""
    offsets = line_offsets(text)
    hs, he = line_span(text, offsets, header_line)
    header = tuple(_cells(text[hs:he]))
    if len(header) != 4:
        raise ValueError(f"Factor table header at line {header_line} has {len(header)} cells, expected 4")
    rows = []
    for lineno in range(first_row, last_row + 1):
        start, end = line_span(text, offsets, lineno)
        cells = _cells(text[start:end])
        if len(cells) != 4:
            raise ValueError(f"Factor table row at line {lineno} has {len(cells)} cells, expected 4")
        factor, node, python, win = cells
        rows.append(FactorRow(factor, node, python, win, normalize_winner(win), start, end, lineno))
    return header, rows


_FACTOR_TOKEN = re.compile(r"[a-z0-9]+(?:/[a-z0-9]+)*")
_FACTOR_STOP = {"in", "the", "of", "and", "for", "a", "an", "to"}


def _factor_tokens(text: str) -> set[str]:
    out = set()
    for tok in _FACTOR_TOKEN.findall(text.lower().replace("-", " ")):
        out.add(tok)
        out.update(p for p in tok.split("/") if len(p) > 1)
    out = {t[:-1] if len(t) > 4 and t.endswith("s") else t for t in out}
    return {t for t in out if t not in _FACTOR_STOP and (len(t) > 1 or "/" in t)}


def named_factors(question: str, factors: list[str]) -> list[str]:
    """Factors the question names: all of a factor's words, two or more including one that no
    other factor has, or a short distinctive acronym ("AI" names "AI / ML Ecosystem", "CPU"
    names "Performance (CPU)"; "startup" alone names nothing)."""
    # The two stacks being compared are not factors ("Node.js" must not name "Full-Stack JS").
    q = _factor_tokens(STACK_NAMES.sub(" ", question))
    toks = {f: {t for t in _factor_tokens(f) if "/" not in t or t in ("i/o",)} for f in factors}
    named = []
    for f, ft in toks.items():
        others = set().union(*(t for g, t in toks.items() if g != f)) if len(toks) > 1 else set()
        hit = ft & q
        distinctive = hit - others
        acronym = any(len(t) <= 3 for t in distinctive)  # "AI", "CPU", "I/O" name their factor alone
        if ft and (hit == ft or (len(hit) >= 2 and distinctive) or acronym):
            named.append(f)
    # "Performance (I/O)" beats "Performance (CPU)" when only I/O is named.
    return sorted(named, key=lambda f: -len(toks[f] & q))
