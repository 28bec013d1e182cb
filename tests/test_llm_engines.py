"""The real LLM engines: local llama.cpp, and the openai engine over real HTTP against llama.cpp's
OpenAI-compatible server. Slow; skipped with the reason when the local extra is not installed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import require_local

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_local_engine_answers_a_factor_question_with_a_valid_citation(assistant, model_cache):
    require_local()
    from assistant.service import Assistant

    settings = assistant.settings.model_copy(update={"model_cache_dir": model_cache, "llm_timeout": 600.0})
    local = Assistant(settings, kb=assistant.kb)
    ans = local.ask("Which is better for real-time apps?", llm="local:qwen-1.5b")
    assert ans.engine == "local:qwen-1.5b" and ans.fallback_notice is None, ans
    assert ans.citations and "Node.js" in ans.text
    shown = {p.n for p in ans.passages}
    assert all(c.n in shown for c in ans.citations) and not ans.invalid_citations


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_engine_over_http_against_llama_cpp_server(assistant, model_cache, monkeypatch):
    require_local()
    from assistant.gguf_models import resolve_model
    from assistant.service import Assistant

    model = resolve_model("qwen-0.5b", model_cache)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen-0.5b"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not come up within 120 s")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
        settings = assistant.settings.model_copy(update={"llm_timeout": 300.0})
        remote = Assistant(settings, kb=assistant.kb)
        ans = remote.ask("Which is better for AI/ML, Node.js or Python?", llm="openai:qwen-0.5b")
        # The server answered over HTTP: either its cited answer, or (a small model citing nothing)
        # the extractive fallback with that reason, never a connection error.
        assert ans.engine.startswith("openai:qwen-0.5b")
        if ans.fallback_notice:
            assert "cited no passage" in ans.fallback_notice or "does not cover" in ans.fallback_notice \
                or "repeated its prompt" in ans.fallback_notice or "no sentence" in ans.fallback_notice, ans.fallback_notice
        assert ans.citations and not ans.refused
        assert "sk-local-test-key" not in ans.model_dump_json()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
