"""LLM endpoint faults over real HTTP: the `openai` engine against a stdlib fake server on 127.0.0.1.

Down (closed port), hanging, stalling mid-stream, garbage JSON, wrong SSE, HTTP 500, dropped
connections: every one gives the cited extractive answer with a notice naming the engine and the
error, within the configured timeout. The fake server runs in a thread of the test process (no
subprocess), so these stay in the fast suite.
"""

from __future__ import annotations

import time

import pytest

from assistant.cli import main
from assistant.service import Assistant

from .conftest import make_settings
from .fake_llm_server import FakeLLMServer, closed_port

Q = "Which is better for real-time apps?"
FAKE_KEY = "sk-test-fake-key-0000000000000000"
TIMEOUT = 2.0
# Retrieval, the extractive fallback and building the client on top of the LLM deadline.
SLACK = 3.0


@pytest.fixture
def openai_env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)

    def point_at(base_url: str) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)

    return point_at


def fresh_assistant(assistant, **kw) -> Assistant:
    """The session's loaded index, with a fresh engine cache and our timeout."""
    settings = make_settings(index_dir=assistant.settings.index_dir, llm="extractive", llm_timeout=TIMEOUT,
                             llm_max_retries=1, **kw)
    return Assistant(settings, kb=assistant.kb)


def assert_cited_fallback(ans, *, because: str) -> None:
    assert ans.engine == "openai:fake → extractive"
    assert ans.fallback_notice and "openai:fake" in ans.fallback_notice and because in ans.fallback_notice
    assert ans.text.startswith("Node.js wins on Real-Time Apps") and ans.citations and not ans.refused
    numbers = {p.n for p in ans.passages}
    assert all(c.n in numbers for c in ans.citations)


def test_a_healthy_endpoint_answers_with_valid_citations(assistant, openai_env):
    with FakeLLMServer("ok", reply="Node.js wins on real-time apps [1]. It was designed for WebSockets and live data [1].") as server:
        openai_env(server.base_url)
        ans = fresh_assistant(assistant).ask(Q, llm="openai:fake")
    assert ans.engine == "openai:fake" and ans.fallback_notice is None
    assert ans.text == "Node.js wins on real-time apps [1]. It was designed for WebSockets and live data [1]."
    assert [c.n for c in ans.citations] == [1] and ans.citations[0].factor == "Real-Time Apps"
    (request,) = server.requests
    body = request["body"]
    assert request["path"] == "/v1/chat/completions" and body["stream"] is True and body["temperature"] == 0
    assert body["messages"][0]["role"] == "system" and "[1]" in body["messages"][1]["content"]


@pytest.mark.parametrize("mode, because", [
    ("garbage", "failed"),
    ("bad_json", "failed"),
    ("bad_sse", "failed"),
    ("error500", "500"),
    ("drop", "Connection"),
])
def test_malformed_or_failing_endpoint_gives_the_cited_extractive_answer(assistant, openai_env, mode, because):
    with FakeLLMServer(mode) as server:
        openai_env(server.base_url)
        t = time.perf_counter()
        ans = fresh_assistant(assistant).ask(Q, llm="openai:fake")
        elapsed = time.perf_counter() - t
    assert_cited_fallback(ans, because=because)
    assert elapsed < TIMEOUT + SLACK
    assert server.requests  # it really went over HTTP


def test_endpoint_down_gives_the_cited_extractive_answer(assistant, openai_env):
    openai_env(f"http://127.0.0.1:{closed_port()}/v1")
    t = time.perf_counter()
    ans = fresh_assistant(assistant).ask(Q, llm="openai:fake")
    assert time.perf_counter() - t < TIMEOUT + SLACK
    assert_cited_fallback(ans, because="Connection")


@pytest.mark.parametrize("mode", ["hang", "stall"])
def test_hanging_endpoint_is_abandoned_at_the_configured_timeout(assistant, openai_env, mode):
    with FakeLLMServer(mode, reply="Node.js wins on real-time apps [1].", hang_seconds=30) as server:
        openai_env(server.base_url)
        bot = fresh_assistant(assistant)
        bot.engine("openai:fake")  # build the client first: the deadline covers the call, not imports
        t = time.perf_counter()
        events = list(bot.stream(Q, llm="openai:fake"))
        elapsed = time.perf_counter() - t
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + SLACK
    ans = events[-1]["answer"]
    assert_cited_fallback(ans, because=f"did not finish within {TIMEOUT:g} s")
    if mode == "stall":  # words were shown before the stall; the UI is told to replace them
        assert [e for e in events if "token" in e][:1] and any("reset" in e for e in events)


def test_the_same_assistant_recovers_when_the_endpoint_comes_back(assistant, openai_env):
    with FakeLLMServer("error500", reply="Node.js wins on real-time apps [1].") as server:
        openai_env(server.base_url)
        bot = fresh_assistant(assistant)
        assert bot.ask(Q, llm="openai:fake").fallback_notice
        server.mode = "ok"
        ans = bot.ask(Q, llm="openai:fake")
    assert ans.fallback_notice is None and ans.engine == "openai:fake" and ans.citations


def test_cli_ask_with_a_hanging_endpoint_prints_the_notice_and_exits_zero(full_index, openai_env, monkeypatch, capsys):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(full_index[0].index_dir))
    monkeypatch.setenv("ASSISTANT_LLM_TIMEOUT", str(TIMEOUT))
    with FakeLLMServer("hang", hang_seconds=30) as server:
        openai_env(server.base_url)
        t = time.perf_counter()
        status = main(["ask", Q, "--llm", "openai:fake"])
        elapsed = time.perf_counter() - t
    out = capsys.readouterr()
    assert status == 0 and "Traceback" not in out.err
    assert "[notice] The openai:fake engine failed (openai:fake did not finish within 2 s)" in out.out
    assert "Node.js wins on Real-Time Apps" in out.out and "Sources:" in out.out
    assert elapsed < TIMEOUT + 15  # + loading the index and the embedding model in this process


def test_concurrent_questions_reach_a_hosted_endpoint_in_parallel(assistant, openai_env):
    """Replicas scale the LLM side through a server that batches requests: one answer must not
    wait for another's HTTP call (the UI answers settings.concurrency_limit questions at once)."""
    from concurrent.futures import ThreadPoolExecutor

    with FakeLLMServer("ok", reply="Node.js wins on real-time apps [1].", delay=1.2) as server:
        openai_env(server.base_url)
        bot = fresh_assistant(assistant)
        bot.engine("openai:fake")
        t = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: bot.ask(Q, llm="openai:fake"), range(4)))
        elapsed = time.perf_counter() - t
    assert [a.fallback_notice for a in answers] == [None] * 4, [a.fallback_notice for a in answers]
    assert all(a.engine == "openai:fake" and a.citations for a in answers)
    assert elapsed < TIMEOUT + SLACK  # serialised, four 1.2 s calls would need 4.8 s and hit the 2 s deadline
