"""A tiny OpenAI-compatible chat server (stdlib only) for fault tests over real HTTP.

    with FakeLLMServer(mode="ok", reply="Node.js wins [1].") as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url   # http://127.0.0.1:<port>/v1

Modes (settable while running via `server.mode = ...`):
    ok         a well-formed SSE stream (or JSON body when stream=false) of `reply`, after `delay` s
    hang       reads the request, then sends nothing until `hang_seconds` pass or the server stops
    garbage    200 with a body that is not JSON at all
    bad_json   200 with JSON of the wrong shape (no `choices`)
    bad_sse    200 text/event-stream whose events are not valid JSON
    error500   500 with an error body
    drop       closes the connection without a response
    stall      streams the first words of `reply`, then stalls like `hang`
    auth_echo  401 whose error message echoes the Authorization header (a badly behaved proxy)

`closed_port()` gives a loopback port nothing listens on ("LLM endpoint down").
Every request is recorded in `server.requests` (path, headers, body) so tests can check what
was sent. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "hang", "garbage", "bad_json", "bad_sse", "error500", "drop", "stall", "auth_echo")


def closed_port() -> int:
    """A loopback port with no listener (bound then released, so nothing else holds it right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chunk(content: str | None, finish: str | None = None, role: bool = False) -> bytes:
    delta = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    event = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(event)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # /v1/models, for clients that probe
        self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.server.record(self.path, dict(self.headers), body)
        mode = self.server.mode
        if mode == "hang":
            self.server.stopping.wait(self.server.hang_seconds)
            self.close_connection = True
            return
        if mode == "drop":
            self.close_connection = True
            return
        if mode == "garbage":
            return self._raw(200, "application/json", b"<html>this is {not json")
        if mode == "bad_json":
            return self._json(200, {"unexpected": "shape", "choices": None})
        if mode == "auth_echo":
            return self._json(401, {"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}",
                                              "type": "invalid_request_error", "code": "invalid_api_key"}})
        if mode == "stall":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(_chunk("", role=True) + b"".join(_chunk(w + " ") for w in self.server.reply.split(" ")[:3]))
            self.wfile.flush()
            self.server.stopping.wait(self.server.hang_seconds)
            self.close_connection = True
            return
        if mode == "error500":
            return self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
        if mode == "bad_sse":
            payload = b"data: {broken json\n\ndata: [[[\n\nevent: nonsense\ndata: {\"choices\": 7}\n\ndata: [DONE]\n\n"
            return self._raw(200, "text/event-stream", payload)
        reply = self.server.reply
        if self.server.delay:  # a slow but healthy endpoint (e.g. a busy GPU server)
            self.server.stopping.wait(self.server.delay)
        if not body.get("stream"):
            return self._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                                 "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        words = reply.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        payload = _chunk("", role=True) + b"".join(_chunk(p) for p in pieces) + _chunk(None, "stop") + b"data: [DONE]\n\n"
        self._raw(200, "text/event-stream", payload)

    def _json(self, status: int, obj: dict) -> None:
        self._raw(status, "application/json", json.dumps(obj).encode())

    def _raw(self, status: int, ctype: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str, reply: str, hang_seconds: float, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.reply, self.hang_seconds, self.delay = mode, reply, hang_seconds, delay
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def record(self, path: str, headers: dict, body: dict) -> None:
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body, "at": time.time()})


class FakeLLMServer:
    """Context manager running the fake server in a daemon thread on 127.0.0.1:<free port>."""

    def __init__(self, mode: str = "ok", reply: str = "Node.js wins on real-time apps [1].", hang_seconds: float = 30.0,
                 delay: float = 0.0):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
        self._server = _Server(mode, reply, hang_seconds, delay)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="fake-llm")

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict]:
        return self._server.requests

    @property
    def mode(self) -> str:
        return self._server.mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown mode {value!r}; use one of {MODES}")
        self._server.mode = value

    @property
    def reply(self) -> str:
        return self._server.reply

    @reply.setter
    def reply(self, value: str) -> None:
        self._server.reply = value

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.stopping.set()  # release hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":  # manual poking: python tests/fake_llm_server.py ok
    import sys

    with FakeLLMServer(sys.argv[1] if len(sys.argv) > 1 else "ok") as srv:
        print(f"OPENAI_BASE_URL={srv.base_url}  (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
