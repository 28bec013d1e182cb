"""Shared word handling for BM25, the extractive engine and the refusal guard."""

from __future__ import annotations

import bisect
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


# A sentence ends at . ! or ? (and any closing quotes or brackets) before white space and a capital,
# digit, quote or bracket. Not after an abbreviation ("e.g.", "vs."); never inside a word, so
# "Node.js", "v3.13", "asyncio.run()" and "Django's" stay whole.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[A-Z0-9\"'(\[*`\u201c\u2018])")
_ABBREV = re.compile(r"(?:^|[\s(])(?:vs|e\.g|i\.e|etc|approx|cf|viz|resp|al|ca|Mr|Mrs|Ms|Dr|St|Jr|Sr|No|Fig|Inc|Ltd)\.$",
                     re.I)
_LIST_START = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)]|#)\s")
_LIST_MARKER = re.compile(r"(?:[-*+\u2022]|\d{1,3}[.)])\s+(?=\S)")
_CODE_LINE = re.compile(r"^(?: {4}|\t).*$", re.M)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence. A line break ends a sentence unless it only wraps one
    (the line ends mid-phrase and the next starts lower-case), so lists and table rows split.
    A list item's marker ("- ", "2. ") is not part of its sentence, and code lines (indented four
    spaces or a tab, as `reading.read` writes code) are no sentences at all."""
    cuts = [0]
    for m in SENTENCE_END.finditer(text):
        if not _ABBREV.search(text[max(0, m.start() - 12):m.start()]):
            cuts.append(m.end())
    for m in re.finditer(r"\n", text):
        before, after = text[:m.start()].rstrip(" \t"), text[m.end():].lstrip(" \t")
        wrapped = before[-1:].isalnum() or before[-1:] == ","
        if not (wrapped and after[:1].islower()) or _LIST_START.match(after):
            cuts.append(m.end())
    code = [m.span() for m in _CODE_LINE.finditer(text)]
    for a, b in code:
        cuts += [a, b]
    cuts = sorted(set(cuts + [len(text)]))
    code_starts = [a for a, _ in code]
    spans = []
    for a, b in zip(cuts, cuts[1:]):
        seg = text[a:b]
        lead, trail = len(seg) - len(seg.lstrip()), len(seg) - len(seg.rstrip())
        a2 = a + lead
        if a2 == 0 or text[a2 - 1] == "\n":
            marker = _LIST_MARKER.match(text, a2)
            if marker and marker.end() < b - trail:
                a2 = marker.end()
        k = bisect.bisect_right(code_starts, a2) - 1
        if b - trail > a2 and not (k >= 0 and a2 < code[k][1]):
            spans.append((a2, b - trail))
    return spans
