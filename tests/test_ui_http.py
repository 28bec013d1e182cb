"""The web UI over real HTTP: launched on a free loopback port, driven with gradio_client.

Figures (start-up time, 20-client latency) are written to artifacts/ for the README.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from assistant.service import Assistant
from assistant.ui.runtime import Runtime

from .conftest import REPO

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(settings, runtime: Runtime | None = None, **overrides):
    """Serve the UI on a free loopback port for the duration of the block; yields (url, demo)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from assistant.ui.app import create_app
    from assistant.ui.server import launch

    settings = settings.model_copy(update={"host": "127.0.0.1", "port": free_port(), **overrides})
    demo = create_app(settings, runtime)
    launch(settings, demo=demo, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.port}/", demo
    finally:
        demo.close()


def save_artifact(name: str, data: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture(scope="module")
def counted_assistant(assistant):
    """A fresh Assistant over the session's index whose stream() counts answers in flight."""
    fresh = Assistant(assistant.settings, kb=assistant.kb)
    lock, state = threading.Lock(), {"active": 0, "peak": 0}
    original = fresh.stream

    def stream(*args, **kwargs):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
        try:
            yield from original(*args, **kwargs)
        finally:
            with lock:
                state["active"] -= 1

    fresh.stream = stream
    fresh.inflight = state
    return fresh


@pytest.fixture(scope="module")
def served(counted_assistant):
    with serving(counted_assistant.settings, Runtime(counted_assistant.settings, counted_assistant)) as (url, demo):
        yield url


def test_chat_over_http_streams_a_cited_answer_and_keeps_the_conversation(served):
    from gradio_client import Client

    client = Client(served, verbose=False)
    job = client.submit("Which is better for real-time apps?", "extractive", api_name="/chat")
    _textbox, messages, sources, notice, _saved = job.result(timeout=120)
    answer = messages[-1]["content"][0]["text"]
    assert re.search(r"\[\d+\]", answer) and answer.startswith("Node.js wins on Real-Time Apps")
    assert "Factor table" in sources and 'class="sa-src"' in sources and notice == ""
    # the same client (session) continues the conversation: the follow-up is read with the history
    _t, messages, sources, _n, _saved = client.predict("and for AI?", "extractive", api_name="/chat")
    assert len(messages) == 4 and re.search(r"\[\d+\]", messages[-1]["content"][0]["text"])
    assert "Python" in messages[-1]["content"][0]["text"] and 'class="sa-src"' in sources


def test_decide_over_http(served):
    from gradio_client import Client

    html = Client(served, verbose=False).predict(
        "Requests trigger computation (ML inference, data transformation)", "Yes", "Python", "No", "Standard", False,
        api_name="/decide")
    assert 'data-verdict="Python"' in html and "[1]" in html and "The five questions" in html


def test_twenty_concurrent_clients_all_get_cited_answers(served, counted_assistant, factor_table):
    from gradio_client import Client

    _header, rows = factor_table
    questions = [f"Which is better for {r.factor}, Node.js or Python?" for r in rows] * 2
    questions = questions[:20]
    limit = counted_assistant.settings.concurrency_limit
    counted_assistant.inflight["peak"] = 0

    def one(question: str):
        client = Client(served, verbose=False)
        t = time.perf_counter()
        _tb, messages, sources, _n, _saved = client.predict(question, "extractive", api_name="/chat")
        return time.perf_counter() - t, messages[-1]["content"][0]["text"], sources

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, questions))
    wall = time.perf_counter() - t0
    for (_s, text, sources), q in zip(results, questions, strict=True):
        assert re.search(r"\[\d+\]", text) and 'class="sa-src"' in sources, (q, text)
    latencies = sorted(r[0] for r in results)
    peak = counted_assistant.inflight["peak"]
    assert 1 <= peak <= limit  # the queue never runs more than Settings.concurrency_limit answers at once
    figures = {"clients": 20, "engine": "extractive", "concurrency_limit": limit, "peak_answers_in_flight": peak,
               "wall_s": round(wall, 2), "latency_p50_s": round(statistics.median(latencies), 2),
               "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2), "latency_max_s": round(latencies[-1], 2),
               "all_cited": True, "cpus": os.cpu_count()}
    save_artifact("ui-concurrency.json", figures)
    print("\n20 concurrent clients:", figures)


def test_login_is_required_when_auth_is_set(counted_assistant):
    from gradio_client import Client

    settings = counted_assistant.settings
    with serving(settings, Runtime(settings, counted_assistant), auth="ana:s3cret") as (url, _demo):
        assert httpx.get(url + "config").status_code == 401
        assert httpx.post(url + "login", data={"username": "ana", "password": "wrong"}).status_code == 400
        _t, messages, _s, _n, _saved = Client(url, auth=("ana", "s3cret"), verbose=False).predict(
            "Which is better for real-time apps?", "extractive", api_name="/chat")
        assert re.search(r"\[\d+\]", messages[-1]["content"][0]["text"])


def test_python_app_py_serves_loopback_only_and_starts_in_seconds(full_index, tmp_path):
    """Process start -> HTTP 200 with an existing index (and -> first cited answer)."""
    from gradio_client import Client

    settings, _report = full_index
    port = free_port()
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_PORT": str(port),
           "ASSISTANT_LLM": "extractive", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("ASSISTANT_HOST", None)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        http_s = None
        while time.perf_counter() - t0 < 90 and proc.poll() is None:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    http_s = time.perf_counter() - t0
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert http_s is not None, f"no HTTP 200 within 90 s (exit code {proc.poll()})"
        _t, messages, _s, _n, _saved = Client(url, verbose=False).predict("Which is better for real-time apps?", "extractive",
                                                                    api_name="/chat")
        ready_s = time.perf_counter() - t0
        assert re.search(r"\[\d+\]", messages[-1]["content"][0]["text"])
        for addr in {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}:
            with pytest.raises(httpx.ConnectError):  # bound to loopback only
                httpx.get(f"http://{addr}:{port}/", timeout=2)
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "gradio.live" not in out and f"on http://127.0.0.1:{port}" in out  # never a public share link
    save_artifact("ui-startup.json", {"process_start_to_http_200_s": round(http_s, 2),
                                      "process_start_to_first_cited_answer_s": round(ready_s, 2),
                                      "index_passages": _report.chunks, "cpus": os.cpu_count()})
    print(f"\nstart-up: HTTP 200 after {http_s:.1f} s, first cited answer after {ready_s:.1f} s")
    assert http_s < 45



def test_openai_compatible_endpoint_with_the_openai_client(counted_assistant):
    """POST /v1/chat/completions on the UI's own server: the openai client, plain and streaming, with the login."""
    import openai

    settings = counted_assistant.settings
    runtime = Runtime(settings, counted_assistant)
    with serving(settings, runtime) as (url, _demo):  # off unless enabled
        assert httpx.post(url + "v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).status_code in (404, 405)
    with serving(settings, runtime, auth="ana:s3cret", openai_api=True) as (url, _demo):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "v1", api_key="ana:wrong", max_retries=0).chat.completions.create(
                model="extractive", messages=[{"role": "user", "content": "Which is better for real-time apps?"}])
        client = openai.OpenAI(base_url=url + "v1", api_key="ana:s3cret", max_retries=0)
        t0 = time.perf_counter()
        done = client.chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": "Which is better for real-time apps?"}])
        plain_s = time.perf_counter() - t0
        text = done.choices[0].message.content
        numbers = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
        assert text.startswith("Node.js wins on Real-Time Apps") and list(dict.fromkeys(numbers)) == list(range(1, max(numbers) + 1))
        cits = done.citations  # beside OpenAI's fields: the cited passages
        assert [c["n"] for c in cits] == list(range(1, len(cits) + 1)) and done.model == "extractive"
        row = next(c for c in cits if c["factor"] == "Real-Time Apps")
        assert row["winner"] == "Node.js" and row["url"].startswith("corpus/guide.txt#L") and row["quote"]

        t0 = time.perf_counter()
        chunks = list(client.chat.completions.create(model="stack-assistant", stream=True, messages=[
            {"role": "user", "content": "Which is better for AI/ML, Node.js or Python?"},
            {"role": "assistant", "content": "Python [1]."},
            {"role": "user", "content": "and for real-time?"}]))
        stream_s = time.perf_counter() - t0
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        last = chunks[-1]
        assert last.choices[0].finish_reason == "stop" and "real-time" in last.standalone_question.lower()
        assert any(c["factor"] == "Real-Time Apps" for c in last.citations) and re.search(r"\[1\]", streamed)
        assert len(chunks) >= 3 and [m.id for m in client.models.list()][0] == "stack-assistant"
    print(f"\nopenai client: plain answer in {plain_s:.2f} s, streamed ({len(chunks)} chunks) in {stream_s:.2f} s")
