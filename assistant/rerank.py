"""Second-stage ranking of retrieved passages by their best sentence.

A passage's one embedding averages all its sentences, so the passage holding the one sentence that
answers a question often ranks below passages that share its general subject (measured on the four
real-question tuning sets: the passage holding a question's evidence was in the top 6 for 66 of 138
questions, and in the top 40 for 116). Scoring each candidate by its sentence closest to the question,
with the same retrieval model, added to its fused first-stage score, puts it in the top 6 for 71 as
shipped, for explanations and facts only (74 for every intent; eval/README.md, "Sixth pass").

Why not a library re-ranker: the usual second stage is a cross-encoder (LangChain's
CrossEncoderReranker, FlashRank), and none ships its weights on a registry this project may use at
run time; the retrieval model is already loaded, and its sentence vectors are shared with the extractive
engine and the grounding check (assistant/sentence_vectors.py). The ingest embeds every chunk's sentences
once (about a thousand, ~3 s) and writes them beside the index (`sentences.npz`), so a new process does not
embed them on its first questions (250–730 ms each before the file existed).
"""

from __future__ import annotations

from langchain_core.documents import Document

from .sentence_vectors import SentenceVectors, passage_sentences

# Share of the first-stage (fused) score, as a fraction of the best candidate's, in the second-stage
# score; the rest is the best sentence's cosine similarity (0.3–0.5 all gave 76–78 of 138; middle kept).
FIRST_STAGE_SHARE = 0.4
# Candidates re-ranked: more than the answer step reads, so a passage ranked 7th–30th can come up.
RERANK_DEPTH = 30


class SentenceReranker:
    """Re-ranks candidates by first-stage score plus their best sentence's similarity to the question."""

    def __init__(self, vectors: SentenceVectors, *, share: float = FIRST_STAGE_SHARE) -> None:
        self._vectors = vectors
        self._share = share

    def rerank(self, question: str, docs: list[Document], scores: list[float]) -> list[Document]:
        """`docs` ordered best first by the second-stage score; `scores` are their first-stage scores."""
        if len(docs) < 2:
            return list(docs)
        top = max(scores) or 1.0
        q = self._vectors.query(question)
        best = [float((self._vectors.corpus(passage_sentences(d)) @ q).max()) for d in docs]
        order = sorted(range(len(docs)), key=lambda i: (-(self._share * scores[i] / top + best[i]), i))
        return [docs[i] for i in order]
