""""Not covered" detection: refuse when the evidence is weak or the question is about something
the corpus never mentions.

Signals, tuned on eval/cases.jsonl (see eval/refusal_tuning.md):
- the best dense (cosine) similarity among retrieved passages is below `min_relevance` AND the
  question's content terms are mostly absent from the corpus (IDF-weighted coverage below
  `min_coverage`); MiniLM scores short entity questions ("What did PayPal report?") low, so
  similarity alone would refuse answerable questions;
- the question names a technology or product the corpus never mentions (a capitalised or
  mixed-case term absent from the corpus vocabulary, e.g. "Rust", "Laravel", "AWS"), which a
  similarity score alone cannot catch because such questions still look "about backends".
Small language models ignore "say you don't know" instructions, so this guard runs before
any engine is called.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from langchain_core.documents import Document

from .plan import QuestionPlan, side_of
from .question import asking_part
from .text import STOPWORDS, coverage, terms, tokens

# The intent classifier's probability above which a question it reads as out of scope is refused even
# when it names no other technology (a learning-path or tooling question that shares the guide's words).
OUT_OF_SCOPE_CONFIDENCE = 0.6
# Words of what a question asks above which a lowercase package it names is its setting, not its subject.
SHORT_QUESTION_WORDS = 20

_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_+#.\-]*[A-Za-z0-9+#]|[A-Z]")
# Words that are capitalised in questions without naming anything.
_COMMON = {"i", "we", "our", "my", "is", "are", "should", "which", "what", "how", "why", "when", "can", "do", "does",
           "the", "a", "an", "for", "or", "and", "vs", "ok", "hi", "hello", "please", "thanks", "if", "in", "on",
           "tell", "give", "show", "explain", "compare", "would", "will", "could", "let", "me", "us", "you", "yes", "no"}
# Generic business and engineering words founders capitalise; they name no technology the guide
# would have to cover, so their absence from the corpus says nothing about scope.
_GENERIC = {"saas", "b2b", "b2c", "mvp", "mvps", "cto", "ceo", "cfo", "vc", "vcs", "pmf", "ui", "ux", "db", "sql",
            "nosql", "orm", "http", "https", "json", "cpu", "gpu", "ram", "io", "qa", "ci", "cd", "devops", "seo",
            "crm", "erp", "iot", "llm", "llms", "ai", "ml", "api", "apis", "rest", "crud", "js", "ts", "hipaa",
            "gdpr", "soc", "soc2", "pci", "iso", "yc", "mobile", "web", "backend", "frontend", "startup",
            # units and textbook computing abbreviations: they name a concept, not a product
            "kb", "mb", "gb", "tb", "ms", "gc", "os", "vm", "tcp", "udp", "tls", "ssl", "dns", "url", "uri", "html",
            "css", "cli", "sdk", "ide", "ipc", "rpc", "oop", "fifo", "lifo", "ttl", "jit", "aot", "qty"}


@dataclass(frozen=True)
class Verdict:
    refuse: bool
    best_dense: float
    coverage: float
    unknown_terms: tuple[str, ...]
    reason: str
    # Names the corpus never mentions in a question that is otherwise about a stack: answered, and the
    # answer says the guide does not cover them (assistant/chain.py adds them to the plan's `uncovered`).
    uncovered: tuple[str, ...] = ()
    # A refused question written in another language: the English-only retrieval model cannot tell whether
    # the guide covers it, so the refusal asks for English instead of saying the guide does not cover it.
    other_language: bool = False


def judge(question: str, docs: list[Document], vocabulary: set[str], idf: dict[str, float], min_relevance: float,
          min_coverage: float, second_look: Callable[[], float] | None = None, plan: QuestionPlan | None = None) -> Verdict:
    """`second_look` gives the best similarity of the question as asked, when retrieval embedded only its
    topic (retrieval.topic_query); it is called only when the topic alone would be refused as irrelevant.
    `plan` (assistant/plan.py) refuses what the question's plan reads as out of scope: another technology
    on one side of the comparison, or a question outside a stack choice altogether."""
    verdict = _judge(question, docs, vocabulary, idf, min_relevance, min_coverage, second_look, plan)
    if verdict.refuse and in_another_language(question, vocabulary):
        return replace(verdict, other_language=True)
    return verdict


def _judge(question: str, docs: list[Document], vocabulary: set[str], idf: dict[str, float], min_relevance: float,
           min_coverage: float, second_look: Callable[[], float] | None, plan: QuestionPlan | None) -> Verdict:
    best = max((float(d.metadata.get("dense_score", 0.0)) for d in docs), default=0.0)
    cov = coverage(question, idf)
    # In a question written as context then a question, only the names in what it asks can put it out
    # of scope ("We render PDFs … Which side has more libraries?" asks about libraries, not PDFs).
    asked = asking_part(question) or question
    lower = _lowercase_names(asked, vocabulary)  # once: the long-question rule below reads them apart
    unknown = tuple(unknown_names(asked, vocabulary, lowercase=lower))
    if not docs or not terms(question):
        return Verdict(True, best, cov, unknown, "no question about the guide's subject was asked")
    if plan is not None and plan.out_of_scope and (plan.others or plan.confidence >= OUT_OF_SCOPE_CONFIDENCE):
        why = f"it weighs {', '.join(plan.others)}, which the guide does not compare" if plan.others else \
            f"the question reads as outside a Node.js-vs-Python choice (p={plan.confidence:.2f})"
        return Verdict(True, best, cov, unknown, why)
    if plan is not None:  # a framework of either side ("Tornado", "Express") is on the guide's subject
        unknown = tuple(u for u in unknown if not side_of(u))
    if plan is not None and plan.uncovered:
        unknown = ()  # named, and said to be uncovered in the answer, which answers the rest
    uncovered: tuple[str, ...] = ()
    if unknown and plan is not None and plan.about_the_stacks and not plan.out_of_scope:
        # "Harden our Express app with <a package the docs never name>?" is about Node.js security; the
        # name is the part the guide does not cover, not a reason to refuse the rest.
        unknown, uncovered = (), unknown
    if unknown and plan is not None and not plan.out_of_scope and len(asked.split()) > SHORT_QUESTION_WORDS:
        # A package named in lowercase inside a long question is usually the asker's setup, described on the
        # way to a question about something covered; in a short question it is what is asked about. The
        # setup is said to be uncovered and the rest answered; the subject refuses.
        uncovered = (*uncovered, *(u for u in unknown if u in lower))
        unknown = tuple(u for u in unknown if u not in lower)
    if unknown:
        return Verdict(True, best, cov, unknown, f"the corpus never mentions {', '.join(unknown)}")
    if best < min_relevance and cov < min_coverage and second_look is not None:
        best = max(best, second_look())
    if best < min_relevance and cov < min_coverage:
        return Verdict(True, best, cov, unknown, f"best passage similarity {best:.2f} < {min_relevance:.2f} and term coverage {cov:.2f} < {min_coverage:.2f}")
    return Verdict(False, best, cov, unknown, "", uncovered)


def unknown_names(question: str, vocabulary: set[str], *, lowercase: list[str] | None = None) -> list[str]:
    """Capitalised or mixed-case terms of the question that appear nowhere in the corpus, and lowercase
    ones that are in neither the corpus nor an English dictionary (package names: "djongo", "grpc"), each
    once in order of first mention. `lowercase`: the latter, when the caller has already found them."""
    if lowercase is None:
        lowercase = _lowercase_names(question, vocabulary)
    return list(dict.fromkeys([*lowercase, *_capitalised_names(question, vocabulary)]))


def _capitalised_names(question: str, vocabulary: set[str]) -> list[str]:
    """Capitalised, mixed-case or digit-bearing terms ("Laravel", "GraphQL", "S3") the corpus never mentions."""
    out = []
    for m in _TERM.finditer(question):
        word = m.group()
        before = question[:m.start()].rstrip(" \t\"'(")
        first = not before or before[-1] in ".?!:;\n"  # sentence-initial: capitalised by grammar
        if before.endswith("@") or word.lower() in STOPWORDS or not _looks_like_name(word, first=first):
            continue
        parts = [p for p in re.split(r"[.\-+#]", word.lower()) if len(p) >= 2]
        if not parts or all(_known(p, vocabulary) for p in parts):
            continue
        if len(word) >= 6 and any(difflib.get_close_matches(p, vocabulary, n=1, cutoff=0.8) for p in parts):
            continue  # a typo of a known word ("Pyhton"), not a new name
        out.append(word)
    return out


# A lowercase word, possibly dotted or hyphenated ("tf.js", "node-resque"), outside inline code; an @handle is a person.
# A contraction's first half ("didn" of "didn't") and a version ("v0.12.0") are neither.
_LOWER = re.compile(r"(?<![\w`.\-/@])(?!v\d)[a-z][a-z0-9]*(?:[.\-][a-z0-9]+)*(?![\w`/'’])")
_CODE = re.compile(r"`[^`]*`")
_WORD = re.compile(r"[^\W\d_]+")
_MIN_ENGLISH_SHARE = 0.6  # below it the question is in another language, whose words are not names


def _lowercase_names(question: str, vocabulary: set[str]) -> list[str]:
    """Lowercase words that name something: absent from the corpus and from an English dictionary, and no
    misspelling of an English word (one edit away). Product and package names are often written in
    lowercase in real questions; a capitalisation rule alone misses them."""
    words = [m.group() for m in _LOWER.finditer(_CODE.sub(" ", question))]
    if not words or in_another_language(question, vocabulary):
        return []
    english, common = english_words(), common_english_words()
    out = []
    for word in words:
        parts = [p for p in re.split(r"[.\-]", word) if len(p) >= 2]
        if len(word) < 3 or not parts or word in _COMMON:
            continue
        if all(_known(p, vocabulary) or _is_english(p, english) for p in parts):
            continue
        if len(word) >= 5 and word.isalpha() and (_one_edit_from(word, common) or _compound(word, common)):
            continue  # "recomended", "seperate": a typo; "workflow", "codebase": two English words run together
        out.append(word)
    return list(dict.fromkeys(out))


def in_another_language(question: str, vocabulary: set[str]) -> bool:
    """Is the question mostly words that are neither English nor the corpus's own (an accented or
    non-Latin word counts as neither)?"""
    every = _WORD.findall(_CODE.sub(" ", question).lower())
    if not every:
        return False
    english = english_words()
    readable = sum(w.isascii() and (_is_english(w, english) or _known(w, vocabulary)) for w in every)
    return readable < _MIN_ENGLISH_SHARE * len(every)


_PREFIXES = ("en", "re", "un", "de", "pre", "non", "sub", "over", "under", "multi")


def _compound(word: str, common: frozenset[str]) -> bool:
    """Two common English words of four letters or more written as one ("workflow", "backgroundworkers"),
    or a common word with a prefix ("enqueued", "rerender")."""
    if any(word.startswith(p) and len(word) - len(p) >= 4 and _is_english(word[len(p):], common) for p in _PREFIXES):
        return True
    return any(_is_english(word[:i], common) and _is_english(word[i:], common) for i in range(4, len(word) - 3))


def _is_english(word: str, english: frozenset[str]) -> bool:
    return any(w in english for w in (word, word.rstrip("s"), word[:-2] if word.endswith(("ed", "es")) else word,
                                      word[:-1] if word.endswith("ed") else word, word[:-3] if word.endswith("ing") else word))


def _one_edit_from(word: str, english: frozenset[str]) -> bool:
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b} | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1} \
        | {a + c + b[1:] for a, b in splits if b for c in letters} | {a + c + b for a, b in splits for c in letters}
    return not edits.isdisjoint(english)


# A misspelling is one edit from a common word; a rare one next to a name ("dongo" beside "djongo") is not
# what was meant. A count of 300 in pyspellchecker's list keeps about the 31,000 most frequent words.
_COMMON_COUNT = 300


@functools.lru_cache(maxsize=1)
def _english_counts() -> dict[str, int]:
    """pyspellchecker's English word list with its counts (shipped in its wheel; nothing is downloaded)."""
    from spellchecker import SpellChecker

    return dict(SpellChecker(language="en").word_frequency.dictionary)


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    return frozenset(_english_counts())


@functools.lru_cache(maxsize=1)
def common_english_words() -> frozenset[str]:
    return frozenset(w for w, n in _english_counts().items() if n >= _COMMON_COUNT)


def _known(part: str, vocabulary: set[str]) -> bool:
    """`vocabulary` is the BM25 index's, so it holds stems ("Performance" is known as "perform")."""
    if part in _GENERIC or part in vocabulary or f"{part}s" in vocabulary or part.rstrip("s") in vocabulary:
        return True
    stem = tokens(part)
    return bool(stem) and stem[0] in vocabulary


# Code in the question, not a product: createServer, JSON.parse, CONN_MAX_AGE, RuntimeError. An identifier
# the docs do not mention is a detail of a covered subject (a setting, an exception), not a new subject.
_IDENTIFIER = re.compile(r"[a-z]+[A-Z]\w*|[A-Za-z]+\.[a-z]\w*|\w*_\w+|[A-Z]\w*(?:Error|Exception|Warning)")


def _looks_like_name(word: str, first: bool) -> bool:
    if word.lower() in _COMMON or len(word) < 2 or _IDENTIFIER.fullmatch(word):
        return False
    if word.isupper() or any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word):
        return True  # AWS, PostgreSQL, GraphQL, S3
    return word[0].isupper() and not first
