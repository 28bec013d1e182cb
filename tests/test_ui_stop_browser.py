"""Stop in a real browser (Playwright + Debian Chromium) while the local model streams (issue #13):
Stop shows only while the answer streams, stops the text where it is (marked, its sources kept),
stops the llama.cpp server child's decoding, and the next question answers at once."""

from __future__ import annotations

import re
import time

import pytest

from .test_ui_browser import browser, page, shot, wait_ready  # noqa: F401 - fixtures and helpers
from .test_ui_browser_engines import BOT, LOCAL, _answer, _send, serving_local_bot
from .test_ui_http import save_artifact

pytestmark = pytest.mark.slow
CAP = 1024  # tokens: an answer left running would write for minutes on this CPU
LONG = "Compare Node.js and Python on every factor of the guide's table, one detailed paragraph per factor."


@pytest.fixture(scope="module")
def app_with_local(assistant, gguf_cache, tmp_path_factory):
    with serving_local_bot(assistant, index_dir=tmp_path_factory.mktemp("ui-stop"), model_cache_dir=gguf_cache,
                           llm_timeout=600.0, llm_max_tokens=CAP) as served:
        yield served


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def _bubble_text(pg, n: int) -> str:
    bots = pg.locator(BOT)
    return bots.nth(n - 1).inner_text().strip() if bots.count() >= n else ""


def test_stop_ends_the_streaming_answer_and_the_model_and_the_next_question_answers(page, app_with_local):  # noqa: F811
    url, bot = app_with_local
    page.goto(url)
    wait_ready(page)
    stop = page.locator("#sa-stop")
    assert not stop.is_visible()  # nothing streams yet
    page.locator("#sa-engine input").click()
    page.get_by_role("option", name=re.compile(r"^local:qwen-0\.5b")).click()
    page.wait_for_selector(f"#sa-status :text('Answering with {LOCAL}')")

    _send(page, LONG)
    stop.wait_for(state="visible")
    # Let it stream: some words and a citation, then Stop.
    t_send, t0 = time.monotonic(), None
    while time.monotonic() - t_send < 300:
        text = _bubble_text(page, 1)
        t0 = t0 or (time.monotonic() if re.search(r"\w", text) else None)  # the first words: decoding began
        if len(text) > 60 and re.search(r"\[\d+\]", text):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the local model did not stream a cited start within 300 s: {_bubble_text(page, 1)!r}")
    streamed_s = time.monotonic() - t0
    server = bot.engine(LOCAL).server
    stop.click()
    t_stop = time.monotonic()
    page.wait_for_function("() => document.querySelector('#sa-chatbot').innerText.includes('— stopped')")
    stop.wait_for(state="hidden")
    stopped = _bubble_text(page, 1)
    cpu0 = _cpu_seconds(server.pid)
    time.sleep(3)
    cpu_after = _cpu_seconds(server.pid) - cpu0
    assert _bubble_text(page, 1) == stopped  # the text stopped growing
    assert stopped.rstrip().endswith("— stopped") and len(stopped) > 60, stopped
    assert page.locator("#sa-sources .sa-src").count() >= 1  # the cited passages stay shown
    assert "Stopped" in page.locator("#sa-notice").inner_text()
    assert page.locator("#sa-send").is_enabled()

    t_next = time.monotonic()
    _send(page, "Which is better for real-time apps, Node.js or Python?")
    stop.wait_for(state="visible")
    while not re.search(r"\w{3}", _bubble_text(page, 2)) and time.monotonic() - t_next < 300:
        time.sleep(0.1)
    first_text_s = time.monotonic() - t_next
    second = _answer(page, 2)
    total_s = time.monotonic() - t_next
    stop.wait_for(state="hidden")
    assert re.search(r"\[\d+\]", second) and "— stopped" not in second, second
    assert _bubble_text(page, 1) == stopped  # the stopped turn is kept as it was

    tokens_per_s = max(1.0, len(stopped) / 4 / max(streamed_s, 0.1))  # ~4 characters a token, from the first words
    old_cap_s = CAP / tokens_per_s
    figures = {"streamed_before_stop_s": round(streamed_s, 1), "stopped_chars": len(stopped),
               "child_cpu_s_in_3s_after_stop": round(cpu_after, 2), "next_answer_first_text_s": round(first_text_s, 1),
               "next_answer_total_s": round(total_s, 1), "old_answer_cap_estimate_s": round(old_cap_s, 1),
               "stop_to_next_send_s": round(t_next - t_stop, 1)}
    print("stop figures:", figures)
    save_artifact("ui-stop.json", figures)
    shot(page, "ui-stop.png")
    # Generous: the child stopped decoding (a decoding child burns about a core-second per second), and
    # the next answer began before the stopped one could have written its token cap.
    assert cpu_after < 2.5, figures
    assert first_text_s < old_cap_s, figures
