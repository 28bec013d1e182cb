"""The extractive engine: no LLM, deterministic, instant. Also the fallback for every LLM engine.

- A comparison question whose top passages include a factor-table row gets the table's verdict
  (winner or tie) with both cells, cited to that row, plus the best supporting guide sentence.
- Any other question gets the most relevant sentences (or list lines) of the top passages,
  quoted verbatim and cited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from langchain_core.documents import Document

from ..question import ASKS_FOR_LIST, INJECTION, weighs_stacks
from ..text import sentence_spans, terms, tokens
from .base import EnginePrompt

_LIST_LINES = 16  # lines of a list answer at most


@dataclass
class Composition:
    """Answer text plus, per passage number, the spans of its quote that were used."""

    text: str
    highlights: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


class ExtractiveEngine:
    """Keeps the `Engine` contract (engines/base.py): not generative, never busy."""

    name = "extractive"
    spec = "extractive"
    generative = False
    exclusive = False

    def __init__(self, idf: dict[str, float] | None = None) -> None:
        self._idf = idf or {}

    def prepare(self, question: str, passages: list[Document]) -> EnginePrompt:
        comp = self.compose(question, passages)
        return EnginePrompt(question=question, shown=list(passages), draft=comp.text, highlights=comp.highlights)

    def write(self, prompt: EnginePrompt) -> Iterator[str]:
        yield from re.findall(r"\S+\s*", prompt.draft)

    def compose(self, question: str, passages: list[Document]) -> Composition:
        if not passages:
            return Composition("The guide doesn't cover that.")
        if ASKS_FOR_LIST.search(question):  # "When should I choose Python?" wants the guide's list, not one row
            listed, overlap = self._list_passage(question, passages[:3])
            if listed is not None and overlap:
                return self._list_answer(passages, listed)
        row_n = self._verdict_row(question, passages)
        if row_n:
            return self._verdict(question, passages, row_n)
        return self._sentences(question, passages)

    # -- factor verdicts ---------------------------------------------------------------
    @staticmethod
    def _verdict_row(question: str, passages: list[Document]) -> int | None:
        if not weighs_stacks(question):
            return None
        for n, doc in enumerate(passages[:3], start=1):
            if doc.metadata.get("kind") == "factor_row":
                return n
        return None

    def _verdict(self, question: str, passages: list[Document], n: int) -> Composition:
        m = passages[n - 1].metadata
        factor, winner = m["factor"], m["winner"]
        if winner == "Tie":
            head = f"The guide's factor table calls {factor} a tie ({_win_note(m['quote'])}) [{n}]."
        else:
            head = f"{winner} wins on {factor} in the guide's factor table [{n}]."
        cells = f"Node.js: {m['node_cell']}; Python: {m['python_cell']} [{n}]."
        comp = Composition(f"{head} {cells}", {n: [(0, len(m["quote"]))]})
        support = self._best_units(question + " " + factor, passages, limit=1, exclude_kind="factor_row", guide_only=True)
        for sn, (s, e), sentence in support:
            comp.text += f" {sentence} [{sn}]"
            comp.highlights.setdefault(sn, []).append((s, e))
        return comp

    # -- quoted sentences ---------------------------------------------------------------
    def _sentences(self, question: str, passages: list[Document]) -> Composition:
        units = self._best_units(question, passages, limit=3)
        if not units:
            units = [(1, *self._first_unit(passages[0]))]
        units.sort(key=lambda u: (u[0], u[1][0]))
        comp = Composition("")
        parts = []
        for n, (s, e), sentence in units:
            parts.append(f"{sentence} [{n}]")
            comp.highlights.setdefault(n, []).append((s, e))
        comp.text = "According to the sources: " + " ".join(parts)
        return comp

    @staticmethod
    def _list_passage(question: str, passages: list[Document]) -> tuple[int | None, int]:
        """(index, title overlap) of the list-like passage whose section title best matches the question."""
        q = set(tokens(question))  # stemmed: "companies" meets the "Company examples" section
        best, best_overlap = None, 0
        for i, doc in enumerate(passages):
            lines = [ln for ln in _quote(doc).split("\n") if ln.strip()]
            if len(lines) < 4 or sum(len(ln) < 200 for ln in lines) < len(lines) * 0.6:
                continue
            overlap = len(q & set(tokens(doc.metadata.get("section", ""))))
            if overlap > best_overlap:
                best, best_overlap = i, overlap
        return best, best_overlap

    @staticmethod
    def _list_answer(passages: list[Document], listed: int) -> Composition:
        """The list's lines in text order, each cited; a list that spans chunks continues with the other
        retrieved passages of the same section ("The five questions" is two chunks)."""
        doc = passages[listed]
        same = [(n, d) for n, d in enumerate(passages, start=1)
                if d.metadata.get("source_id") == doc.metadata.get("source_id")
                and d.metadata.get("section") == doc.metadata.get("section")]
        same.sort(key=lambda nd: nd[1].metadata.get("start", 0))
        comp = Composition(f"From \"{doc.metadata.get('section', '')}\" [{listed + 1}]:\n")
        shown = 0
        for n, part in same:
            content, pos = _quote(part), 0
            for line in [ln for ln in content.split("\n") if ln.strip()]:
                start = content.find(line, pos)
                pos = start + len(line)
                if shown == _LIST_LINES:
                    break
                if INJECTION.search(line):
                    continue
                comp.text += f"- {line.strip()} [{n}]\n"
                comp.highlights.setdefault(n, []).append((start, pos))
                shown += 1
        comp.text = comp.text.rstrip()
        return comp

    def _best_units(self, question: str, passages: list[Document], *, limit: int, exclude_kind: str = "",
                    guide_only: bool = False) -> list[tuple[int, tuple[int, int], str]]:
        q = set(terms(question))
        scored = []
        for n, doc in enumerate(passages, start=1):
            m = doc.metadata
            if (exclude_kind and m.get("kind") == exclude_kind) or (guide_only and not m.get("primary")):
                continue
            if m.get("kind") == "factor_row":
                units = [(0, len(doc.page_content), doc.page_content)]
            else:
                text = m.get("quote", doc.page_content)
                units = [(a, b, text[a:b]) for a, b in sentence_spans(text) if b - a > 25]
            for s, e, sentence in units:
                if INJECTION.search(sentence):  # orders aimed at an assistant are not an answer, even quoted
                    continue
                overlap = q & set(terms(sentence))
                if not overlap:
                    continue
                score = sum(self._idf.get(t, 1.0) for t in overlap) / (1 + 0.15 * (n - 1))
                scored.append((score, n, (s, e), sentence))
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        picked, seen = [], set()
        for _score, n, span, sentence in scored:
            if sentence in seen:
                continue
            seen.add(sentence)
            picked.append((n, span, " ".join(sentence.split())))
            if len(picked) == limit:
                break
        return picked

    @staticmethod
    def _first_unit(doc: Document) -> tuple[tuple[int, int], str]:
        text = _quote(doc)
        spans = sentence_spans(text)
        span = spans[0] if spans else (0, len(text))
        return span, text[span[0]:span[1]].strip()


def _quote(doc: Document) -> str:
    return doc.metadata.get("quote") or doc.page_content


def _win_note(quote: str) -> str:
    cells = [c.strip() for c in quote.strip().strip("|").split("|")]
    return cells[-1] if cells else "Tie"
