"""What an answer asserts, read from its text: the verdict (Node.js, Python or Tie), the
(factor, winner) pairs it states, and whether it is a refusal.

Deterministic regular expressions, so every engine (and the naive baseline) is read the same way.
The earliest explicit verdict wins ("Both have strengths, but Python wins" is Python; "Python wins"
later in an answer that opened with "It's a tie" is Tie). An answer that names both stacks without
a verdict has no label, which scores as wrong.
"""

from __future__ import annotations

import re

from ..citations import MARKER
from ..factors import named_factors
from ..text import sentence_spans

NODE, PYTHON, TIE = "Node.js", "Python", "Tie"

_SIDE = r"(?P<side>node\.?js|node(?![.\w])|python|django)"
_NOT = r"(?!(?:not|never|no|doesn't|does|don't|isn't|can't|cannot|won't)\b)"
_WIN = (
    rf"\b{_SIDE}(?:'s)?\s+(?:{_NOT}[\w-]+\s+){{0,2}}?"
    r"(?:wins?\b|is\s+the\s+winner|comes\s+out\s+(?:ahead|on\s+top)|has\s+the\s+(?:edge|advantage|upper\s+hand)|takes\s+(?:it|the\s+win)"
    r"|leads\b|excels\b|is\s+ahead|is\s+the\s+way\s+to\s+go"
    r"|(?:is|would\s+be)\s+(?:the\s+|a\s+)?(?:clear\s+|obvious\s+|clearly\s+)?(?:better|stronger|superior|winner|preferred|recommended|faster|easier|safer|best|right|natural|ideal)\b)",
    rf"\b(?:winner|win|verdict|recommendation|pick)\s*(?:is|:|=|goes\s+to)\s*(?:the\s+)?{_SIDE}\b",
    rf"\b(?:choose|pick|go\s+with|recommend(?:s|ed)?|prefer|favou?rs?|opt\s+for|lean(?:s|ing)?\s+towards?|stick\s+with)\s+(?:using\s+)?{_SIDE}\b",
    rf"\bin\s+{_SIDE}'s\s+favou?r",
    rf"\b(?:better|best|stronger|right)\s+(?:choice|option|pick|fit|bet)\s+(?:is|would\s+be|here\s+is)\s+{_SIDE}\b",
)
# An answer that opens with the stack's name ("Python. ...", "Node.js: ...") states it as the verdict,
# unless it is listing both sides ("Node.js: npm ...; Python: PyPI ...").
_LEAD = re.compile(rf"\A\W*{_SIDE}(?=\s*(?:[.:!;,—–(\[-]|\Z))", re.I)
_LABELLED = re.compile(rf"\b{_SIDE}\s*:", re.I)
_LOSE = (
    rf"\b{_SIDE}\s+(?:is|would\s+be|seems)\s+(?:the\s+|a\s+)?(?:weaker|worse|poorer|inferior|less\s+suited|slower|harder)\b",
    rf"\bavoid\s+{_SIDE}\b",
)
_TIE = re.compile(
    r"\b(?:tie[ds]?|no\s+(?:clear|single|outright)\s+winner|it\s+depends|depends\s+(?:on|heavily)|context[- ]dependent|neither\s+(?:one\s+)?(?:is|wins|has)"
    r"|a\s+draw|on\s+par|evenly\s+matched|equally\s+(?:good|well|strong|suited|viable|capable|fast|high))\b",
    re.I)
_BOTH = re.compile(r"\bboth\b", re.I)
_WIN_RE = [re.compile(p, re.I) for p in _WIN]
_LOSE_RE = [re.compile(p, re.I) for p in _LOSE]
_NODE_NAME = re.compile(r"\bnode(?:\.?js)?\b", re.I)
_PY_NAME = re.compile(r"\b(?:python|django)\b", re.I)
_SEGMENT = re.compile(r"[;,]|\b(?:and|while|whereas|but|however)\b", re.I)

# Declining phrases with the answerer or its material as subject, so a quoted source sentence such as
# "which is not covered in this document" or "If you just don't know, use def" is not a refusal.
_REFUSAL = re.compile(
    r"\b(?:guide|context|passages?|sources?|documents?|text|information)\s+(?:provided\s+|given\s+)?"
    r"(?:does\s+not|doesn't|do\s+not|don't)\s+(?:cover|mention|contain|provide|say|include|specify|discuss|address|answer)\b"
    r"|\bnot\s+(?:covered|mentioned|provided|specified|addressed)\s+(?:in|by)\s+the\s+(?:guide|context|passages?|sources?)\b"
    r"|\bI\s+(?:don't|do\s+not)\s+know\b|\bI\s+(?:cannot|can't|am\s+unable\s+to)\s+(?:answer|determine|find|help)\b"
    r"|\bno\s+(?:relevant\s+)?information\s+(?:about|on|regarding)\b",
    re.I)


def _side(name: str) -> str:
    return NODE if name.lower().startswith("node") else PYTHON


def _other(label: str) -> str:
    return PYTHON if label == NODE else NODE


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def explicit_verdicts(text: str) -> list[tuple[int, str]]:
    """(position, label) of every explicit verdict phrase in `text`, in order."""
    hits = [(m.start(), TIE) for m in _TIE.finditer(text)]
    hits += [(m.start(), _side(m.group("side"))) for rx in _WIN_RE for m in rx.finditer(text)]
    hits += [(m.start(), _other(_side(m.group("side")))) for rx in _LOSE_RE for m in rx.finditer(text)]
    return sorted(hits)


def extract_verdict(text: str, *, strict: bool = False) -> str | None:
    """Node.js, Python, Tie, or None when the text states no verdict.

    Order: an opening stack name ("Python. ...") or else the earliest explicit verdict phrase; else (unless `strict`) "both" reads as a tie, and
    an answer naming exactly one of the stacks reads as that stack."""
    clean = " ".join(strip_markers(text).split())
    hits = explicit_verdicts(clean)
    lead = None if strict else _LEAD.match(clean)
    if lead and len({_side(m.group("side")) for m in _LABELLED.finditer(clean)}) < 2:
        hits.insert(0, (lead.start(), _side(lead.group("side"))))
    if hits:
        return hits[0][1]
    if strict:
        return None
    if _BOTH.search(clean):
        return TIE
    node, py = bool(_NODE_NAME.search(clean)), bool(_PY_NAME.search(clean))
    if node != py:
        return NODE if node else PYTHON
    return None


def asserted_pairs(text: str, factors: list[str]) -> list[tuple[str, str]]:
    """(factor, winner) pairs the text states.

    The text is cut into claims at its [n] markers and sentence ends. A claim holding several
    verdicts is cut further at ';', ',', 'and', 'while', 'whereas', 'but', 'however', each piece
    without a verdict joining the next one ("on the I/O row, Node.js wins"). A unit asserts a
    pair when it names a factor of the table (as `assistant.factors.named_factors` recognises names;
    when one factor is named verbatim, partial matches of others are ignored) and states an explicit
    verdict."""
    pairs: list[tuple[str, str]] = []
    for claim in _claims(text):
        for unit in _units(claim):
            label = extract_verdict(unit, strict=True)
            if label is None:
                continue
            for factor in _factors_named(unit, factors):
                if (factor, label) not in pairs:
                    pairs.append((factor, label))
    return pairs


def _units(claim: str) -> list[str]:
    """The claim itself, or, when it holds several verdicts, its pieces with one verdict each."""
    if len(explicit_verdicts(claim)) <= 1:
        return [claim]
    units, pending = [], ""
    for piece in _SEGMENT.split(claim):
        pending += " " + piece
        if explicit_verdicts(piece):
            units.append(pending)
            pending = ""
    if pending.strip() and units:
        units[-1] += pending
    return units or [claim]


def _claims(text: str) -> list[str]:
    """The text's claims: pieces between [n] markers, each cut at its sentence ends."""
    out = []
    for piece in MARKER.sub("\x00", text).split("\x00"):
        out += [piece[s:e] for s, e in sentence_spans(piece)]
    return out


def _factors_named(unit: str, factors: list[str]) -> list[str]:
    named = named_factors(unit, factors)
    full = [f for f in named if f.lower() in unit.lower()]  # named verbatim
    return full or named


def looks_like_refusal(text: str) -> bool:
    """The answer declines ("The guide doesn't cover that", "the context does not mention ...")."""
    return bool(_REFUSAL.search(text))


# Says that (part of) the question is outside the guide: "The guide does not cover Java", "not discussed
# in the guide", "the guide says nothing about …".
_NOT_COVERED_NOTE = re.compile(
    r"\b(?:does\s+not|doesn't|do\s+not|don't)\s+(?:cover|discuss|mention|address)\b|\bnot\s+(?:covered|discussed|mentioned)\b"
    r"|\bsays?\s+nothing\s+(?:about|on)\b|\bnothing\s+(?:about|on)\b|\boutside\s+(?:the\s+)?(?:guide|its\s+scope)\b", re.I)


def notes_not_covered(text: str) -> bool:
    """Does the answer say what the guide does not cover (a partly covered question's first duty)?"""
    return bool(_NOT_COVERED_NOTE.search(MARKER.sub("", text)))
