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
from .test_ui_http import ARTIFACTS, save_artifact, serving
from .ui_contrast import CONTRAST_JS

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


def shot(pg, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    pg.screenshot(path=str(path), full_page=full_page)
    return path


def ask(pg, question: str, n_answers: int) -> str:
    pg.fill("#sa-input textarea", question)
    pg.keyboard.press("Enter")
    bot = pg.locator('#sa-chatbot [data-testid="bot"]')
    pg.wait_for_function(
        "n => { const b = document.querySelectorAll('#sa-chatbot [data-testid=\"bot\"]');"
        " return b.length >= n && /\\[\\d+\\]/.test(b[n - 1].innerText) && !document.querySelector('#sa-chatbot .pending'); }",
        arg=n_answers)
    # The sources panel follows when the answer is complete (it says "Answering…" until then).
    pg.wait_for_function("() => { const s = document.querySelector('#sa-sources');"
                         " return s && !s.innerText.includes('Answering'); }")
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
    assert page.locator("#sa-examples").get_by_text("Which is better for Performance (I/O)").count() == 1

    text = ask(page, "Which is better for real-time apps?", 1)
    assert text.startswith("Node.js wins on Real-Time Apps") and re.search(r"\[\d+\]", text)
    card = page.locator("#sa-sources .sa-src").first
    assert "Node.js vs Python for Startup Backends" in card.inner_text() and "Factor table" in card.inner_text()
    assert card.locator("table.sa-factor-table").count() == 1 and card.locator("tr.sa-hl-row").count() == 1
    assert card.locator("blockquote").count() == 0  # the row is shown once, as a table
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
    # The build's progress is shown while it runs; with the faster start-up a small first index can be
    # built before the page first reads the status, so "ready" is the other state it may find.
    page.wait_for_selector("#sa-status :text('Starting up'), #sa-status :text('Answering with')", timeout=30_000)
    with contextlib.suppress(PlaywrightTimeout):  # a fast machine may finish before the next status update
        page.wait_for_selector("#sa-status :text('building the index')", timeout=20_000)
    shot(page, "ui-first-start.png")
    wait_ready(page)

    text = ask(page, f"{PWN_IMG} What does the deployment checklist say about the reverse proxy?", 1)
    assert "reverse proxy" in text
    # the answer may quote the markup or not (the engine drops tags from sentences); where it appears, it is text:
    assert "<img" not in page.locator('#sa-chatbot [data-testid="bot"]').first.inner_html()
    user = page.locator('#sa-chatbot [data-testid="user"]').first.inner_text()
    assert user.startswith("<img src=x onerror=")
    sources = page.locator("#sa-sources").inner_text()
    assert "Deployment checklist <img src=x" in sources  # the source's markup, shown as text
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



# -- issue #14: both widths, clickable citations, the guide viewer, contrast, input, conversations, --------
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
def sized(browser, request):
    width, height = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=request.param == "phone",
                                  has_touch=request.param == "phone")
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(TIMEOUT)
    yield request.param, pg
    context.close()


def in_view(pg, selector: str) -> bool:
    box = pg.locator(selector).first.bounding_box()
    vp = pg.viewport_size
    return box is not None and box["y"] >= -1 and box["y"] + min(box["height"], 80) <= vp["height"] + 1 and box["x"] >= -1


def test_citations_layout_and_contrast_at_both_widths(sized, full_app):
    name, page = sized
    width, height = WIDTHS[name]
    url, _settings = full_app
    page.goto(url)
    wait_ready(page)
    page.wait_for_timeout(500)
    assert page.evaluate("scrollY") == 0 and in_view(page, "#sa-header h1")  # opens at its header
    if name == "desktop":  # the controls a founder needs are above the fold
        for sel in ("#sa-engine", "#sa-new", "#sa-input", "#sa-send"):
            assert in_view(page, sel), sel
    box = page.locator("#sa-input textarea")
    assert box.evaluate("t => t.scrollWidth <= t.clientWidth && t.scrollHeight <= t.clientHeight + 2")  # placeholder fits

    text = ask(page, "Which is better for real-time apps?", 1)
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    assert numbers and list(dict.fromkeys(numbers)) == list(range(1, max(numbers) + 1))  # 1..n in order of first use
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    assert page.locator("#sa-chatbot").bounding_box()["width"] <= width

    page.locator("#sa-input textarea").fill("")
    figures = page.evaluate(CONTRAST_JS)
    low = [f for f in figures if f["ratio"] < 4.5]
    named = {k: next((f["ratio"] for f in figures if f["text"].startswith(k)), None)
             for k in ("Node.js or Python for your startup", "placeholder:", "Send", "Engine")}
    save_artifact(f"ui-contrast-{name}.json", {"texts_checked": len(figures), "min_ratio": min(f["ratio"] for f in figures),
                                              "below_4_5": low, "named": named})
    print(f"\ncontrast ({name}): {len(figures)} texts, min {min(f['ratio'] for f in figures)}:1, named {named}")
    assert figures and not low, low
    shot(page, f"ui-chat-{name}.png", full_page=False)

    marker = page.locator('#sa-chatbot a[href^="#sa-cite-t0-"]').last
    n = marker.get_attribute("href").rsplit("-", 1)[1]
    marker.click()
    card = f"#src-t0-{n}" if name == "desktop" else f"#msg-t0-{n}"
    page.wait_for_selector(f"{card}.sa-target")
    page.wait_for_timeout(300)
    assert in_view(page, f"{card} mark.sa-hl, {card} tr.sa-hl-row")  # landed on the highlighted sentence
    if name == "phone":  # a collapsible panel under the answer, opened by the click; the side panel is hidden
        assert page.locator(f'#sa-chatbot [data-testid="bot"] details.sa-msg-sources:has({card})').evaluate("d => d.open")
        assert not page.locator("#sa-sources-col").is_visible()
    else:
        assert not page.locator("#sa-chatbot details.sa-msg-sources").first.is_visible()
    shot(page, f"ui-cite-{name}.png", full_page=False)

    guide_link = page.locator("#sa-chatbot a.sa-guide-link, #sa-sources a.sa-guide-link").filter(visible=True).first
    start, end = re.fullmatch(r"#sa-guide-L(\d+)-L(\d+)", guide_link.get_attribute("href")).groups()
    guide_link.click()
    page.wait_for_selector(f"#sa-guide-L{start}.sa-target-line")
    page.wait_for_timeout(300)
    assert in_view(page, f"#sa-guide-L{start}") and page.locator(".sa-target-line").count() == int(end) - int(start) + 1
    guide_text = (CORPUS / "guide.txt").read_text().splitlines()[int(start) - 1]
    assert page.locator(f"#sa-guide-L{start} .sa-gt").inner_text().strip() == guide_text.strip()
    shot(page, f"ui-guide-{name}.png", full_page=False)

    page.get_by_role("tab", name="Compare").click()
    grid = page.locator("#sa-grid table")
    grid.wait_for()
    assert grid.bounding_box()["x"] + grid.bounding_box()["width"] <= width + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    win = grid.locator("thead th", has_text="Win")
    assert win.bounding_box()["x"] + win.bounding_box()["width"] <= width + 1  # the Win column is on screen
    shot(page, f"ui-compare-{name}.png")
    assert not page.dialogs


def test_input_mistakes_lose_nothing_and_a_reload_keeps_the_conversation(page, full_app):
    url, _settings = full_app
    page.goto(url)
    wait_ready(page)
    box = page.locator("#sa-input textarea")
    assert box.get_attribute("maxlength") == "4000"
    box.click()
    page.keyboard.press("Enter")  # empty: nothing happens
    page.click("#sa-send")
    page.wait_for_timeout(1500)
    assert page.locator('#sa-chatbot [data-testid="user"], #sa-chatbot [data-testid="bot"]').count() == 0
    box.fill("Which is better")
    page.wait_for_selector("#sa-counter :text('15 / 4,000 characters')")
    box.fill("x" * 5000)
    assert len(box.input_value()) == 4000  # the browser keeps it within the limit; the counter shows it
    page.wait_for_selector("#sa-counter :text('4,000 / 4,000 characters')")

    page.locator("#sa-engine input").click()
    page.get_by_role("option", name=re.compile(r"^openai — unavailable")).first.click()
    question = "Which is better for real-time apps?"
    box.fill(question)
    page.keyboard.press("Enter")
    page.wait_for_selector("#sa-notice :text('OPENAI_API_KEY')")
    page.wait_for_timeout(500)
    assert box.input_value() == question  # the text survives the error

    page.locator("#sa-engine input").click()
    page.get_by_role("option", name=re.compile(r"^extractive")).click()
    page.keyboard.press("Escape")
    box.click()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#sa-chatbot a[href^=\"#sa-cite-t1-\"]').length > 0")
    page.wait_for_selector("#sa-history :text('Which is better for real-time apps?')")
    page.reload()  # per browser, without a login: the conversation is still listed
    wait_ready(page)
    page.locator("#sa-history").get_by_text("Which is better for real-time apps?").first.click()
    page.wait_for_selector('#sa-chatbot a[href^="#sa-cite-t1-"]')
    page.wait_for_selector("#sa-sources .sa-src")  # reopened with its sources


def _login(context, url: str, user: str, password: str) -> None:
    resp = context.request.post(url + "login", form={"username": user, "password": password})
    assert resp.ok, resp.status


def test_conversations_are_kept_per_login_and_never_shared(browser, assistant, tmp_path_factory):
    settings = assistant.settings.model_copy(update={"index_dir": tmp_path_factory.mktemp("ui-conversations")})
    fresh = Assistant(settings, kb=assistant.kb)
    with serving(settings, Runtime(settings, fresh), auth="ana:ana-pass,bo:bo-pass") as (url, _demo):
        ctx_a, ctx_b = (browser.new_context(viewport={"width": 1366, "height": 900}) for _ in range(2))
        try:
            _login(ctx_a, url, "ana", "ana-pass")
            _login(ctx_b, url, "bo", "bo-pass")
            pa, pb = ctx_a.new_page(), ctx_b.new_page()
            for pg in (pa, pb):
                pg.set_default_timeout(TIMEOUT)
            pa.goto(url)
            wait_ready(pa)
            ask(pa, "Which is better for real-time apps?", 1)
            pa.wait_for_selector("#sa-history :text('Which is better for real-time apps?')")
            assert "Saved for ana" in pa.locator("#sa-owner").inner_text()

            pb.goto(url)
            wait_ready(pb)
            ask(pb, "Which is better for AI/ML, Node.js or Python?", 1)
            pb.wait_for_selector("#sa-history :text('Which is better for AI/ML')")
            assert "real-time" not in pb.locator("#sa-history").inner_text()  # ana's is not listed for bo

            pa.reload()  # yesterday's conversation, found again and reopened with its sources
            wait_ready(pa)
            history = pa.locator("#sa-history").inner_text()
            assert "Which is better for real-time apps?" in history and "AI/ML" not in history
            pa.locator("#sa-history").get_by_text("Which is better for real-time apps?").click()
            pa.wait_for_selector('#sa-chatbot a[href^="#sa-cite-t0-"]')
            pa.locator('#sa-chatbot a[href^="#sa-cite-t0-"]').first.click()
            pa.wait_for_selector("#sa-sources .sa-src.sa-target")
            shot(pa, "ui-conversations.png", full_page=False)

            pa.locator("#sa-history").get_by_text("Which is better for real-time apps?").click()
            pa.click("#sa-delete")
            pa.wait_for_selector("#sa-notice :text('Conversation deleted')")
            assert "real-time" not in pa.locator("#sa-history").inner_text()
        finally:
            ctx_a.close()
            ctx_b.close()
    with sqlite3.connect(settings.index_dir / "conversations.sqlite") as con:
        owners = [r[0] for r in con.execute("SELECT owner FROM conversations")]
    assert owners == ["user:bo"]
