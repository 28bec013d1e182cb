"""The vector store: Chroma, embedded (PersistentClient) or a Chroma server (HttpClient).

One registry of modes; the collection name encodes the embedding model and the chunker
version, so changing either starts a new collection instead of mixing vectors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from .chunking import CHUNKER_VERSION
from .config import Settings
from .embeddings import model_label
from .errors import IndexCorruptError, IndexWriteError, StoreUnavailableError, UnknownNameError

REBUILD_FIX = "Rebuild it: assistant ingest --rebuild"
# chromadb's HttpClient waits forever by default; a frozen server must not hang a question.
CHROMA_HTTP_TIMEOUT = (5.0, 60.0)  # (connect, read/write) seconds


def collection_name(settings: Settings) -> str:
    return f"stack-{model_label(settings.embedding_model)}-{CHUNKER_VERSION}-t{settings.chunk_tokens}"


def chroma_dir(settings: Settings) -> Path:
    return settings.index_dir / "chroma"


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _embedded_client(settings: Settings, create: bool):
    import chromadb

    path = chroma_dir(settings)
    if not create and not (path / "chroma.sqlite3").is_file():
        return None
    if create:
        ensure_writable(settings.index_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. a file named "chroma" is in the way
            raise IndexWriteError(f"The index folder {path} cannot be created ({exc.strerror or exc}).",
                                  f"Remove or rename {path}, then run: assistant ingest --rebuild") from exc
    try:
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
    except Exception as exc:  # chromadb raises sqlite3/Rust/ValueError variants on a damaged store
        if any(sign in str(exc).lower() for sign in _DISK_TROUBLE):
            # The index is fine; its disk is not. Rebuilding would delete a good index.
            raise IndexWriteError(
                f"The index at {path} cannot be opened: its disk is full or read-only ({exc.__class__.__name__}: {exc}).",
                "Free disk space or make the folder writable (Chroma writes even to read); for read-only "
                "replicas use a Chroma server (ASSISTANT_CHROMA_HOST, see the README's Outgrowing one machine).") from exc
        raise IndexCorruptError(f"The index at {path} cannot be opened ({exc.__class__.__name__}: {exc}).",
                                REBUILD_FIX) from exc


# SQLite's SQLITE_FULL, SQLITE_READONLY and the OS's messages, as chromadb passes them on.
_DISK_TROUBLE = ("disk is full", "readonly database", "read-only file system", "no space left")


def _server_client(settings: Settings, create: bool):
    import chromadb

    try:
        client = chromadb.HttpClient(host=settings.chroma_host or "127.0.0.1", port=settings.chroma_port,
                                     settings=_chroma_settings())
        _set_http_timeout(client)
        client.heartbeat()
        return client
    except Exception as exc:
        raise server_unavailable(settings, exc) from exc


def _set_http_timeout(client) -> None:
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        connect, rest = CHROMA_HTTP_TIMEOUT
        session.timeout = httpx.Timeout(rest, connect=connect)


def server_unavailable(settings: Settings, exc: BaseException) -> StoreUnavailableError:
    """The error for a Chroma server that is down, frozen or failing (at startup or mid-session)."""
    from .redact import redact

    detail = redact(f"{exc.__class__.__name__}: {exc}")[:200]
    return StoreUnavailableError(
        f"The Chroma server at {settings.chroma_host}:{settings.chroma_port} cannot be reached ({detail}).",
        "Start it (chroma run --path <dir> --host <host> --port <port>); the assistant reconnects on the next "
        "question. Or unset ASSISTANT_CHROMA_HOST to use the embedded index.",
    )


STORE_MODES: dict[str, Callable] = {"embedded": _embedded_client, "server": _server_client}


def get_client(settings: Settings, *, create: bool):
    """A Chroma client for the configured mode; None when embedded, not creating, and no index exists."""
    mode = settings.store_mode
    if mode not in STORE_MODES:
        raise UnknownNameError("vector store mode", mode, list(STORE_MODES))
    return STORE_MODES[mode](settings, create)


def build_vector_store(settings: Settings, embeddings, client):
    """LangChain's Chroma over our collection, with our embedding function and cosine space."""
    from langchain_chroma import Chroma

    try:
        return Chroma(
            client=client,
            collection_name=collection_name(settings),
            embedding_function=embeddings,
            collection_metadata={"hnsw:space": "cosine"},
        )
    except Exception as exc:
        if settings.store_mode == "server":
            raise StoreUnavailableError(f"The Chroma server failed: {exc}", "Check that the server is running.") from exc
        raise IndexCorruptError(f"The index at {chroma_dir(settings)} cannot be used ({exc}).", REBUILD_FIX) from exc


def ensure_writable(index_dir: Path) -> None:
    """Raise IndexWriteError naming the folder when it cannot be created or written."""
    probe = index_dir / ".write-probe"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        try:
            probe.unlink(missing_ok=True)  # a full disk leaves it empty behind
        except OSError:
            pass
        raise IndexWriteError(
            f"The index folder {index_dir} cannot be written ({exc.strerror or exc}).",
            "Free disk space or fix its permissions, or set ASSISTANT_INDEX_DIR to a writable folder.",
        ) from exc


def check_sqlite(path: Path) -> None:
    """Raise IndexCorruptError when an SQLite file under the index is damaged."""
    if not path.exists():
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(f"The index file {path} is damaged ({exc}).", REBUILD_FIX) from exc
