"""The loaded index: the Chroma store, every chunk (for BM25 and the factor table), the manifest.

`load_knowledge(settings)` is what the CLI, UI and eval call once per process. The chunk list and
the BM25 side index come from `lexical.npz` (written at ingest by `save_lexical`), trusted only when
it matches the store's chunk ids; otherwise they are rebuilt from the store's own chunks (about 0.1 s
per 1,000 chunks plus the read), the file rewritten, and why logged. So BM25 never disagrees with
the vectors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from langchain_core.documents import Document

from .config import Settings
from .errors import IndexCorruptError, IndexMissingError, StoreUnavailableError
from .ingest import manifest_path, read_manifest
from .store import REBUILD_FIX, build_vector_store, chroma_dir, collection_name, get_client
from .text import idf_table

log = logging.getLogger("assistant.index")

NO_INDEX_FIX = "Build it first: assistant ingest (or start the UI, which builds it)."
# Chroma reads a get() with one SQL variable per row: a single get over more than ~32k chunks fails
# with "too many SQL variables" (SQLite's limit), so the index is read in pages (found at 100k chunks).
READ_PAGE = 5000


@dataclass
class KnowledgeBase:
    settings: Settings
    store: object  # langchain_chroma.Chroma
    docs: list[Document]
    manifest: dict = field(default_factory=dict)
    _bm25: object = None
    _idf: dict | None = None
    _by_id: dict | None = None
    _rows: list | None = None
    _sentence_vectors: object = None
    _reranker: object = None

    @property
    def factor_rows(self) -> list[Document]:
        """The factor table's rows in table order (from the index, not hard-coded)."""
        if self._rows is None:
            rows = [d for d in self.docs if d.metadata.get("kind") == "factor_row"]
            self._rows = sorted(rows, key=lambda d: d.metadata["start"])
        return self._rows

    @property
    def by_id(self) -> dict[str, Document]:
        if self._by_id is None:
            self._by_id = {d.metadata["chunk_id"]: d for d in self.docs}
        return self._by_id

    @property
    def sentence_vectors(self):
        """The corpus's sentence vectors on the index's own embedding model (assistant/sentence_vectors.py),
        read from the ingest's sentences.npz; one cache per index, shared by every part that compares sentences."""
        if self._sentence_vectors is None:
            from .sentence_vectors import SentenceVectors, sentences_path

            self._sentence_vectors = SentenceVectors(self.store.embeddings.embed_documents,
                                                     saved=sentences_path(self.settings.index_dir), key=collection_name(self.settings))
        return self._sentence_vectors

    @property
    def reranker(self):
        """The second-stage ranker on the index's sentence vectors."""
        if self._reranker is None:
            from .rerank import SentenceReranker

            self._reranker = SentenceReranker(self.sentence_vectors)
        return self._reranker

    @property
    def vocabulary(self) -> set[str]:
        return set(self.bm25.vocab_dict) if self.bm25 is not None else set()

    @property
    def bm25(self):
        if self._bm25 is None and self.docs:
            from .lexical import build_bm25

            self._bm25 = build_bm25(self.docs, search_text)
        return self._bm25

    @property
    def idf(self) -> dict[str, float]:
        if self._idf is None:
            self._idf = idf_table([d.page_content for d in self.docs])
        return self._idf

    def source_titles(self) -> list[str]:
        return [s["title"] for s in self.manifest.get("sources", [])]


def search_text(doc: Document) -> str:
    """What BM25 sees: section title plus content, so a heading's words count for its chunks."""
    return f"{doc.metadata.get('section', '')}\n{doc.page_content}"


def load_knowledge(settings: Settings, embeddings=None) -> KnowledgeBase:
    """Open the index for reading; IndexMissingError when none has been built."""
    from .embeddings import embeddings_for

    client = get_client(settings, create=False)
    manifest = read_manifest(settings) or {}
    if not manifest and manifest_path(settings).exists():
        raise IndexCorruptError(f"The index manifest {manifest_path(settings)} is damaged.", REBUILD_FIX)
    if client is None or (settings.store_mode == "embedded" and not manifest):
        raise IndexMissingError(f"No index found in {settings.index_dir}.", NO_INDEX_FIX)
    store = build_vector_store(settings, embeddings or embeddings_for(settings), client)
    try:
        docs, bm25 = _chunks(settings, store)
    except Exception as exc:
        if settings.store_mode == "server":
            raise StoreUnavailableError(f"The Chroma server failed while loading the index ({exc.__class__.__name__}).",
                                        "Check that the Chroma server is running, then ask again.") from exc
        raise IndexCorruptError(f"The index in {settings.index_dir} cannot be read ({exc}).", REBUILD_FIX) from exc
    if not docs:
        built = manifest.get("collection")
        if built and built != collection_name(settings):
            raise IndexMissingError(f"The index in {settings.index_dir} was built as {built}; these settings need "
                                    f"{collection_name(settings)} (chunking or embedding settings changed).",
                                    "Rebuild it for these settings: assistant ingest")
        if built and any(s.get("chunks") for s in manifest.get("sources", [])):  # built once, now lost
            where = chroma_dir(settings) if settings.store_mode == "embedded" else f"the Chroma server's {built}"
            raise IndexCorruptError(f"The index at {where} has lost its chunks ({manifest_path(settings)} lists them).",
                                    REBUILD_FIX)
        raise IndexMissingError(f"The index in {settings.index_dir} is empty.", NO_INDEX_FIX)
    return KnowledgeBase(settings, store, docs, manifest or _manifest_from_docs(settings, docs), _bm25=bm25)


def _chunks(settings: Settings, store) -> tuple[list[Document], object]:
    """(every chunk, BM25 over them or None): from lexical.npz when it matches the store's ids, else from
    the store (the file then rewritten, and why logged)."""
    from . import lexical

    path, name = lexical.lexical_path(settings.index_dir), collection_name(settings)
    ids = _read_all(store, include=[])["ids"]
    if not ids:
        return [], None
    cached, why = lexical.load(path, name, ids)
    if cached is not None:
        return cached.docs, cached.bm25
    docs = _store_docs(store)
    # absent: an index from before lexical.npz (or a replica); present but unusable: worth a warning
    log.log(logging.WARNING if path.exists() else logging.INFO, "Rebuilding the BM25 index from the store: %s.", why)
    # A server-mode replica stays stateless (its index folder only receives feedback); the ingest writes the file.
    return docs, save_lexical(settings, docs, write=settings.store_mode == "embedded")


def save_lexical(settings: Settings, docs: list[Document], *, write: bool = True):
    """BM25 over docs, written with them to lexical.npz (ingest calls this with the store's chunks); returns
    the BM25. A folder that cannot be written only logs: the file is a cache, the store stays the truth."""
    from . import lexical

    bm25 = lexical.build_bm25(docs, search_text) if docs else None
    path = lexical.lexical_path(settings.index_dir)
    if not write:
        return bm25
    try:
        if docs:
            lexical.save(path, collection_name(settings), lexical.Lexical(docs, bm25))
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("Cannot write %s (%s); BM25 is rebuilt from the store at each start.", path, exc.strerror or exc)
    return bm25


def write_lexical(settings: Settings, store) -> list[Document]:
    """After an ingest: lexical.npz from the store's own chunks, in the store's order (what a reader sees).
    Returns those chunks (the ingest hands them on to `write_sentence_vectors`)."""
    docs = _store_docs(store)
    save_lexical(settings, docs)
    return docs


def write_sentence_vectors(settings: Settings, docs: list[Document]) -> int:
    """After an ingest: every chunk's sentence vectors (assistant/sentence_vectors.py), computed with
    the model questions are embedded with, so a new process does not embed them on its first questions.
    The previous file's vectors are reused, so only new sentences are embedded (none, and no model loaded,
    for an unchanged corpus), and the file holds exactly the sentences of `docs`. Returns how many were embedded."""
    from .embeddings import embeddings_for
    from .sentence_vectors import SentenceVectors, sentences_path

    path, key = sentences_path(settings.index_dir), collection_name(settings)
    vectors = SentenceVectors(lambda texts: embeddings_for(settings).embed_documents(texts), saved=path, key=key)
    return vectors.save(path, key, docs)


def _store_docs(store) -> list[Document]:
    raw = _read_all(store)
    return [Document(page_content=text, metadata=meta, id=cid)
            for cid, text, meta in zip(raw["ids"], raw["documents"], raw["metadatas"])]


def _read_all(store, include: list[str] | None = None) -> dict:
    """Every chunk's id (and by default text and metadata), in the store's order, READ_PAGE at a time."""
    include = ["documents", "metadatas"] if include is None else include
    out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
    while True:
        page = store.get(include=include, limit=READ_PAGE, offset=len(out["ids"]))
        for key in out:
            out[key] += page[key]
        if len(page["ids"]) < READ_PAGE:
            return out


def _manifest_from_docs(settings: Settings, docs: list[Document]) -> dict:
    """A server-mode replica has no local index.json: describe the sources from the store itself."""
    sources: dict[str, dict] = {}
    for d in sorted(docs, key=lambda d: (not d.metadata.get("primary"), d.metadata.get("source_id", ""))):
        m = d.metadata
        entry = sources.setdefault(m.get("source_id", ""), {"id": m.get("source_id", ""), "title": m.get("title", ""),
                                                            "origin": m.get("origin", ""), "url": m.get("url", "").split("#")[0],
                                                            "chunks": 0, "as_of": ""})
        entry["chunks"] += 1
    return {"collection": collection_name(settings), "sources": list(sources.values()), "from_store": True}
