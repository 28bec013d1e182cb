"""`POST /v1/chat/completions` (and `GET /v1/models`) in the OpenAI schema, served by the UI's own server.

Off unless ASSISTANT_OPENAI_API is true. With ASSISTANT_AUTH set, the same user:password pairs are
the API keys (`OpenAI(api_key="ana:s3cret")` sends `Authorization: Bearer ana:s3cret`). `model`
picks the engine ("extractive", "local:qwen-1.5b", "openai:gpt-4o-mini", …; "stack-assistant" or
empty means the default one). The last user message is the question and the earlier messages the
history. The reply carries the answer with its [n] markers (numbered 1..n) and, beside the
standard fields, `citations` (the cited passages with their quotes, as in `assistant ask --json`);
streamed, the citations come in the last chunk before `data: [DONE]`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Request  # this module is imported only when the API is enabled (Gradio has FastAPI loaded by then)
from pydantic import BaseModel, Field, ValidationError

from ..citations import renumber, renumber_text
from ..config import Settings
from ..engines import default_spec, engine_statuses
from ..errors import AssistantError, QuestionError
from .chat import canonical_spec
from .runtime import Runtime
from .server import parse_auth

log = logging.getLogger("assistant.ui")
DEFAULT_MODEL = "stack-assistant"


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # [{"type": "text", "text": ...}, ...]
            return "".join(p.get("text", "") for p in self.content if isinstance(p, dict))
        return self.content or ""


class ChatRequest(BaseModel):
    model: str = DEFAULT_MODEL
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


def _error(status: int, message: str, kind: str, fix: str = ""):
    from fastapi.responses import JSONResponse

    text = f"{message} Fix: {fix}" if fix else message
    return JSONResponse({"error": {"message": text, "type": kind, "param": None, "code": None}}, status_code=status)


def split_messages(messages: list[Message]) -> tuple[str, list[dict]]:
    """(the last user message, the user/assistant turns before it as history)."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise QuestionError("No user message.", "Send at least one message with role 'user'.")
    history = [{"role": m.role, "content": m.text()} for m in messages[:last] if m.role in ("user", "assistant")]
    return messages[last].text(), history


class OpenAIEndpoint:
    """The routes, bound to one Runtime; `routes()` is handed to FastAPI through Gradio's app_kwargs."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.keys = [f"{u}:{p}" for u, p in parse_auth(settings.auth) or []]
        self._slots = threading.BoundedSemaphore(settings.concurrency_limit)  # the UI queue's limit, here too

    def routes(self) -> list:
        from fastapi.routing import APIRoute

        return [APIRoute("/v1/chat/completions", self.completions, methods=["POST"], include_in_schema=False),
                APIRoute("/v1/models", self.models, methods=["GET"], include_in_schema=False)]

    def _denied(self, request):
        if not self.keys:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and any(hmac.compare_digest(token.strip(), k) for k in self.keys):
            return None
        return _error(401, "Missing or wrong API key.", "invalid_request_error",
                      "Use one of ASSISTANT_AUTH's user:password pairs as the API key.")

    def _spec(self, model: str) -> str:
        return canonical_spec(default_spec(self.settings) if model in ("", DEFAULT_MODEL) else model)

    def models(self, request: Request):
        if (denied := self._denied(request)) is not None:
            return denied
        now = int(time.time())
        ids = [DEFAULT_MODEL] + [st.spec for st in engine_statuses() if st.available]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": now, "owned_by": "stack-assistant"} for i in ids]}

    async def completions(self, request: Request):
        from fastapi.responses import StreamingResponse
        from starlette.concurrency import run_in_threadpool

        if (denied := self._denied(request)) is not None:
            return denied
        try:
            req = ChatRequest.model_validate(await request.json())
            question, history = split_messages(req.messages)
        except (ValueError, ValidationError) as exc:
            return _error(400, f"The request is not a chat completion request ({type(exc).__name__}).",
                          "invalid_request_error", "Send {model, messages: [{role, content}], stream}.")
        except QuestionError as exc:
            return _error(400, exc.problem, "invalid_request_error", exc.fix)
        spec = self._spec(req.model)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if req.stream:
            return StreamingResponse(self._sse(question, history, spec, cid, created), media_type="text/event-stream")
        try:
            answer = await run_in_threadpool(self._answer, question, history, spec)
        except AssistantError as exc:
            return _error(400 if isinstance(exc, QuestionError) else 503, exc.problem, type(exc).__name__, exc.fix)
        return {"id": cid, "object": "chat.completion", "created": created, "model": answer.engine,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                **_extras(answer)}

    # -- answering (worker threads) -------------------------------------------------------------
    def _events(self, question: str, history: list[dict], spec: str) -> Iterator[dict]:
        assistant = self.runtime.get(timeout=300)
        lock = self.runtime.llm_lock(spec) if spec.startswith("local") else contextlib.nullcontext()
        with self._slots, lock:
            yield from assistant.stream(question, history, llm=spec)

    def _answer(self, question: str, history: list[dict], spec: str):
        for event in self._events(question, history, spec):
            if "answer" in event:
                return renumber(event["answer"])
        raise AssistantError("The engine returned no answer.", "Try again, or choose the extractive engine.")

    def _sse(self, question: str, history: list[dict], spec: str, cid: str, created: int) -> Iterator[str]:
        """Server-sent events: role, then the text as it grows (markers renumbered as they appear), then citations."""
        def chunk(delta: dict, finish: str | None = None, model: str = spec, **extra) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        raw, sent = "", ""
        try:
            for event in self._events(question, history, spec):
                if "token" in event:
                    raw += event["token"]
                elif "reset" in event:  # the LLM failed: the extractive answer follows, after a notice
                    raw, sent = "", ""
                    yield chunk({"content": f"\n\n[{event['reset']}]\n\n"})
                elif "answer" in event:
                    answer = renumber(event["answer"])
                    if answer.text.startswith(sent):
                        rest = answer.text[len(sent):]
                    else:  # validation changed earlier text: send the final text after a break
                        rest = "\n\n" + answer.text
                    if rest:
                        yield chunk({"content": rest})
                    yield chunk({}, "stop", model=answer.engine, **_extras(answer))
                    break
                else:
                    continue
                shown = renumber_text(raw)[0]
                # hold back a trailing partial marker ("[1" or "[") so numbers are never sent half-renumbered
                cut = shown.rfind("[")
                stable = shown if cut < 0 or "]" in shown[cut:] else shown[:cut]
                if stable.startswith(sent) and len(stable) > len(sent):
                    yield chunk({"content": stable[len(sent):]})
                    sent = stable
        except AssistantError as exc:
            yield f"data: {json.dumps({'error': {'message': f'{exc.problem} Fix: {exc.fix}', 'type': type(exc).__name__}})}\n\n"
        except Exception as exc:  # noqa: BLE001 - the log has it; the client gets an error event, not a dropped stream
            log.exception("Answering over /v1/chat/completions failed")
            yield f"data: {json.dumps({'error': {'message': f'Answering failed ({type(exc).__name__}).', 'type': 'server_error'}})}\n\n"
        yield "data: [DONE]\n\n"


def _extras(answer) -> dict:
    """The fields beside OpenAI's: the citations (n, title, section, url, quote, highlight, factor cells) and more."""
    return {"citations": [c.model_dump(mode="json") for c in answer.citations],
            "refused": answer.refused, "standalone_question": answer.standalone_question,
            "fallback_notice": answer.fallback_notice}
