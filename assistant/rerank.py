"""Second-stage ranking of retrieved passages by their best sentence.

A passage's one embedding averages all its sentences, so the passage holding the one sentence that
answers a question often ranks below passages that share its general subject (measured on the four
real-question tuning sets: the passage holding a question's evidence was in the top 6 for 64 of 138
questions, and in the top 40 for 116). Scoring each candidate by its sentence closest to the question,
with the same retrieval model, added to its fused first-stage score, puts it in the top 6 for 76–78
(each tuning set gained; eval/README.md, "Sentence re-ranking").

Why not a library re-ranker: the usual second stage is a cross-encoder (LangChain's
CrossEncoderReranker, FlashRank), and none ships its weights on a registry this project may use at
run time; the retrieval model is already loaded, and its sentence vectors are cached here, so the
whole corpus (about a thousand sentences) is embedded at most once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from langchain_core.documents import Document

from .text import sentence_spans

# Share of the first-stage (fused) score, as a fraction of the best candidate's, in the second-stage
# score; the rest is the best sentence's cosine similarity (0.3–0.5 all gave 76–78 of 138; middle kept).
FIRST_STAGE_SHARE = 0.4
# Candidates re-ranked: more than the answer step reads, so a passage ranked 7th–30th can come up.
RERANK_DEPTH = 30
_MIN_SENTENCE_CHARS = 25  # shorter pieces are headings and list stubs, not statements


class SentenceReranker:
    """Re-ranks candidates by first-stage score plus their best sentence's similarity to the question."""

    def __init__(self, embed: Callable[[list[str]], list[list[float]]], *, share: float = FIRST_STAGE_SHARE) -> None:
        self._embed = embed
        self._share = share
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def rerank(self, question: str, docs: list[Document], scores: list[float]) -> list[Document]:
        """`docs` ordered best first by the second-stage score; `scores` are their first-stage scores."""
        if len(docs) < 2:
            return list(docs)
        top = max(scores) or 1.0
        sentences = [passage_sentences(d) for d in docs]
        q = np.asarray(self._embed([" ".join(question.split())])[0], dtype=np.float32)  # not cached: questions never repeat a corpus
        q /= max(float(np.linalg.norm(q)), 1e-12)
        best = []
        for units in sentences:
            vectors = self._unit_vectors(units)
            best.append(float((vectors @ q).max()) if len(units) else 0.0)
        order = sorted(range(len(docs)), key=lambda i: (-(self._share * scores[i] / top + best[i]), i))
        return [docs[i] for i in order]

    def _unit_vectors(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            if missing:
                for text, vec in zip(missing, self._embed(missing)):
                    v = np.asarray(vec, dtype=np.float32)
                    self._vectors[text] = v / max(float(np.linalg.norm(v)), 1e-12)
            if not texts:
                return np.zeros((0, 1), dtype=np.float32)
            return np.stack([self._vectors[t] for t in texts])


def passage_sentences(doc: Document) -> list[str]:
    """The passage's reading text cut into sentences (whitespace folded); the whole text when it has none."""
    text = doc.metadata.get("quote") or doc.page_content
    units = [" ".join(text[a:b].split()) for a, b in sentence_spans(text) if b - a > _MIN_SENTENCE_CHARS]
    return units or [" ".join(text.split())]
