"""LLM engines: any LangChain chat model behind the same prompt, with a hard deadline.

The factories build the chat models lazily (heavy imports inside), each with temperature 0,
a token cap, and — for hosted endpoints — timeouts and bounded retries.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
import time
from collections.abc import Iterator

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, SystemMessage

from ..config import Settings
from ..errors import EngineFailedError, EngineUnavailableError
from ..prompts import PASSAGE_TEMPLATE, SYSTEM_PROMPT, USER_TEMPLATE
from .base import EnginePrompt

LOCAL_EXTRA_FIX = "Install the local extra: make install-local  (or choose --llm extractive)"


def format_passages(passages: list[Document]) -> str:
    """Number passages [1]..[n] as the prompt shows them (factor rows carry their header)."""
    return "\n\n".join(
        PASSAGE_TEMPLATE.format(n=n, title=_short_title(d), section=d.metadata.get("section", ""), text=d.page_content.strip())
        for n, d in enumerate(passages, start=1)
    )


def build_messages(question: str, passages: list[Document]) -> list:
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(USER_TEMPLATE.format(context=format_passages(passages), question=question))]


def _short_title(doc: Document) -> str:
    return "Guide" if doc.metadata.get("primary") else doc.metadata.get("title", "")


def lean_passages(question: str, passages: list[Document], k: int, max_tokens: int) -> list[Document]:
    """The top `k` passages, each cut to its most relevant whole sentences within `max_tokens`.

    Prompt reading dominates a CPU LLM's first-token time (~100 tokens/s for the 1.5B model on
    2 cores), so the prompt carries only what can support the answer. Metadata `highlight`
    records the kept spans of the passage's quote.
    """
    from ..text import sentence_spans, terms
    from ..tokens import count_tokens

    q = set(terms(question))
    out = []
    for doc in passages[:k]:
        quote = doc.metadata.get("quote") or doc.page_content
        if doc.metadata.get("kind") == "factor_row" or count_tokens(doc.page_content) <= max_tokens:
            out.append(Document(page_content=doc.page_content, metadata={**doc.metadata, "highlight": [(0, len(quote))]}, id=doc.id))
            continue
        spans = sentence_spans(quote)
        ranked = sorted(range(len(spans)), key=lambda i: (-len(q & set(terms(quote[spans[i][0]:spans[i][1]]))), i))
        keep, used = [], 0
        for i in ranked:
            cost = count_tokens(quote[spans[i][0]:spans[i][1]])
            if used + cost > max_tokens and keep:
                continue
            keep.append(i)
            used += cost
        keep.sort()
        text = " … ".join(" ".join(quote[spans[i][0]:spans[i][1]].split()) for i in keep)
        meta = {**doc.metadata, "highlight": [spans[i] for i in keep]}
        out.append(Document(page_content=f"{doc.metadata.get('section', '')}\n{text}", metadata=meta, id=doc.id))
    return out


HOSTED_PARALLEL = 32  # generations in flight per hosted engine (the UI queue admits far fewer)


class ChatEngine:
    """Streams an answer from a LangChain chat model; errors and deadlines become EngineFailedError.

    Keeps the `Engine` contract (engines/base.py): generative. One generation at a time when
    `exclusive` (a model in this process is not thread-safe). Servers — hosted endpoints and the
    local engine's own llama.cpp server — are not exclusive here: the server queues or batches
    concurrent requests, and an answer waiting for another's HTTP call would burn its own deadline.
    """

    generative = True

    def __init__(self, name: str, spec: str, chat_model, timeout: float, *, max_passages: int = 4,
                 passage_tokens: int = 110, exclusive: bool = True) -> None:
        self.name, self.spec, self.model, self.timeout = name, spec, chat_model, timeout
        self.max_passages, self.passage_tokens = max_passages, passage_tokens
        self.exclusive = exclusive
        self._busy = threading.Lock() if exclusive else threading.Semaphore(HOSTED_PARALLEL)

    def prepare(self, question: str, passages: list[Document]) -> EnginePrompt:
        shown = lean_passages(question, passages, self.max_passages, self.passage_tokens)
        return EnginePrompt(question=question, shown=shown, messages=build_messages(question, shown))

    def write(self, prompt: EnginePrompt) -> Iterator[str]:
        yield from self.stream_messages(prompt.messages)

    def stream_messages(self, messages: list) -> Iterator[str]:
        """Stream any chat messages (the eval's naive baseline sends its own prompt)."""
        yield from _with_deadline(lambda: self.model.stream(messages), self.timeout, self.spec, self._busy)


def _with_deadline(make_iter, timeout: float, spec: str, busy: threading.Lock) -> Iterator[str]:
    """Run the model's stream in a worker thread so a hung endpoint cannot block past `timeout`.

    When the deadline passes (or the consumer stops reading) the worker is told to stop and
    closes the model's stream at the next chunk, so an abandoned generation frees the engine.
    """
    q: queue.Queue = queue.Queue()
    done = object()
    cancel = threading.Event()
    deadline = time.monotonic() + timeout

    def work():
        if not busy.acquire(timeout=max(0.0, deadline - time.monotonic())):
            q.put(EngineFailedError(f"{spec} is busy with another answer", "Try again, or raise ASSISTANT_LLM_TIMEOUT."))
            return
        try:
            stream = make_iter()
            try:
                for chunk in stream:
                    if cancel.is_set():
                        break
                    q.put(getattr(chunk, "content", chunk))
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)
        finally:
            busy.release()
        q.put(done)

    worker = threading.Thread(target=work, daemon=True, name=f"llm-{spec}")
    _track(worker, cancel)
    worker.start()
    try:
        while True:
            try:
                item = q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise EngineFailedError(f"{spec} did not finish within {timeout:g} s",
                                        "Raise ASSISTANT_LLM_TIMEOUT or check the LLM server.") from None
            if item is done:
                return
            if isinstance(item, EngineFailedError):
                raise item
            if isinstance(item, BaseException):
                raise EngineFailedError(f"{spec} failed: {_describe(item)}", "Check the LLM endpoint and its settings.") from item
            if not isinstance(item, str):
                raise EngineFailedError(f"{spec} returned malformed output ({type(item).__name__})", "Check the model/server.")
            yield item
    finally:
        cancel.set()


_LIVE: dict[threading.Thread, threading.Event] = {}
_LIVE_LOCK = threading.Lock()
_AT_EXIT: list[bool] = []


def _track(worker: threading.Thread, cancel: threading.Event) -> None:
    """Remember running generations so interpreter exit can stop them first: a llama.cpp model
    freed under a still-generating thread crashes the process (seen as a segfault at exit)."""
    with _LIVE_LOCK:
        if not _AT_EXIT:
            import atexit

            atexit.register(_stop_all)
            _AT_EXIT.append(True)
        for t in [t for t in _LIVE if not t.is_alive()]:
            del _LIVE[t]
        _LIVE[worker] = cancel


def _stop_all(grace: float = 30.0) -> None:
    with _LIVE_LOCK:
        live = list(_LIVE.items())
    for _t, cancel in live:
        cancel.set()
    end = time.monotonic() + grace
    for t, _cancel in live:
        t.join(timeout=max(0.0, end - time.monotonic()))


def _describe(exc: BaseException) -> str:
    """Error text without secrets: keys never appear (we redact anything that looks like one)."""
    from ..redact import redact

    return redact(f"{type(exc).__name__}: {exc}")[:300]


# -- factories ---------------------------------------------------------------------------

class ServedModel:
    """A chat model behind the supervised local server: every stream first makes sure the child
    runs (starting it again after a crash) and talks to wherever it now listens."""

    def __init__(self, server, settings: Settings) -> None:
        self.server, self.settings = server, settings
        self._client, self._url = None, ""

    def stream(self, messages: list):
        url = self.server.ensure()
        if url != self._url:
            from langchain_openai import ChatOpenAI

            # No retries: a crashed child is restarted for the next question; this one falls back.
            self._client = ChatOpenAI(model=self.server.alias, base_url=url, api_key=self.server.api_key, temperature=0,
                                      max_tokens=self.settings.llm_max_tokens, timeout=self.settings.llm_timeout,
                                      max_retries=0, streaming=True)
            self._url = url
        return self._client.stream(messages)


class LocalEngine(ChatEngine):
    """The local GGUF model, answered by its own supervised llama.cpp server child (llama_server.py).

    A crash, kill or hang of the child costs the answer in flight (the chain gives the cited
    extractive answer with a notice); the next question starts a fresh child."""

    def __init__(self, spec: str, server, settings: Settings) -> None:
        super().__init__("local", spec, ServedModel(server, settings), settings.llm_timeout, exclusive=True,
                         **_prompt_shape(settings))
        self.server = server

    def write(self, prompt: EnginePrompt) -> Iterator[str]:
        try:
            yield from super().write(prompt)
        except EngineFailedError as exc:
            self.server.recover()
            if not self.server.alive() and self.server.pid is not None:
                raise EngineFailedError(f"{exc.problem}; the model server {self.server.last_exit()} and "
                                        "restarts for the next question", exc.fix) from exc
            raise


def make_local(arg: str, settings: Settings) -> LocalEngine:
    from ..gguf_models import resolve_model
    from .llama_server import LlamaServer, ServerOptions, cpu_problem

    if importlib.util.find_spec("llama_cpp") is None:
        raise EngineUnavailableError("The local engine needs llama-cpp-python, which is not installed.", LOCAL_EXTRA_FIX)
    problem = cpu_problem()
    if problem:
        raise EngineUnavailableError(f"The local engine cannot run here: {problem}.", "Use --llm extractive.")
    name = arg or "qwen-1.5b"
    path = resolve_model(name, settings.models_dir)
    alias = path.stem if arg and arg not in ("qwen-1.5b", "qwen-0.5b") else name
    server = LlamaServer(path, alias, ServerOptions(n_ctx=settings.llm_context_tokens, build=settings.llm_build),
                         log_dir=settings.models_dir)
    server.start_in_background()
    return LocalEngine(f"local:{name}", server, settings)


def make_openai(arg: str, settings: Settings) -> ChatEngine:
    if not os.environ.get("OPENAI_API_KEY"):
        raise EngineUnavailableError("OPENAI_API_KEY is not set.", "Export OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI server).")
    from langchain_openai import ChatOpenAI

    model = arg or "gpt-4o-mini"
    chat = ChatOpenAI(model=model, temperature=0, max_tokens=settings.llm_max_tokens, timeout=settings.llm_timeout,
                      max_retries=settings.llm_max_retries, base_url=os.environ.get("OPENAI_BASE_URL") or None,
                      streaming=True)
    return ChatEngine("openai", f"openai:{model}", chat, settings.llm_timeout, exclusive=False, **_prompt_shape(settings))


def make_ollama(arg: str, settings: Settings) -> ChatEngine:
    from langchain_ollama import ChatOllama

    model = arg or "llama3.1"
    host = os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
    if "://" not in host:
        host = f"http://{host}"
    chat = ChatOllama(model=model, base_url=host, temperature=0, num_predict=settings.llm_max_tokens,
                      client_kwargs={"timeout": settings.llm_timeout})
    return ChatEngine("ollama", f"ollama:{model}", chat, settings.llm_timeout, exclusive=False, **_prompt_shape(settings))


def _prompt_shape(settings: Settings) -> dict:
    return {"max_passages": settings.llm_passages, "passage_tokens": settings.llm_passage_tokens}
