"""Hybrid retrieval: dense (Chroma, cosine) + BM25, fused by their min-max normalised scores; a factor
the question names outright puts its table row first.

We fuse with a small function rather than LangChain's EnsembleRetriever because the answer
step needs each passage's dense similarity (for "not covered" refusals) and the guide must get
a primary-source boost on near-ties; EnsembleRetriever returns neither scores nor hooks. Scores,
not ranks (RRF), are fused because the margin matters here: a factor row far closer to the question
than anything else must not tie with a passage that merely ranks well in both lists (eval/README.md,
"Retrieval changes": winner accuracy 0.90 -> 0.975 on cases.jsonl, 0.61 -> 0.73 on blind.jsonl).
"""

from __future__ import annotations

import math
import re

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .factors import named_factors
from .knowledge import KnowledgeBase
from .plan import QuestionPlan
from .question import topic_query
from .rerank import RERANK_DEPTH
from .store import server_unavailable
from .text import tokens as text_tokens


class HybridRetriever(BaseRetriever):
    """Dense + BM25, score fusion; returned docs carry `dense_score`, `bm25_score` and `fused_score`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: KnowledgeBase
    k: int = 6
    fetch_k: int = 20
    dense_weight: float = 0.5  # BM25 gets the rest
    primary_boost: float = 1.15
    rerank: bool = True  # the second stage (assistant/rerank.py) for intents answered by one sentence

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None) -> list[Document]:
        return self._ranked(query, topic_query(query))

    def search(self, plan: QuestionPlan) -> list[Document]:
        """Retrieve for a planned question: its topic on both retrievers (plan.topic), its named factors first."""
        # An explanation ("how does the event loop …?") is the official docs' subject as much as the
        # guide's: no primary-source boost for it.
        boost = 1.0 if plan.intent == "explain" else self.primary_boost
        return self._ranked(plan.question, plan.topic or plan.question, boost, parts=_parts(plan.question),
                            second_stage=self.rerank and plan.intent in SENTENCE_ANSWERED)

    def _fused(self, topic: str) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        """Fused, dense and BM25 scores of one search text."""
        # The topic on both sides: "a worse fit" must not match "Excellent fit" either.
        dense = self._canonical(self.dense(topic))
        sparse = self._canonical(self.sparse(topic))
        fused: dict[str, float] = {}
        for weight, ranked in ((self.dense_weight, dense), (1.0 - self.dense_weight, sparse)):
            for cid, share in _normalised(ranked):
                fused[cid] = fused.get(cid, 0.0) + weight * share
        return fused, dict(dense), dict(sparse)

    def _ranked(self, query: str, topic: str, primary_boost: float | None = None,
                parts: list[tuple[str, float]] | None = None, second_stage: bool = False) -> list[Document]:
        boost = self.primary_boost if primary_boost is None else primary_boost
        fused, dense_scores, bm25_scores = self._fused(topic)
        if parts:
            # A question written as several sentences: each sentence searched on its own too (a long text's
            # one embedding blurs its point), the scores added with the sentence's weight.
            total = 1.0 + sum(w for _, w in parts)
            fused = {cid: v / total for cid, v in fused.items()}
            for text, weight in parts:
                more, dense_more, bm25_more = self._fused(text)
                for cid, v in more.items():
                    fused[cid] = fused.get(cid, 0.0) + weight * v / total
                for cid, v in dense_more.items():
                    dense_scores[cid] = max(dense_scores.get(cid, v), v)
                for cid, v in bm25_more.items():
                    bm25_scores[cid] = max(bm25_scores.get(cid, v), v)
        by_id = self.kb.by_id
        # A question that names a factor must surface that factor's table row, first.
        rows = {d.metadata["factor"]: d.metadata["chunk_id"] for d in self.kb.factor_rows}
        top = max(fused.values(), default=1.0) * self.primary_boost
        named = named_factors(query, list(rows))
        for i, factor in enumerate(named):
            fused[rows[factor]] = top * (1.5 - 0.01 * i)
        out = []
        for cid, score in fused.items():
            doc = by_id.get(cid)
            if doc is None:
                continue
            if doc.metadata.get("primary"):
                score *= boost
            meta = {**doc.metadata, "dense_score": round(dense_scores.get(cid, self._missing_dense()), 4),
                    "bm25_score": round(bm25_scores.get(cid, 0.0), 4), "fused_score": score}
            out.append(Document(page_content=doc.page_content, metadata=meta, id=cid))
        out.sort(key=lambda d: (-d.metadata["fused_score"], d.metadata["chunk_id"]))
        if second_stage:
            out = self._second_stage(query, out, pinned=len(named))
        return out[: self.k]

    def _second_stage(self, query: str, ranked: list[Document], pinned: int) -> list[Document]:
        """The first RERANK_DEPTH candidates re-ranked by their best sentence (assistant/rerank.py); the
        factor rows the question names stay first."""
        head, tail = ranked[pinned:RERANK_DEPTH], ranked[RERANK_DEPTH:]
        reordered = self.kb.reranker.rerank(query, head, [d.metadata["fused_score"] for d in head])
        return ranked[:pinned] + reordered + tail

    def _canonical(self, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Map extra vectors (a factor row's prose context) to their row; keep each row's best rank."""
        by_id, seen, out = self.kb.by_id, set(), []
        for cid, score in ranked:
            doc = by_id.get(cid)
            cid = (doc.metadata.get("parent_id") or cid) if doc is not None else cid
            if cid not in seen:
                seen.add(cid)
                out.append((cid, score))
        return out

    def dense(self, query: str) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) best first."""
        try:
            hits = self.kb.store.similarity_search_with_score(query, k=min(self.fetch_k, len(self.kb.docs)))
        except Exception as exc:
            if self.kb.settings.store_mode != "server":
                raise
            # Down or restarted mid-session: a clear error now; the next question reconnects.
            raise server_unavailable(self.kb.settings, exc) from exc
        return [(d.metadata["chunk_id"], 1.0 - float(dist)) for d, dist in hits]

    def sparse(self, query: str) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; empty when no query term is in the corpus."""
        bm25 = self.kb.bm25
        tokens = [t for t in text_tokens(query) if t in bm25.vocab_dict]
        if not tokens:
            return []
        k = min(self.fetch_k, len(self.kb.docs))
        # n_threads=0 scores inline; any other value starts a thread pool per query (+0.5 ms p50, +3 ms p95).
        ids, scores = bm25.retrieve([tokens], k=k, show_progress=False, n_threads=0)
        docs = self.kb.docs
        return [(docs[int(i)].metadata["chunk_id"], float(s)) for i, s in zip(ids[0], scores[0]) if s > 0 and not math.isnan(s)]

    def best_similarity(self, query: str) -> float:
        """The best dense similarity of the question as asked (the refusal guard's second look)."""
        ranked = self.dense(query)
        return ranked[0][1] if ranked else 0.0

    @staticmethod
    def _missing_dense() -> float:
        return 0.0


# Intents whose answer is a sentence or two of the sources, which the second stage finds better than a
# passage's one vector; a list or a verdict is a whole passage or table row, which the first stage ranks.
SENTENCE_ANSWERED = frozenset({"explain", "fact"})

# Weights of a long question's sentences in the fused ranking: the sentences that ask, and the context.
ASKING_WEIGHT, CONTEXT_WEIGHT = 1.0, 0.5
_MIN_PART_WORDS = 4


def _parts(question: str) -> list[tuple[str, float]]:
    """(sentence, weight) of a question written as several sentences; [] for a one-sentence question."""
    sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", question) if len(s.split()) >= _MIN_PART_WORDS]
    if len(sentences) < 2:
        return []
    return [(s, ASKING_WEIGHT if s.rstrip(" )\"'").endswith("?") else CONTEXT_WEIGHT) for s in sentences]


def _normalised(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Each candidate's score as a share of the list's range (best 1.0, worst fetched 0.0); a candidate
    the list did not fetch contributes nothing from it."""
    if not ranked:
        return []
    hi, lo = max(s for _, s in ranked), min(s for _, s in ranked)
    return [(cid, (s - lo) / (hi - lo) if hi > lo else 1.0) for cid, s in ranked]


def build_retriever(kb: KnowledgeBase, *, k: int | None = None) -> HybridRetriever:
    s = kb.settings
    return HybridRetriever(kb=kb, k=k or s.k, fetch_k=max(s.fetch_k, k or s.k), dense_weight=s.dense_weight,
                           primary_boost=s.primary_boost)
