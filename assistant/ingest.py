"""Build and update the index: corpus → chunks → Chroma, incrementally, via LangChain's indexing API.

`langchain_core.indexing.index` with an SQL record manager gives the incremental, idempotent
behaviour (unchanged chunks are skipped, removed ones deleted) instead of a hand-made manifest.
Chunk ids are stable (source id + content hash) and Chroma upserts, so a reader never sees a
chunk twice, and an ingest killed halfway leaves the previous content served.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .chunking import CHUNKER_VERSION, chunk_source
from .config import Settings
from .errors import CorpusError, IndexWriteError, IngestBusyError
from .sources import Problem, collect_corpus
from .store import build_vector_store, check_sqlite, collection_name, ensure_writable, get_client, server_unavailable

MANIFEST = "index.json"
RECORDS = "records.sqlite"


@dataclass
class IngestReport:
    """What one ingest did; printed by the CLI, returned as JSON with --json."""

    collection: str
    sources: list[dict] = field(default_factory=list)
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    embedded: int = 0
    # The re-ranker's sentence vectors (assistant/sentence_vectors.py): sentences embedded, and the seconds that
    # step took (about a third of a fresh ingest: 54 of 147 s for 3,050 chunks; README, "What state lives where").
    sentences_embedded: int = 0
    sentences_seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    skipped_stale_check: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def corpus_fingerprint(settings: Settings, related: bool) -> str:
    """Hash of everything that changes the index: corpus files, related mirror, chunking settings."""
    h = hashlib.sha256(f"{collection_name(settings)}|{related}|{settings.related_dir}".encode())
    roots = [settings.corpus_dir] + ([settings.related_dir] if related and settings.related_dir else [])
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            st = path.stat()
            h.update(f"{path.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def read_manifest(settings: Settings) -> dict | None:
    path = settings.index_dir / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_stale(settings: Settings, related: bool) -> bool:
    manifest = read_manifest(settings)
    return not manifest or manifest.get("fingerprint") != corpus_fingerprint(settings, related) \
        or manifest.get("collection") != collection_name(settings)


def record_manager(settings: Settings):
    from langchain_classic.indexes import SQLRecordManager

    db = settings.index_dir / RECORDS
    check_sqlite(db)
    manager = SQLRecordManager(collection_name(settings), db_url=f"sqlite:///{db}")
    manager.create_schema()
    return manager


def ingest(settings: Settings, *, related: bool = False, rebuild: bool = False, if_stale: bool = False,
           progress=None, embeddings=None) -> IngestReport:
    """Index the corpus. Raises CorpusError/IndexWriteError only when nothing can be indexed.

    `embeddings` (a LangChain Embeddings) defaults to the configured model, loaded only if a chunk
    needs embedding."""
    from filelock import FileLock, Timeout

    t0 = time.perf_counter()
    report = IngestReport(collection=collection_name(settings))
    related = related or settings.related_dir is not None
    if if_stale and not rebuild and not is_stale(settings, related):
        report.skipped_stale_check = True
        report.sources = (read_manifest(settings) or {}).get("sources", [])
        report.chunks = sum(s.get("chunks", 0) for s in report.sources)
        return report
    ensure_writable(settings.index_dir)
    lock = FileLock(str(settings.index_dir / ".ingest.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise IngestBusyError("Another ingest is running on this index.", "Wait for it to finish, then run again.") from exc
    try:
        if rebuild:
            _wipe(settings)
        corpus = collect_corpus(settings.corpus_dir, related=related, related_dir=settings.related_dir,
                                cache_dir=settings.index_dir / "related-cache", max_bytes=settings.max_file_bytes)
        report.failures = [asdict(p) for p in corpus.problems]
        docs = []
        for source in corpus.docs:
            try:
                chunks = chunk_source(source, settings.chunk_tokens)
            except Exception as exc:  # a malformed file must not stop the others
                report.failures.append(asdict(Problem(source.path or source.source_id, f"cannot be chunked ({exc})",
                                                      "fix or remove the file")))
                continue
            docs += chunks
            report.sources.append({"id": source.source_id, "title": source.title, "origin": source.origin,
                                   "url": source.url, "chunks": len(chunks), "as_of": source.as_of})
        if not docs:
            raise CorpusError("Nothing could be indexed: " + "; ".join(str(Problem(**f)) for f in report.failures),
                              "Fix the files named above.")
        _index(settings, docs, report, progress, embeddings)
        _write_manifest(settings, report, related)
    finally:
        lock.release()
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _index(settings: Settings, docs, report: IngestReport, progress, embeddings=None) -> None:
    from langchain_core.indexing import index

    from .embeddings import LazyEmbeddings, prepare_query_embeddings
    from .knowledge import write_lexical, write_sentence_vectors

    embeddings = embeddings or LazyEmbeddings(settings.embedding_model, settings.models_dir)
    store = build_vector_store(settings, embeddings, get_client(settings, create=True))
    # Shortest first: the model pads each batch to its longest text, so batches of like lengths
    # compute ~15% fewer tokens than text order (BENCHMARKS.md, Ingestion). Order means nothing to
    # the index: ids are content hashes and cleanup compares the whole set.
    docs = sorted(docs, key=lambda d: (d.metadata.get("tokens", 0), d.metadata["chunk_id"]))
    stream = progress(docs) if progress else docs
    try:
        manager = record_manager(settings)
        _forget_lost_chunks(manager, store)
        result = index(stream, manager, store, cleanup="full", source_id_key="source_id", batch_size=128,
                       key_encoder=lambda d: d.metadata["chunk_id"])
        stored = write_lexical(settings, store)  # the chunk list + BM25 a reader loads instead of rebuilding them
    except _write_errors(settings) as exc:
        raise _write_failure(settings, exc) from exc
    prepare_query_embeddings(settings)  # the ONNX export questions are embedded with (once; torch is loaded here anyway)
    t = time.perf_counter()
    report.sentences_embedded = write_sentence_vectors(settings, stored)  # so the first questions do not embed them
    report.sentences_seconds = round(time.perf_counter() - t, 3)
    report.chunks = len(docs)
    report.added, report.updated = result["num_added"], result["num_updated"]
    report.unchanged, report.deleted = result["num_skipped"], result["num_deleted"]
    report.embedded = report.added + report.updated


def _forget_lost_chunks(manager, store) -> None:
    """Drop records of chunks the store no longer holds (a lost Chroma volume, a replaced sqlite file),
    so they are embedded again instead of being skipped as unchanged forever."""
    known = manager.list_keys()
    if not known:
        return
    present: set[str] = set()
    for i in range(0, len(known), 500):
        present.update(store.get(ids=known[i:i + 500], include=[])["ids"])
    lost = [k for k in known if k not in present]
    if lost:
        manager.delete_keys(lost)


def _sql_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    return (sqlite3.Error, SQLAlchemyError)


def _write_errors(settings: Settings) -> tuple[type[BaseException], ...]:
    """What a full disk, a read-only file or a dead Chroma server raises while the index is written."""
    from chromadb.errors import ChromaError

    errors: tuple[type[BaseException], ...] = (OSError, *_sql_errors(), ChromaError)
    if settings.store_mode == "server":
        import httpx

        errors += (httpx.HTTPError,)
    return errors


def _write_failure(settings: Settings, exc: BaseException):
    """IndexWriteError naming the index folder (or, server mode, StoreUnavailableError)."""
    if settings.store_mode == "server" and not isinstance(exc, (OSError, *_sql_errors())):
        return server_unavailable(settings, exc)
    return IndexWriteError(f"Writing the index under {settings.index_dir} failed ({exc.__class__.__name__}: {str(exc)[:300]}).",
                           "Free disk space or fix permissions, then run assistant ingest again "
                           "(chunks already written are not embedded twice).")


def _write_manifest(settings: Settings, report: IngestReport, related: bool) -> None:
    manifest = {"collection": report.collection, "chunker": CHUNKER_VERSION, "fingerprint": corpus_fingerprint(settings, related),
                "sources": report.sources, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = settings.index_dir / MANIFEST
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise _write_failure(settings, exc) from exc


def _wipe(settings: Settings) -> None:
    """Delete this collection and its records (and, embedded, the whole store folder)."""
    if settings.store_mode == "server":
        client = get_client(settings, create=True)
        if collection_name(settings) in [c.name if hasattr(c, "name") else c for c in client.list_collections()]:
            client.delete_collection(collection_name(settings))
    else:
        from chromadb.api.client import SharedSystemClient

        # Chroma caches one system per path in-process; a wiped folder must not reuse it.
        SharedSystemClient.clear_system_cache()
        shutil.rmtree(settings.index_dir / "chroma", ignore_errors=True)
    for name in (RECORDS, MANIFEST):
        (settings.index_dir / name).unlink(missing_ok=True)


def index_exists(settings: Settings) -> bool:
    return read_manifest(settings) is not None if settings.store_mode == "embedded" else True


def manifest_path(settings: Settings) -> Path:
    return settings.index_dir / MANIFEST
