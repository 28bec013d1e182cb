"""One cache of sentence vectors from the retrieval model, shared by every part that compares sentences by
meaning: the re-ranker (assistant/rerank.py), the extractive engine's choice of quoted sentences and the
grounding check of an LLM's answer (assistant/grounding.py).

The corpus's sentences are kept for the life of the process; the ingest writes them beside the index
(`sentences.npz`, keyed by the index's collection name, which names the embedding model and chunking), so a
new process embeds only its questions. Other text (an LLM's answer sentences) goes to a bounded part that is
emptied when full, since it never repeats the corpus.

Texts are keyed with whitespace folded: the model's tokenizer splits on any whitespace, so a sentence
hard-wrapped in its source and the same sentence on one line have the same vector.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from langchain_core.documents import Document

from .text import sentence_spans

SENTENCES_FILE = "sentences.npz"
TRANSIENT_LIMIT = 4096  # vectors of text outside the corpus kept between questions
_MIN_SENTENCE_CHARS = 25  # shorter pieces are headings and list stubs, not statements
_SEPARATOR = "\x1e"  # joins the cached texts into one string: no object arrays, so no pickle on load

Embed = Callable[[list[str]], list[list[float]]]
log = logging.getLogger(__name__)


def sentences_path(index_dir: Path) -> Path:
    return index_dir / SENTENCES_FILE


def fold(text: str) -> str:
    return " ".join(text.split())


def passage_sentences(doc: Document) -> list[str]:
    """The passage's reading text cut into sentences (whitespace folded); the whole text when it has none."""
    text = doc.metadata.get("quote") or doc.page_content
    units = [fold(text[a:b]) for a, b in sentence_spans(text) if b - a > _MIN_SENTENCE_CHARS]
    return units or [fold(text)]


class SentenceVectors:
    """Unit vectors of sentences, embedded once each with `embed` (the retrieval model's)."""

    def __init__(self, embed: Embed, *, saved: Path | None = None, key: str = "",
                 transient_limit: int = TRANSIENT_LIMIT) -> None:
        """`saved`: a file written by `save` for the same `key`; its vectors are used instead of embedding
        those sentences again. A missing file, another key or a damaged file only means embedding on use."""
        self._embed = embed
        self._corpus: dict[str, np.ndarray] = {}
        self._transient: dict[str, np.ndarray] = {}
        self._transient_limit = transient_limit
        self._lock = threading.Lock()
        if saved is not None:
            self._load(saved, key)

    def query(self, text: str) -> np.ndarray:
        """The unit vector of a question (not cached: a question rarely comes twice)."""
        return _unit(np.asarray(self._embed([fold(text)])[0], dtype=np.float32))

    def corpus(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of sentences of the indexed passages, one row per text, in order; kept."""
        return self._vectors(texts, self._corpus)

    def transient(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of other text (an answer's sentences), one row per text; kept until the bound."""
        return self._vectors(texts, self._transient, bound=self._transient_limit)

    def warm(self, docs: Iterable[Document]) -> int:
        """Embed every sentence of `docs` that is not cached yet; how many were."""
        texts = list(dict.fromkeys(t for d in docs for t in passage_sentences(d)))
        with self._lock:
            new = [t for t in texts if t not in self._corpus]
        for i in range(0, len(new), 256):
            self.corpus(new[i:i + 256])
        return len(new)

    def save(self, path: Path, key: str, docs: Iterable[Document] | None = None) -> int:
        """Write the sentence vectors of `docs` (embedding those not cached), or every cached corpus one; a
        folder that cannot be written only logs (it is a cache). Returns how many sentences were embedded."""
        embedded = 0
        if docs is not None:
            docs = list(docs)
            embedded = self.warm(docs)
        with self._lock:
            texts = list(self._corpus) if docs is None else list(dict.fromkeys(t for d in docs for t in passage_sentences(d)))
            vectors = np.stack([self._corpus[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)
        try:
            with open(path, "wb") as f:
                np.savez(f, key=np.array(key), texts=np.array(_SEPARATOR.join(texts)), vectors=vectors)
        except OSError as exc:
            log.warning("Cannot write %s (%s); sentences are embedded on first use instead.", path, exc.strerror or exc)
        return embedded

    def __len__(self) -> int:
        return len(self._corpus)

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
            self._corpus.update(zip(texts, vectors.astype(np.float32)))

    def _vectors(self, texts: Sequence[str], kept: dict[str, np.ndarray], bound: int | None = None) -> np.ndarray:
        keys = [fold(t) for t in texts]
        with self._lock:
            missing = [t for t in dict.fromkeys(keys) if t not in self._corpus and t not in kept]
            if bound is not None and missing and len(kept) + len(missing) > bound:
                hits = {t: kept[t] for t in keys if t in kept}  # this call's own hits survive the emptying
                kept.clear()
                kept.update(hits)
            if missing:
                for text, vec in zip(missing, self._embed(missing)):
                    kept[text] = _unit(np.asarray(vec, dtype=np.float32))
            if not keys:
                return np.zeros((0, 1), dtype=np.float32)
            return np.stack([self._corpus.get(t, kept.get(t)) for t in keys])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)
