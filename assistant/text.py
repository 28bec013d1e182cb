"""Shared word handling for BM25, the extractive engine and the refusal guard."""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he her here
hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our ours
out over own same she should so some such than that the their theirs them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your yours us
let get got tell give want need really also please much many one""".split())

_WORD = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)?")


def tokens(text: str) -> list[str]:
    """BM25 tokenizer: lower-case words minus stop words, Snowball-stemmed ("learn" finds "Learning Curve",
    "hiring" finds "hires", "MVP" finds "MVPs"). Index and query go through this same function."""
    # The plural strip first: Snowball leaves a vowel-less "mvps" or "apis" alone.
    return _stemmer().stemWords([w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                                 for w in re.findall(r"\w\w+", text.lower()) if w not in STOPWORDS])


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: the C Snowball stemmers bm25s documents; built on first use, not at import

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Content terms with a light plural strip, for sentence scoring and coverage."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def idf_table(texts: list[str]) -> dict[str, float]:
    df = Counter(t for text in texts for t in set(terms(text)))
    n = max(1, len(texts))
    return {t: math.log(1 + n / c) for t, c in df.items()}


def coverage(question: str, idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's content terms that occur in the corpus (unknown terms weigh most)."""
    q = set(terms(question))
    if not q or not idf:
        return 0.0
    top = max(idf.values())
    total = sum(idf.get(t, top) for t in q)
    return sum(idf[t] for t in q if t in idf) / total


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[*`])")
_ABBREV = re.compile(r"\b(?:vs|e\.g|i\.e|etc|approx|cf|Mr|Dr|No)\.$", re.I)
_LIST_START = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|#)\s")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence. A line break ends a sentence unless it only wraps one
    (the line ends mid-phrase and the next starts lower-case), so lists and table rows split."""
    cuts = [0]
    for m in SENTENCE_END.finditer(text):
        if not _ABBREV.search(text[max(0, m.start() - 8):m.start()]):
            cuts.append(m.end())
    for m in re.finditer(r"\n", text):
        before, after = text[:m.start()].rstrip(" \t"), text[m.end():].lstrip(" \t")
        wrapped = before[-1:].isalnum() or before[-1:] == ","
        if not (wrapped and after[:1].islower()) or _LIST_START.match(after):
            cuts.append(m.end())
    cuts = sorted(set(cuts + [len(text)]))
    spans = []
    for a, b in zip(cuts, cuts[1:]):
        seg = text[a:b]
        lead, trail = len(seg) - len(seg.lstrip()), len(seg) - len(seg.rstrip())
        if b - trail > a + lead:
            spans.append((a + lead, b - trail))
    return spans
