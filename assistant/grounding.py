"""Sentence-level grounding: is each sentence of a written answer supported by the passages it cites?

`Checker(vectors).check(answer_text, passages)` splits the answer into sentences and scores every
sentence that claims something against the passages it cites, taken together:

    score = WEIGHT * cosine + (1 - WEIGHT) * overlap

`cosine` is the best all-MiniLM-L6-v2 similarity between the sentence and a unit of a cited passage
(its sentences; a factor-table row also as one unit per side, "Security (Built-in): Python: Django includes …"),
with the encoder the knowledge base already loaded, from its shared sentence vectors; `overlap` the share
of the sentence's stemmed content words (stack names aside) found in the passages. A sentence is supported when the score
reaches THRESHOLD and nothing contradicts it:
- a number (figure, percentage, year; "5M" = "5 million") that no cited passage holds;
- a verdict on a factor-table row ("Node.js wins on Security (Built-in)") that differs from the row's Win
  cell, for any row shown;
- a side swapped: the sentence names one stack and matches the other side's cell of a row (or the
  best-matching passage sentence names only the other stack).
WEIGHT and THRESHOLD are calibrated on eval/grounding/claims.jsonl (eval/README.md, "Grounding").
Entailment models are not available offline; this is the cheap, measurable substitute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from langchain_core.documents import Document

from .citations import MARKER
from .factors import named_factors
from .sentence_vectors import SentenceVectors
from .text import sentence_spans, tokens


WEIGHT = 0.6  # of the cosine; the rest is the content-word overlap (eval/grounding_calibration.md)
THRESHOLD = 0.77

_NODE = re.compile(r"\bnode(?:\.?js)?\b", re.I)
_PY = re.compile(r"\b(?:python|django)\b", re.I)
_STACK_STEMS = {"node", "nodej", "js", "python", "django"}
_SIDE = r"(?P<side>node\.?js|node|python|django)"
_VERDICT = [re.compile(p, re.I) for p in (
    rf"\b{_SIDE}(?:'s)?\s+(?:[\w-]+\s+){{0,2}}?(?:wins?|is\s+the\s+(?:clear\s+)?winner|has\s+the\s+(?:edge|advantage)|leads|excels"
    r"|comes\s+out\s+ahead|(?:is|are)\s+(?:the\s+|a\s+)?(?:clearly\s+|clear\s+)?(?:better|stronger|superior|winner|best|preferred))\b",
    rf"\b(?:winner|win|edge|advantage|verdict)\s*(?:is|:|goes\s+to)\s*(?:the\s+)?{_SIDE}\b",
    rf"\b(?:favou?rs?|in)\s+{_SIDE}(?:'s\s+favou?r)?\b(?!\s+and)",
)]
_TIE = re.compile(r"\b(?:ties?|tied|no\s+clear\s+winner|neither\s+(?:stack\s+)?wins|a\s+draw|evenly\s+matched)\b", re.I)
_NOT_COVERED = re.compile(r"\b(?:guide|passages?|sources?|context)\s+(?:does\s+not|doesn't|do\s+not|don't)\s+"
                          r"(?:cover|mention|say|address)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)\s*(%|\s?(?:million|thousand|billion)\b|[mkb]\b\+?|x\b)?", re.I)
_SCALE = {"m": 1e6, "million": 1e6, "k": 1e3, "thousand": 1e3, "b": 1e9, "billion": 1e9}
_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_WORD_NUM = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.I)
_LEAD_MARKERS = re.compile(r"(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+")


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer as checked."""

    text: str  # as written, markers included
    span: tuple[int, int]  # where in the answer text
    cited: tuple[int, ...]  # its [n] markers
    claim: bool  # says something checkable (not a heading, question or "the guide does not cover …")
    supported: bool  # by its cited passages together (an unmarked sentence: by `best`)
    best: int | None  # the passage that supports it best
    score: float  # of the cited passages together (unmarked: of `best`)
    reason: str  # "supported", "recited", "no claim", "number", "winner", "swapped sides", "weak support", "no citation"
    needed: tuple[int, ...] = ()  # cited passages that are needed (ALCE precision: supports alone, or the rest does not)


@dataclass(frozen=True)
class Grounding:
    """An answer's sentences as checked; `answer` is the text they were cut from."""

    answer: str = ""
    sentences: list[SentenceCheck] = field(default_factory=list)

    @property
    def claims(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.claim]

    @property
    def unsupported(self) -> list[SentenceCheck]:
        return [s for s in self.claims if not s.supported and s.reason != "recited"]

    def checked_text(self) -> str:
        """The answer with unsupported sentences dropped, and the supporting [n] added to (or put in
        place of the markers of) a sentence whose own markers did not support it."""
        out, end = [], 0
        for s in self.sentences:
            gap = self.answer[end:s.span[0]]
            end = s.span[1]
            if s.claim and s.reason not in ("supported", "recited"):
                continue
            text = s.text
            if s.reason == "recited":
                text = re.sub(r"[ \t]{2,}", " ", MARKER.sub("", text)).rstrip()  # "The guide [1] states" -> one space
                text = re.sub(r"\s*([.!?:;]?)$", lambda m: f" [{s.best}]{m.group(1)}", text, count=1)
            out.append((gap if out else "") + text)
        text = "".join(out) + (self.answer[end:] if out else "")
        return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()


def _numbers(text: str) -> set[float]:
    text = _WORD_NUM.sub(lambda m: _WORDS[m.group(1).lower()], text)
    found = set()
    for m in _NUMBER.finditer(text):
        raw = m.group(1).replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        scale = (m.group(2) or "").strip().lower().rstrip("+")
        found.add(value * _SCALE.get(scale, 1.0))
    return found


def _family(text: str) -> set[str]:
    return {f for f, rx in (("node", _NODE), ("python", _PY)) if rx.search(text)}


def verdicts(text: str) -> list[str]:
    """Stacks (or "Tie") the text declares winners."""
    found = []
    for rx in _VERDICT:
        for m in rx.finditer(text):
            side = m.group("side").lower()
            found.append("Python" if side in ("python", "django") else "Node.js")
    if _TIE.search(text):
        found.append("Tie")
    return found


def _content(text: str) -> set[str]:
    return {t for t in tokens(text) if t not in _STACK_STEMS and not t.isdigit()}


def _units(doc: Document) -> list[str]:
    m = doc.metadata
    if m.get("kind") == "factor_row":
        f = m.get("factor", "")
        return [doc.page_content, f"{f}: Node.js: {m.get('node_cell', '')}", f"{f}: Python: {m.get('python_cell', '')}",
                f"{f}: {m.get('winner', '')} wins"]
    text = doc.page_content
    return [text[a:b] for a, b in sentence_spans(text)] or [text]


class Checker:
    """Scores sentences against passages with one encoder (cached per text) and the rules above."""

    def __init__(self, vectors: SentenceVectors | None = None, *, weight: float = WEIGHT, threshold: float = THRESHOLD) -> None:
        """`vectors`: the index's sentence vectors (assistant/sentence_vectors.py); without them only the
        word overlap scores a sentence."""
        self.vectors, self.weight, self.threshold = vectors, weight, threshold

    def _vectors(self, claims: list[str], units: list[str]) -> dict[str, np.ndarray]:
        """Unit vectors of the answer's sentences (kept only for a while) and of the passages' units (the corpus's)."""
        if self.vectors is None:
            return {}
        out = dict(zip(claims, self.vectors.transient(claims)))
        out.update(zip(units, self.vectors.corpus(units)))
        return out

    def check(self, answer_text: str, passages: Mapping[int, Document] | Sequence[Document]) -> Grounding:
        """Every sentence of `answer_text` checked against `passages` (numbered [1]..[n] as a list, or by
        number as a mapping)."""
        docs = dict(passages) if isinstance(passages, Mapping) else dict(enumerate(passages, start=1))
        sents = _sentences(answer_text)
        plains = [MARKER.sub("", s).strip() for s, _, _ in sents]
        units = {n: _units(d) for n, d in docs.items()}
        vec = self._vectors(plains, [u for us in units.values() for u in us])
        rows = [d for d in docs.values() if d.metadata.get("kind") == "factor_row"]
        out = []
        for (text, span, cited), plain in zip(sents, plains):
            if not _is_claim(plain):
                out.append(SentenceCheck(text, span, cited, False, True, None, 0.0, "no claim"))
                continue
            cited = tuple(n for n in cited if n in docs)
            if _contradicts_winner(plain, rows):
                out.append(SentenceCheck(text, span, cited, True, False, None, 0.0, "winner"))
                continue
            judged = self._judge(plain, cited, docs, units, vec) if cited else (0.0, "no citation")
            needed = tuple(n for n in cited if self._needed(plain, n, cited, docs, units, vec)) if judged[1] == "supported" else ()
            if judged[1] == "supported":
                out.append(SentenceCheck(text, span, cited, True, True, cited[0] if len(cited) == 1 else self._best(plain, cited, units, vec),
                                         judged[0], "supported", needed))
                continue
            alone = [(self._judge(plain, (n,), docs, units, vec), n) for n in docs if n not in cited]
            ok = [(s, n) for (s, r), n in alone if r == "supported"]
            if ok:
                score, n = max(ok)
                out.append(SentenceCheck(text, span, cited, True, False, n, score, "recited", (n,)))
            else:
                out.append(SentenceCheck(text, span, cited, True, False, None, judged[0], judged[1]))
        return Grounding(answer_text, out)

    def _judge(self, plain: str, cited: tuple[int, ...], docs, units, vec) -> tuple[float, str]:
        together = " ".join(docs[n].page_content for n in cited)
        if not _numbers(plain) <= _numbers(together):
            return 0.0, "number"
        us = [u for n in cited for u in units[n]]
        cos = [float(vec[plain] @ vec[u]) if plain in vec and u in vec else 0.0 for u in us]
        best = max(cos, default=0.0)
        if _swapped(plain, [docs[n] for n in cited], us, cos):
            return best, "swapped sides"
        words = _content(plain)
        overlap = len(words & _content(together)) / len(words) if words else 1.0
        score = self.weight * best + (1 - self.weight) * overlap
        return round(score, 4), "supported" if score >= self.threshold else "weak support"

    def _needed(self, plain, n, cited, docs, units, vec) -> bool:
        if self._judge(plain, (n,), docs, units, vec)[1] == "supported":
            return True
        rest = tuple(c for c in cited if c != n)
        return not rest or self._judge(plain, rest, docs, units, vec)[1] != "supported"

    def _best(self, plain, cited, units, vec) -> int:
        return max(cited, key=lambda n: max((float(vec[plain] @ vec[u]) for u in units[n] if plain in vec and u in vec), default=0.0))


def _sentences(text: str) -> list[tuple[str, tuple[int, int], tuple[int, ...]]]:
    """(sentence with its markers, its span, cited numbers); markers opening a segment belong to the sentence before."""
    spans: list[list[int]] = []
    for a, b in sentence_spans(text):
        lead = _LEAD_MARKERS.match(text, a)
        if lead and spans:
            spans[-1][1] = lead.end()
            a = lead.end()
            while a < b and text[a].isspace():
                a += 1
        if a < b:
            spans.append([a, b])
    result = []
    for a, b in spans:
        seg = text[a:b]
        nums = tuple(dict.fromkeys(int(p) for m in MARKER.finditer(seg) for p in m.group(1).split(",")))
        result.append((seg, (a, b), nums))
    return result


def _is_claim(plain: str) -> bool:
    if not plain or plain.rstrip().endswith(("?", ":")) or _NOT_COVERED.search(plain):
        return False
    return len(_content(plain)) >= 2 or bool(_numbers(plain))


def _contradicts_winner(plain: str, rows: list[Document]) -> bool:
    if not rows:
        return False
    factors = [r.metadata["factor"] for r in rows]
    winner = {r.metadata["factor"]: r.metadata.get("winner", "") for r in rows}
    for piece in re.split(r";|\bwhile\b|\bwhereas\b|\bbut\b|,\s*and\b", plain, flags=re.I):
        said = verdicts(piece)
        if len(set(said)) != 1:
            continue
        for f in named_factors(piece, factors) or (named_factors(plain, factors) if len(verdicts(plain)) == 1 else []):
            w = winner[f]
            if said[0] != ("Tie" if w.startswith("Tie") else w):
                return True
    return False


def _swapped(plain: str, cited: list[Document], units: list[str], cos: list[float]) -> bool:
    """The sentence names one stack but says what the passages say of the other."""
    fam = _family(plain)
    if len(fam) != 1 or verdicts(plain):
        return False
    (side,) = fam
    words = _content(plain)
    for d in cited:
        m = d.metadata
        if m.get("kind") == "factor_row":
            own, other = (m.get("node_cell", ""), m.get("python_cell", "")) if side == "node" else (m.get("python_cell", ""), m.get("node_cell", ""))
            if len(words & _content(other)) > len(words & _content(own)) + 0:
                return True
    single = [(c, _family(u)) for u, c in zip(units, cos) if len(_family(u)) == 1]
    if single and cos:
        top, fam_top = max(single, key=lambda x: x[0])
        return top >= max(cos) - 1e-6 and fam_top != fam and top > 0.45
    return False
