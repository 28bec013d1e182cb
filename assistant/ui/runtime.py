"""The UI's one `Assistant`, loaded in a background thread so the page is served at once.

On a first start with no index the same thread builds it (`assistant.ingest.ingest`) and records
its progress, which every open page shows until the assistant is ready. A failed start keeps the
error (problem + fix) for the page to show; the next request tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import AssistantError, IndexMissingError

if TYPE_CHECKING:
    from ..service import Assistant

log = logging.getLogger("assistant.ui")


class Runtime:
    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self._assistant = assistant
        self._error: AssistantError | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.phase = "Ready" if assistant else "Loading the index and the embedding model"
        self.fraction: float | None = None
        self.built_index = False
        self.ready_s: float | None = None  # seconds the background load took (the log's "Ready in")
        self._llm_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        if assistant is not None:
            self._ready.set()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Load (or build, then load) in the background; no-op when loaded or already loading."""
        with self._lock:
            if self._assistant is not None or (self._thread and self._thread.is_alive()):
                return
            self._error = None
            self._ready.clear()
            self._thread = threading.Thread(target=self._load, name="assistant-load", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def get(self, timeout: float | None = None) -> Assistant:
        """The loaded assistant; raises the start-up error (and retries on the next call)."""
        self.start()
        if not self._ready.wait(timeout):
            raise AssistantError("The assistant is still starting.", "Wait a few seconds and ask again.")
        if self._assistant is None:
            err = self._error or AssistantError("The assistant failed to start.", "See the server log.")
            self._thread = None  # the next call tries again
            raise err
        return self._assistant

    @property
    def ready(self) -> bool:
        return self._assistant is not None

    @property
    def error(self) -> AssistantError | None:
        return self._error

    def llm_lock(self, spec: str) -> threading.Lock:
        """llama.cpp models are not thread-safe: one answer at a time per local model."""
        return self._llm_locks[spec]

    # -- loading ---------------------------------------------------------------------------
    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            self.phase, self.fraction = "Loading the answering chain", None
            from ..service import Assistant  # LangChain loads here, not at import; Chroma and onnxruntime just below

            t_chain = time.perf_counter() - t0
            try:
                self.phase, self.fraction = "Opening the index and the embedding model", None
                self._assistant = Assistant(self.settings)
            except IndexMissingError:
                self._build()
                self.phase, self.fraction = "Loading the new index", None
                self._assistant = Assistant(self.settings)
            self.ready_s = time.perf_counter() - t0
            self.phase, self.fraction = "Ready", 1.0
            log.info("Ready in %.1f s (chain %.1f s, index and embedding model %.1f s): %d passages indexed.",
                     self.ready_s, t_chain, self.ready_s - t_chain, len(self._assistant.kb.docs))
        except AssistantError as exc:
            log.error("Start-up failed: %s", exc)
            self._error, self.phase = exc, "Failed"
        except Exception as exc:  # noqa: BLE001 - shown to the founder as a problem + fix, logged in full
            log.exception("Start-up failed")
            self._error = AssistantError(f"The assistant failed to start ({type(exc).__name__}: {exc}).",
                                         "See the server log; `assistant ingest --rebuild` fixes a damaged index.")
            self.phase = "Failed"
        finally:
            self._ready.set()

    def _build(self) -> None:
        from ..ingest import ingest

        log.info("No index in %s: building it (first start).", self.settings.index_dir)
        self.phase, self.fraction = "First start: reading the corpus and loading the embedding model", None
        report = ingest(self.settings, progress=self._track)
        self.built_index = True
        log.info("Built the index: %d chunks from %d sources in %.1f s.", report.chunks, len(report.sources), report.seconds)
        for f in report.failures:
            log.warning("Skipped %s: %s. Fix: %s", f["name"], f["problem"], f["fix"])

    def _track(self, docs: Iterable) -> Iterator:
        """The chunks as the indexer pulls them (it embeds them in batches as it goes)."""
        docs = list(docs)
        n = max(1, len(docs))
        for i, doc in enumerate(docs):
            self.phase, self.fraction = f"First start: building the index ({i} of {n} passages embedded)", i / n
            yield doc
        self.phase, self.fraction = f"First start: building the index (embedding the last passages of {n})", (n - 1) / n
