"""Second-stage ranking of retrieved passages by their best sentence.

A passage's one embedding averages all its sentences, so the passage holding the one sentence that
answers a question often ranks below passages that share its general subject (measured on the four
real-question tuning sets: the passage holding a question's evidence was in the top 6 for 66 of 138
questions, and in the top 40 for 116). Scoring each candidate by its sentence closest to the question,
with the same retrieval model, added to its fused first-stage score, puts it in the top 6 for 71 as
shipped, for explanations and facts only (74 for every intent; eval/README.md, "Sixth pass").

Why not a library re-ranker: the usual second stage is a cross-encoder (LangChain's
CrossEncoderReranker, FlashRank), and none ships its weights on a registry this project may use at
run time; the retrieval model is already loaded, and its sentence vectors are cached here. The ingest
embeds every chunk's sentences once (about a thousand, ~3 s) and writes them beside the index
(`sentences.npz`), so a new process does not embed them on its first questions (250–730 ms each
before the file existed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from langchain_core.documents import Document

from .text import sentence_spans

# Share of the first-stage (fused) score, as a fraction of the best candidate's, in the second-stage
# score; the rest is the best sentence's cosine similarity (0.3–0.5 all gave 76–78 of 138; middle kept).
FIRST_STAGE_SHARE = 0.4
# Candidates re-ranked: more than the answer step reads, so a passage ranked 7th–30th can come up.
RERANK_DEPTH = 30
_MIN_SENTENCE_CHARS = 25  # shorter pieces are headings and list stubs, not statements
SENTENCES_FILE = "sentences.npz"
_SEPARATOR = "\x1e"  # joins the cached texts into one string: no object arrays, so no pickle on load

log = logging.getLogger(__name__)


def sentences_path(index_dir: Path) -> Path:
    return index_dir / SENTENCES_FILE


class SentenceReranker:
    """Re-ranks candidates by first-stage score plus their best sentence's similarity to the question."""

    def __init__(self, embed: Callable[[list[str]], list[list[float]]], *, share: float = FIRST_STAGE_SHARE,
                 saved: Path | None = None, key: str = "") -> None:
        """`saved`: a file written by `save` for the same `key` (the index's collection name, which names the
        embedding model and chunking); its vectors are used instead of embedding those sentences again."""
        self._embed = embed
        self._share = share
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        if saved is not None:
            self._load(saved, key)

    def warm(self, docs: Iterable[Document]) -> None:
        """Embed every sentence of `docs` that is not cached yet."""
        texts = [t for d in docs for t in passage_sentences(d)]
        for i in range(0, len(texts), 256):
            self._unit_vectors(texts[i:i + 256])

    def save(self, path: Path, key: str, docs: Iterable[Document] | None = None) -> None:
        """Write the sentence vectors of `docs` (embedding those not cached), or every cached one; a folder
        that cannot be written only logs (it is a cache)."""
        if docs is not None:
            docs = list(docs)
            self.warm(docs)
        with self._lock:
            texts = list(self._vectors) if docs is None else list(dict.fromkeys(t for d in docs for t in passage_sentences(d)))
            vectors = np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)
        try:
            with open(path, "wb") as f:
                np.savez(f, key=np.array(key), texts=np.array(_SEPARATOR.join(texts)), vectors=vectors)
        except OSError as exc:
            log.warning("Cannot write %s (%s); sentences are embedded on first use instead.", path, exc.strerror or exc)

    def _load(self, path: Path, key: str) -> None:
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as saved:
                if str(saved["key"]) != key:
                    log.info("%s was written for %s, not %s; sentences are embedded on first use.", path, saved["key"], key)
                    return
                texts, vectors = str(saved["texts"]).split(_SEPARATOR), saved["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Cannot read %s (%s); sentences are embedded on first use instead.", path, exc)
            return
        if len(texts) == len(vectors):
            self._vectors.update(zip(texts, vectors.astype(np.float32)))

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
