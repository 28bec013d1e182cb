"""The web UI in a real browser: Playwright driving Debian's Chromium.

Chat (answer with [n] and its source in the panel, a follow-up, a thumbs up), Compare, Decide,
a first start that builds the index with progress, and a poisoned corpus document whose markup
must show as text and never run. Screenshots go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from assistant.service import Assistant
from assistant.ui.runtime import Runtime

from .conftest import CORPUS, IN_CI, make_settings
from .test_ui_http import ARTIFACTS, serving

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PWN_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
PWN_SCRIPT = "<script>window.__pwned=1</script>"
POISON_DOC = f"""# Deployment checklist {PWN_IMG}

Our deployment checklist for the backend: run it behind a reverse proxy {PWN_IMG} and restart crashed workers.

{PWN_SCRIPT}

The deployment checklist also says to rotate the reverse proxy logs daily {PWN_SCRIPT} and to alert(1) nobody.
"""
TIMEOUT = 120_000  # ms; the machine may be shared


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("CI must have Chromium at /usr/bin/chromium (.ci/run installs it: apt-get install -y chromium)")
        pytest.skip("Chromium not found at /usr/bin/chromium; install it with: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(TIMEOUT)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def full_app(assistant, tmp_path_factory):
    """The full index (guide + related docs), feedback logged to a private folder."""
    settings = assistant.settings.model_copy(update={"index_dir": tmp_path_factory.mktemp("ui-browser-index")})
    fresh = Assistant(settings, kb=assistant.kb)
    with serving(settings, Runtime(settings, fresh)) as (url, _demo):
        yield url, settings


@pytest.fixture(scope="module")
def poisoned_app(tmp_path_factory):
    """A copy of corpus/ plus a poisoned Markdown file, and NO index yet: the UI builds it on first start."""
    root = tmp_path_factory.mktemp("poisoned")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "deployment-notes.md").write_text(POISON_DOC, encoding="utf-8")
    settings = make_settings(corpus_dir=corpus, index_dir=root / "index", llm="extractive")
    with serving(settings) as (url, _demo):
        yield url


def shot(pg, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    pg.screenshot(path=str(path), full_page=True)
    return path


def ask(pg, question: str, n_answers: int) -> str:
    pg.fill("#sa-input textarea", question)
    pg.keyboard.press("Enter")
    bot = pg.locator('#sa-chatbot [data-testid="bot"]')
    pg.wait_for_function(
        "n => { const b = document.querySelectorAll('#sa-chatbot [data-testid=\"bot\"]');"
        " return b.length >= n && /\\[\\d+\\]/.test(b[n - 1].innerText) && !document.querySelector('#sa-chatbot .pending'); }",
        arg=n_answers)
    return bot.nth(n_answers - 1).inner_text()


def wait_ready(pg):
    """Loaded: the status names the engine and the examples (from the index) are filled in."""
    pg.wait_for_selector("#sa-status :text('Answering with')")
    pg.wait_for_selector("#sa-examples :text('Which is better for')")


def test_chat_answers_with_markers_and_sources_then_a_follow_up_and_a_thumbs_up(page, full_app):
    url, settings = full_app
    page.goto(url)
    wait_ready(page)
    assert page.locator("#sa-status").inner_text().count("guide as of 2026") == 1
    assert page.locator("#sa-examples").get_by_text("Which is better for Real-Time Apps").count() == 1

    text = ask(page, "Which is better for real-time apps?", 1)
    assert text.startswith("Node.js wins on Real-Time Apps") and re.search(r"\[\d+\]", text)
    card = page.locator("#sa-sources .sa-src").first
    assert "Node.js vs Python for Startup Backends" in card.inner_text() and "Factor table" in card.inner_text()
    assert card.locator("table.sa-factor-table").count() == 1 and card.locator("mark.sa-hl").count() >= 1
    assert "corpus/guide.txt, line 42" in card.inner_text()
    shot(page, "ui-chat.png")  # docs/screenshot-chat.png is a copy of this one

    followup = ask(page, "and for AI?", 2)
    assert "Python" in followup and re.search(r"\[\d+\]", followup)
    assert "Which is better for AI, Node.js or Python?" in page.locator("#sa-sources").inner_text()  # read with the history
    shot(page, "ui-chat-follow-up.png")

    page.locator("#sa-chatbot").get_by_role("button", name="Like", exact=True).first.click()
    page.wait_for_selector("#sa-feedback :text('Thanks, saved')")
    with sqlite3.connect(settings.index_dir / "feedback.sqlite") as con:
        (question, rating), = con.execute("SELECT question, rating FROM feedback").fetchall()
    assert (question, rating) == ("Which is better for real-time apps?", 1)

    page.locator("#sa-chatbot [data-testid='bot']").first.click()  # selecting an answer shows its sources
    page.wait_for_selector("#sa-sources :text('Real-Time Apps')")
    page.click("#sa-new")
    page.wait_for_function("() => document.querySelectorAll('#sa-chatbot [data-testid=\"bot\"]').length === 0")

    page.locator("#sa-examples").get_by_text("Which is better for Performance (I/O)").click()
    page.wait_for_selector("#sa-sources :text('Performance (I/O)')")
    assert not page.dialogs


def test_compare_and_decide_views(page, full_app):
    url, _settings = full_app
    page.goto(url)
    wait_ready(page)
    page.get_by_role("tab", name="Compare").click()
    grid = page.locator("#sa-grid table")
    grid.wait_for()
    assert grid.locator("tbody tr").count() == 11 and grid.locator("a.sa-marker").count() == 44
    for factor in ("Real-Time Apps", "AI / ML Ecosystem", "Full-Stack JS"):
        page.locator("#sa-factors").get_by_label(factor).check()
    page.wait_for_selector("#sa-tally :text('3 factors ticked')")
    tally = page.locator("#sa-tally").inner_text()
    assert "Leaning Node.js" in tally and "The rows behind this tally" in tally and "corpus/guide.txt, line 43" in tally
    shot(page, "ui-compare.png")

    page.get_by_role("tab", name="Decide").click()
    page.locator("#sa-q-data_flow").get_by_label("Requests trigger computation (ML inference, data transformation)").check()
    page.locator("#sa-q-ai").get_by_label("Yes").check()
    page.locator("#sa-q-team").get_by_label("JavaScript / TypeScript").check()
    page.click("#sa-decide")
    result = page.locator("#sa-result .sa-decision[data-verdict]")
    result.wait_for()
    assert result.get_attribute("data-verdict") == "Python"
    body = result.inner_text()
    assert "pick one and ship" in body and "[1]" in body and "The five questions" in body
    assert result.locator("mark.sa-hl").count() >= 3
    shot(page, "ui-decide.png")


def test_first_start_builds_the_index_and_poisoned_markup_never_runs(page, poisoned_app):
    page.goto(poisoned_app)
    page.wait_for_selector("#sa-status :text('Starting up')", timeout=30_000)  # the build's progress is shown
    with contextlib.suppress(PlaywrightTimeout):  # a fast machine may finish before the next status update
        page.wait_for_selector("#sa-status :text('building the index')", timeout=20_000)
    shot(page, "ui-first-start.png")
    wait_ready(page)

    text = ask(page, f"{PWN_IMG} What does the deployment checklist say about the reverse proxy?", 1)
    assert "reverse proxy" in text
    assert "<img src=x onerror=" in text or "<script>" in text  # the markup is shown as text
    user = page.locator('#sa-chatbot [data-testid="user"]').first.inner_text()
    assert user.startswith("<img src=x onerror=")
    sources = page.locator("#sa-sources").inner_text()
    assert "Deployment checklist <img src=x" in sources and "<script>window.__pwned=1</script>" in sources
    shot(page, "ui-poisoned.png")

    page.wait_for_timeout(1000)  # give any injected handler time to fire
    assert page.dialogs == []
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("[...document.scripts].some(s => s.textContent.includes('__pwned'))") is False
    assert page.evaluate("[...document.querySelectorAll('*')].some(e => e.hasAttribute('onerror'))") is False


def test_fallback_notice_is_visible_when_the_llm_engine_fails(page, full_app, monkeypatch):
    from .test_ui_http import free_port

    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there: the engine fails
    url, _settings = full_app
    page.goto(url)
    wait_ready(page)
    page.locator("#sa-engine input").click()
    page.get_by_role("option", name=re.compile(r"^ollama")).click()
    page.wait_for_selector("#sa-status :text('Answering with ollama')")
    text = ask(page, "Which is better for real-time apps?", 1)
    assert "⚠" in text and "extractive answer instead" in text and re.search(r"\[\d+\]", text)
    notice = page.locator("#sa-notice .sa-warn")
    assert notice.is_visible() and "ollama" in notice.inner_text() and "failed" in notice.inner_text()
    shot(page, "ui-fallback.png")
