"""The chunk list and its BM25 index in one compact file, `<index dir>/lexical.npz`, written at ingest.

Loading it replaces reading every chunk from Chroma and re-tokenising them at each start (~0.1 s per
1,000 chunks plus the read). It is trusted only when it matches the store: the same collection, the
sha256 of the store's sorted chunk ids, and the same BM25 tokenizer (its output on a probe sentence).
Anything else (missing, stale, damaged, another format) returns the reason, and the caller rebuilds it
from the store and logs why. `numpy.load(allow_pickle=False)`: the file holds arrays and JSON only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document

log = logging.getLogger("assistant.index")

FILE = "lexical.npz"
FORMAT = 1
# Words that exercise the tokenizer's stop words, plural strip, stemming and dotted names.
TOKENIZER_PROBE = "The APIs of Node.js hires Learning Curves, MVPs and classes running faster"
_PARAMS = ("k1", "b", "delta", "method", "idf_method", "dtype", "int_dtype", "backend")


@dataclass
class Lexical:
    """The chunks in store order and the BM25 model indexed over them (row i of BM25 = docs[i])."""

    docs: list[Document]
    bm25: object  # bm25s.BM25 when built, CompactBM25 when loaded


def lexical_path(index_dir: Path) -> Path:
    return Path(index_dir) / FILE


def ids_fingerprint(ids: list[str]) -> str:
    """The index fingerprint the file is checked against: sha256 of the sorted chunk ids (content hashes)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def tokenizer_probe() -> list[str]:
    from .text import tokens

    return tokens(TOKENIZER_PROBE)


def build_bm25(docs: list[Document], search_text):
    """BM25 over `search_text(doc)` of each doc, with our own tokenizer (the retriever tokenizes queries the same way)."""
    import bm25s

    from .text import tokens

    model = bm25s.BM25()
    model.index([tokens(search_text(d)) or [""] for d in docs], show_progress=False)
    return model


def save(path: Path, collection: str, lex: Lexical) -> None:
    """Write the file atomically (temp file + rename); OSError when it cannot be written."""
    import numpy as np

    bm25 = lex.bm25
    params = bm25.params if isinstance(bm25, CompactBM25) else {k: getattr(bm25, k) for k in _PARAMS}
    meta = {"format": FORMAT, "collection": collection, "ids_sha256": ids_fingerprint([d.id for d in lex.docs]),
            "tokenizer": tokenizer_probe(), "params": params,
            "num_docs": int(bm25.scores["num_docs"]), "vocab": bm25.vocab_dict,
            "docs": [[d.id, d.page_content, d.metadata] for d in lex.docs]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
                     data=bm25.scores["data"], indices=bm25.scores["indices"], indptr=bm25.scores["indptr"])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path, collection: str, store_ids: list[str]) -> tuple[Lexical | None, str]:
    """(the file's chunks and BM25, "") when it matches the store; else (None, why it cannot be used)."""
    import numpy as np

    if not path.is_file():
        return None, f"{path} does not exist"
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            arrays = {k: z[k] for k in ("data", "indices", "indptr")}
    except Exception as exc:  # noqa: BLE001 - zipfile, numpy and json each raise their own on a damaged file
        return None, f"{path} is damaged ({exc.__class__.__name__})"
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None, f"{path} has another format"
    if meta.get("collection") != collection:
        return None, f"{path} was written for {meta.get('collection')}, not {collection}"
    if meta.get("ids_sha256") != ids_fingerprint(store_ids) or len(meta.get("docs", ())) != len(store_ids):
        return None, f"{path} is stale (the store's chunks changed since it was written)"
    if meta.get("tokenizer") != tokenizer_probe():
        return None, f"{path} was written by another BM25 tokenizer"
    try:
        docs = [Document(page_content=text, metadata=m, id=cid) for cid, text, m in meta["docs"]]
        if [d.id for d in docs] and ids_fingerprint([d.id for d in docs]) != meta["ids_sha256"]:
            return None, f"{path} is damaged (its chunk list does not match its fingerprint)"
        bm25 = _bm25(meta, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"{path} is damaged ({exc.__class__.__name__})"
    return Lexical(docs, bm25), ""


def _bm25(meta: dict, arrays: dict) -> CompactBM25:
    params, n = meta["params"], int(meta["num_docs"])
    # bm25s may add the empty token to the vocabulary after building the columns
    if len(meta["vocab"]) not in (len(arrays["indptr"]) - 1, len(arrays["indptr"])) or n != len(meta["docs"]):
        raise ValueError("BM25 arrays do not match the vocabulary")
    if params.get("method") != "lucene" or params.get("idf_method") != "lucene":
        raise ValueError(f"BM25 method {params.get('method')} is not stored in this format")
    return CompactBM25({**arrays, "num_docs": n}, meta["vocab"], params)


class CompactBM25:
    """Querying a stored BM25 index exactly as bm25s does (its numpy backend: the same float32 sums with
    `np.add.at` per query token, the same argpartition top-k), without importing bm25s, whose import pulls in
    scipy (~0.25 s of a cold `assistant ask`). tests/test_cold_start.py checks ids and scores are identical."""

    def __init__(self, scores: dict, vocab_dict: dict[str, int], params: dict) -> None:
        self.scores = scores
        self.vocab_dict = vocab_dict
        self.params = params

    def get_scores_from_ids(self, token_ids: list[int]):
        import numpy as np

        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        ids = np.asarray(token_ids, dtype=np.dtype(self.params["int_dtype"]))
        if int(ids.max(initial=0)) >= len(indptr) - 1:
            raise ValueError("a query token id is outside the index")
        scores = np.zeros(self.scores["num_docs"], dtype=np.dtype(self.params["dtype"]))
        for start, end in zip(indptr[ids], indptr[ids + 1]):
            np.add.at(scores, indices[start:end], data[start:end])
        return scores

    def retrieve(self, queries: list[list[str]], k: int = 10, sorted: bool = True, show_progress: bool = False,
                 n_threads: int = 0):
        """(doc indices, scores), each of shape (len(queries), k), like bm25s.BM25.retrieve(...) for token lists."""
        import numpy as np

        if k > self.scores["num_docs"]:
            raise ValueError(f"k of {k} is larger than the number of documents ({self.scores['num_docs']})")
        top_ids, top_scores = [], []
        for query in queries:
            ids = [self.vocab_dict[t] for t in query if t in self.vocab_dict]
            scores = self.get_scores_from_ids(ids) if query else np.zeros(self.scores["num_docs"],
                                                                          dtype=np.dtype(self.params["dtype"]))
            part = np.argpartition(scores, -k).take(indices=range(-k, 0))
            part_scores = np.take(scores, part)
            if sorted:
                order = np.flip(np.argsort(part_scores))
                part, part_scores = part[order], part_scores[order]
            top_ids.append(part)
            top_scores.append(part_scores)
        return np.array(top_ids), np.array(top_scores)
