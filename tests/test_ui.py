"""The web UI without serving it: the Blocks build, and every handler called directly over a real
index (the session `assistant`), with LangChain's fake chat model only where an LLM is needed."""

from __future__ import annotations

import itertools
import json
import logging
import re
import sqlite3

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.answer import Citation
from assistant.decide import QUESTIONS, recommend
from assistant.engines.llm import ChatEngine
from assistant.errors import ConfigError
from assistant.service import Assistant
from assistant.ui import chat, compare, sources_panel
from assistant.ui.decide import decide, render
from assistant.ui.feedback import FeedbackLog, export_cases, feedback_path
from assistant.ui.runtime import Runtime
from assistant.ui.server import check_exposure, parse_auth

from .conftest import make_settings

POISON = '<img src=x onerror="document.body.setAttribute(\'data-pwned\',\'1\')"><script>window.__pwned=1</script>'


@pytest.fixture
def runtime(assistant, tmp_path):
    """A runtime over the session's index whose feedback log lives in this test's tmp dir."""
    fresh = Assistant(assistant.settings.model_copy(update={"index_dir": tmp_path / "index"}), kb=assistant.kb)
    return Runtime(fresh.settings, fresh)


def _fake_engine(rt: Runtime, replies: list[str], spec: str = "openai:fake") -> str:
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(r) for r in replies]))
    rt.get()._engines[spec] = ChatEngine("openai", spec, model, timeout=10)
    return spec


def _run(rt: Runtime, question: str, turns=None, engine="extractive"):
    return list(chat.respond(rt, question, turns or [], engine))


# -- the Blocks ----------------------------------------------------------------------------------
def test_create_app_builds_the_blocks_without_loading_or_serving(tmp_path):
    import gradio as gr

    from app import create_app

    settings = make_settings(index_dir=tmp_path / "no-index")
    demo = create_app(settings)
    assert isinstance(demo, gr.Blocks)
    assert not demo.runtime.ready and not (tmp_path / "no-index").exists()  # nothing loaded, nothing built
    assert not demo.is_running
    api = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert {"chat", "decide"} <= api
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"Chat", "Compare", "Decide"} <= labels
    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chatbot.sanitize_html and chatbot.feedback_options == ("Like", "Dislike") and chatbot.latex_delimiters == []
    assert demo._queue.default_concurrency_limit == settings.concurrency_limit
    asking = [fn for fn in demo.fns.values() if fn.name in ("ask", "chat_api")]
    assert len(asking) == 4 and {(fn.concurrency_id, fn.concurrency_limit) for fn in asking} == {("answer", 4)}


def test_engine_dropdown_lists_every_engine_and_why_one_is_unavailable(monkeypatch):
    from assistant.engines import ENGINES

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    choices, value, info = chat.engine_choices("extractive")
    specs = [v for _label, v in choices]
    assert value == "extractive" and all(any(s.split(":")[0] == name for s in specs) for name in ENGINES)
    openai_label = next(label for label, v in choices if v == "openai")
    assert "unavailable" in openai_label and "OPENAI_API_KEY not set" in openai_label
    assert "OPENAI_API_KEY not set" in chat.engine_notice("openai", info)
    assert chat.engine_choices("local")[1] == "local:qwen-1.5b"
    custom_choices, custom_value, _info = chat.engine_choices("openai:gpt-x")
    assert custom_value == "openai:gpt-x" and "openai:gpt-x" in [v for _label, v in custom_choices]


# -- chat -------------------------------------------------------------------------------------------
def test_chat_answers_with_markers_and_a_sources_panel_for_a_factor_row(runtime):
    outs = _run(runtime, "Which is better for real-time apps?")
    textbox, messages, turns, sources, notice = outs[-1]
    assert textbox == "" and notice == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert re.search(r"\[\d+\]", messages[1]["content"])
    ans = turns[0]["answer"]
    row = next(c for c in ans["citations"] if c["factor"] == "Real-Time Apps")
    assert row["title"] in sources and "Factor table" in sources and f"[{row['n']}]" in sources
    assert '<table class="sa-factor-table">' in sources and "WebSockets &amp; live data" in sources
    assert '<mark class="sa-hl">' in sources
    assert "corpus/guide.txt, line 42" in sources  # the guide has no public URL: its location instead


def test_related_doc_citations_link_to_their_canonical_url(runtime):
    _tb, _msgs, turns, sources, _n = _run(runtime, "What does Django's CSRF protection do?")[-1]
    urls = [c["url"] for c in turns[0]["answer"]["citations"] if c["url"].startswith("https://")]
    assert urls, turns[0]["answer"]["text"]
    assert f'href="{sources_panel.esc(urls[0])}"' in sources and 'rel="noopener noreferrer nofollow"' in sources


def test_follow_up_uses_the_chat_history(runtime):
    first = _run(runtime, "Which is better for AI/ML, Node.js or Python?")[-1][2]
    _tb, messages, turns, sources, _n = _run(runtime, "and for real-time?", first)[-1]
    assert len(messages) == 4
    assert "real-time" in turns[1]["answer"]["standalone_question"].lower()
    assert any(c["factor"] == "Real-Time Apps" for c in turns[1]["answer"]["citations"])
    assert chat.history_of(turns[:1])[0] == {"role": "user", "content": "Which is better for AI/ML, Node.js or Python?"}


def test_llm_answer_streams_token_by_token(runtime):
    spec = _fake_engine(runtime, ["Node.js wins on real-time apps thanks to its event loop [1]."])
    outs = _run(runtime, "Which is better for real-time apps?", engine=spec)
    shown = [o[1][1]["content"] for o in outs[1:]]
    assert len(shown) > 3 and shown[1] != shown[-1]  # grew over several updates
    assert "event loop [\\[1\\]](#sa-cite-t0-1)." in shown[-1] and outs[-1][2][0]["answer"]["engine"] == spec


def test_fallback_notice_is_shown_when_the_llm_answer_is_unusable(runtime):
    spec = _fake_engine(runtime, ["Node.js is great, trust me."], spec="openai:uncited")
    _tb, messages, turns, sources, notice = _run(runtime, "Which is better for real-time apps?", engine=spec)[-1]
    assert turns[0]["answer"]["fallback_notice"] and "extractive" in turns[0]["answer"]["engine"]
    assert 'class="sa-notice sa-warn"' in notice and "cited no passage" in notice
    assert messages[1]["content"].startswith("> ⚠") and "trust me" not in messages[1]["content"]
    assert "Factor table" in sources


def test_unavailable_engine_gives_problem_and_fix_not_a_traceback(runtime, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _tb, messages, turns, sources, notice = _run(runtime, "Which is better for real-time apps?", engine="openai")[-1]
    assert turns[0]["error"]["problem"] == "OPENAI_API_KEY is not set." and "Export OPENAI_API_KEY" in notice
    assert _tb == "Which is better for real-time apps?"  # the text box keeps the question to send again
    assert "**Fix:**" in messages[1]["content"] and "Traceback" not in messages[1]["content"]
    assert "not answered" in sources


def test_unexpected_errors_are_logged_and_shown_without_a_traceback(runtime, monkeypatch, caplog):
    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(runtime.get(), "stream", boom)
    with caplog.at_level(logging.ERROR, logger="assistant.ui"):
        _tb, messages, turns, _s, notice = _run(runtime, "Which is better for real-time apps?")[-1]
    assert "Something went wrong" in notice and "kaboom" not in notice and "Traceback" not in messages[1]["content"]
    assert "kaboom" in caplog.text


def test_empty_question_does_nothing(runtime):
    assert _run(runtime, "   ") == [] and _run(runtime, "") == []


def test_too_long_question_keeps_the_text_and_adds_no_bubble(runtime):
    turns = _run(runtime, "Which is better for real-time apps?")[-1][2]
    long_q = "Which is better? " * 300  # 5,100 characters, over max_question_chars (4,000)
    textbox, messages, kept, sources, notice = _run(runtime, long_q, turns)[-1]
    assert textbox == long_q and len(messages) == 2 and len(kept) == 1  # nothing lost, no error bubble
    assert "the limit is 4,000" in notice and "sa-error" in notice and "Real-Time Apps" in sources


def test_markup_in_a_question_is_escaped(runtime):
    _tb, messages, turns, _s, _n = _run(runtime, f"{POISON} Which is better for real-time apps?")[-1]
    assert "<img" not in messages[0]["content"] and "&lt;img src=x" in messages[0]["content"]
    assert "<script>" not in messages[0]["content"]
    assert turns[0]["question"].startswith("<img")  # kept raw for history; escaped only when shown


def test_selecting_a_message_shows_that_turns_sources(runtime):
    turns = _run(runtime, "Which is better for real-time apps?")[-1][2]
    turns = _run(runtime, "Which is better for AI/ML, Node.js or Python?", turns)[-1][2]
    first, _ = chat.select_turn(turns, 1)
    second, _ = chat.select_turn(turns, 3)
    assert "Real-Time Apps" in first and "AI / ML Ecosystem" in second
    assert "Sources of the selected answer" in chat.select_turn(turns, 99)[0]


def test_refused_question_has_no_sources(runtime):
    _tb, _m, turns, sources, _n = _run(runtime, "How do I bake sourdough bread?")[-1]
    assert turns[0]["answer"]["refused"] and "don&#x27;t cover" in sources


def test_example_questions_are_founders_questions_from_the_factor_table(assistant):
    examples = chat.example_questions(assistant.kb)
    assert any(q.startswith("Which is better for Performance (I/O)") for q in examples)
    assert not any("your" in q.lower() for q in examples)  # none of the guide's questions to the founder
    assert all(q.endswith("?") for q in examples) and len(examples) == len(set(examples)) >= 5
    factors = {r.metadata["factor"] for r in assistant.kb.factor_rows}
    assert all(any(f in q for f in factors) for q in examples)


# -- sources panel: everything escaped -----------------------------------------------------------
def test_sources_panel_escapes_markup_and_rejects_unsafe_links():
    quote = f"Use Node.js {POISON} for chat."
    c = Citation(n=1, chunk_id="x", source_id="user-x", title="<b>T</b>", section="<i>S</i>", url="javascript:alert(1)",
                 quote=quote, start=0, end=len(quote), highlight=[(4, 11), (9, 30)])
    out = sources_panel.render_sources([c])
    assert "<img" not in out and "<script" not in out and "<b>T" not in out and "href=" not in out
    text = re.sub(r"<[^>]+>", "", out)  # our own tags (mark, div) removed: the source's markup is all text
    assert "&lt;img src=x onerror=&quot;document.body" in text and "&lt;script&gt;window.__pwned=1" in text
    assert out.count('<mark class="sa-hl">') == 1  # overlapping spans merged
    assert sources_panel.chat_markdown("[x](javascript:alert(1)) ![i](http://e/x.png) <b>") == \
        "[x]\\(javascript:alert(1)) \\![i]\\(http://e/x.png) &lt;b&gt;"


# -- compare ------------------------------------------------------------------------------------------
def test_compare_grid_has_every_factor_row_from_the_index_each_cell_cited(assistant, factor_table):
    _header, rows = factor_table
    cits = compare.factor_citations(assistant.kb)
    assert [c.factor for c in cits] == [r.factor for r in rows] and len(cits) == 11
    grid = compare.grid_html(cits)
    for c, r in zip(cits, rows, strict=True):
        assert sources_panel.esc(r.node) in grid and sources_panel.esc(r.python) in grid
        assert grid.count(f">[{c.n}]</a>") == 4  # factor, Node.js, Python and Win cells
    tally = compare.tally_html(cits, ["Real-Time Apps", "AI / ML Ecosystem", "Full-Stack JS", "Startup Velocity"])
    assert "4 factors ticked" in tally and "Leaning <strong>Node.js</strong>" in tally
    assert "Node.js <b>2</b>" in tally and "Python <b>1</b>" in tally and "Tie <b>1</b>" in tally
    assert "corpus/guide.txt, line 42" in tally and "Tick the factors" in compare.tally_html(cits, [])


# -- decide -------------------------------------------------------------------------------------------
def _all(**kw):
    return {q.key: kw.get(q.key) for q in QUESTIONS}


@pytest.mark.parametrize(("answers", "pmf", "verdict"), [
    (_all(ai="Yes", security="Strict: strong guarantees out of the box"), False, "Python"),
    (_all(data_flow="Requests mostly wait on I/O (databases, APIs, file reads)", full_stack="Yes"), False, "Node.js"),
    (_all(ai="Yes", team="JavaScript / TypeScript"), True, "Both"),
    (_all(ai="Yes", team="JavaScript / TypeScript"), False, "Node.js"),  # pre-PMF: pick the team's stack, add Python later
    (_all(ai="No", full_stack="No"), False, "Either"),
])
def test_decide_is_deterministic_and_every_reason_is_cited_from_the_index(assistant, answers, pmf, verdict):
    rec = recommend(answers, assistant.kb.docs, has_pmf=pmf)
    assert rec.verdict == verdict and rec == recommend(answers, assistant.kb.docs, has_pmf=pmf)
    quotes = {d.metadata["chunk_id"]: d.metadata["quote"] for d in assistant.kb.docs}
    for reason in [r for r in rec.reasons if r.side] + rec.advice:
        assert reason.markers and not reason.missing, reason
    for c in rec.citations:
        assert quotes[c.chunk_id] == c.quote  # the quoted text is the index's own
    if verdict in ("Both", "Node.js") and answers["ai"] == "Yes":
        cited = " ".join(c.quote[s:e] for c in rec.citations for s, e in c.highlight)
        assert "run both" in cited and ("pick one and ship" in cited) != pmf


def test_decide_flags_a_passage_missing_from_the_index(assistant):
    docs = [d for d in assistant.kb.docs if "make Python the strong default" not in d.metadata.get("quote", "")]
    rec = recommend(_all(ai="Yes"), docs)
    assert rec.reasons[0].missing == ["make Python the strong default"] and "not in the index" in render(rec)


def test_decide_view_renders_escaped_cited_html(runtime):
    out = decide(runtime, _all(ai="Yes", team="Python"), False)
    assert 'data-verdict="Python"' in out and "[1]" in out and "The five questions" in out
    assert "Answer at least one" in decide(runtime, _all(), False)


# -- feedback -------------------------------------------------------------------------------------------
def test_thumbs_are_logged_and_exported_as_eval_cases(runtime, tmp_path, monkeypatch):
    turns = _run(runtime, "Which is better for real-time apps?")[-1][2]
    turns = _run(runtime, "and for AI?", turns)[-1][2]
    turns = _run(runtime, "How do I bake sourdough bread?", turns)[-1][2]
    votes = FeedbackLog(feedback_path(runtime.settings))
    assert "saved" in chat.record_feedback(votes, turns, 1, True)
    assert "reviewed" in chat.record_feedback(votes, turns, 3, False)
    assert "saved" in chat.record_feedback(votes, turns, 5, True)
    assert "Only answers" in chat.record_feedback(votes, turns, 0, True)
    with sqlite3.connect(votes.path) as con:
        q, rating, answer, engine, created = con.execute(
            "SELECT question, rating, answer, engine, created_at FROM feedback ORDER BY id").fetchone()
    assert q == "Which is better for real-time apps?" and rating == 1 and engine == "extractive" and created
    assert json.loads(answer)["citations"][0]["quote"]

    cases = export_cases(votes)
    assert [c["type"] for c in cases] == ["winner", "followup", "out_of_scope"]
    assert cases[0]["factor"] == "Real-Time Apps" and cases[0]["gold_winner"] == "Node.js"
    assert cases[1]["id"].endswith("-down") and cases[1]["history"][0]["content"] == "Which is better for real-time apps?"
    assert not cases[2]["answerable"] and cases[2]["gold_evidence"] is None
    guide = (make_settings().corpus_dir / "guide.txt").read_text()
    assert cases[0]["gold_evidence"] in guide and 20 <= len(cases[0]["gold_evidence"]) <= 120

    # the same schema eval/cases.jsonl uses, through the CLI
    from assistant.cli import main

    out = tmp_path / "feedback-cases.jsonl"
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(runtime.settings.index_dir))
    assert main(["feedback", "export", "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == cases
    fields = ("id", "question", "type", "factor", "gold_winner", "must_include", "must_not_include", "gold_evidence",
              "answerable", "history", "source")
    assert all(tuple(c) == fields for c in lines)
    try:
        from assistant.evaluation.dataset import load_cases
    except ImportError:
        return
    assert len(load_cases(out)) == 3


# -- runtime: first start builds the index -----------------------------------------------------------------
def test_first_start_builds_the_index_with_progress_then_is_ready(tmp_path):
    from assistant.ui.app import status_html

    rt = Runtime(make_settings(index_dir=tmp_path / "fresh", llm="extractive"))
    phases = []
    rt.start()
    while not rt.wait(0.05):
        phases.append((rt.phase, rt.fraction))
    assert rt.ready and rt.built_index, rt.error
    assert any("building the index" in p for p, _f in phases)
    assert any(f is not None and 0 < f < 1 for _p, f in phases)
    status = status_html(rt, "extractive")
    assert "Answering with <b>extractive</b>" in status and "guide as of <b>2026</b>" in status
    assert rt.get().ask("Which is better for real-time apps?").citations


def test_start_failure_is_a_problem_and_fix_and_retried(tmp_path):
    from assistant.ui.app import status_html

    rt = Runtime(make_settings(index_dir=tmp_path / "idx", corpus_dir=tmp_path / "missing-corpus"))
    rt.start()
    rt.wait(60)
    assert rt.error and "does not exist" in rt.error.problem
    assert 'class="sa-notice sa-error"' in status_html(rt, "extractive")
    html = decide(rt, _all(ai="Yes"), False)
    assert "sa-error" in html and "ASSISTANT_CORPUS_DIR" in html


# -- serving: auth and exposure ----------------------------------------------------------------------
def test_auth_setting_parses_pairs_and_files(tmp_path):
    assert parse_auth(None) is None and parse_auth(" ") is None
    assert parse_auth("ana:s3cret,bo:pa:ss") == [("ana", "s3cret"), ("bo", "pa:ss")]
    f = tmp_path / "users.txt"
    f.write_text("# founders\nana:one\n\nbo:two,cy:three\n")
    assert parse_auth(str(f)) == [("ana", "one"), ("bo", "two"), ("cy", "three")]
    for bad in ("justapassword", "ana:", ":pw", str(tmp_path / "nope.txt")):
        with pytest.raises(ConfigError) as exc:
            parse_auth(bad)
        assert "pw" not in exc.value.problem and exc.value.fix


def test_binding_a_public_host_without_auth_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="assistant.ui"):
        assert check_exposure("127.0.0.1", None) is None
        assert check_exposure("localhost", None) is None
        assert check_exposure("::1", None) is None
        assert check_exposure("0.0.0.0", [("a", "b")]) is None
        assert "WITHOUT a login" in check_exposure("0.0.0.0", None)
    assert caplog.text.count("WITHOUT a login") == 1


def test_serve_and_feedback_commands_are_registered():
    from assistant.cli import build_parser

    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9999"])
    assert (args.host, args.port) == ("0.0.0.0", 9999) and callable(args.func)
    assert callable(build_parser().parse_args(["feedback", "export"]).func)


# -- citations as links, numbered 1..n, each row once, the guide viewable ---------------------------------
def test_markers_are_numbered_in_order_of_first_use_and_link_to_their_cards(runtime):
    from assistant.answer import Answer
    from assistant.citations import renumber, renumber_text

    raw = runtime.get().ask("Which is better for real-time apps, and what about AI/ML?")
    shown = renumber(raw)
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", shown.text)]
    assert numbers and sorted(set(numbers)) == list(range(1, len(set(numbers)) + 1))
    assert list(dict.fromkeys(numbers)) == sorted(set(numbers))  # first use is in order: [1] before [2] ...
    assert [c.n for c in shown.citations] == list(range(1, len(shown.citations) + 1))
    old = {c.chunk_id: c.n for c in raw.citations}
    assert all(c.chunk_id in old for c in shown.citations) and raw.text != shown.text or old == {c.chunk_id: c.n for c in shown.citations}
    assert renumber_text("a [4] b [2][6] c [4, 2] d [9]", {2, 4, 6}) == ("a [1] b [2][3] c [1][2] d ", {4: 1, 2: 2, 6: 3})
    assert renumber_text("partial [7] then [3")[0] == "partial [1] then [3"  # a half-written marker is left alone
    assert isinstance(shown, Answer) and raw.text == runtime.get().ask("Which is better for real-time apps, and what about AI/ML?").text

    turns = _run(runtime, "Which is better for real-time apps?")[-1][2]
    _tb, messages, turns, sources, _n = _run(runtime, "Which is better for AI/ML, Node.js or Python?", turns)[-1]
    body = messages[3]["content"]
    links = re.findall(r"\[\\\[(\d+)\\\]\]\(#sa-cite-t1-(\d+)\)", body)
    assert links and all(a == b for a, b in links)
    for n in {int(a) for a, _ in links}:
        assert f'id="src-t1-{n}"' in sources and f'id="msg-t1-{n}"' in body  # the panel card and the phone card
    assert 'data-turn="1"' in sources and '<details class="sa-msg-sources"' in body and "\n" not in body.split("<details", 1)[1]


def test_a_factor_row_is_shown_once_as_a_table_and_the_guide_location_opens_the_viewer(runtime, tmp_path):
    from assistant.ui.guide_view import guide_html

    turns = _run(runtime, "Which is better for real-time apps?")[-1][2]
    row = next(c for c in turns[0]["answer"]["citations"] if c["factor"] == "Real-Time Apps")
    card = chat.sources_html(turns[0], 0).split(f'id="src-t0-{row["n"]}"', 1)[1].split('<div class="sa-src"', 1)[0]
    assert card.count("Excellent; designed for WebSockets &amp; live data") == 1 and "| Real-Time Apps |" not in card
    assert '<tr class="sa-hl-row">' in card
    assert 'class="sa-url sa-guide-link" href="#sa-guide-L42-L42"' in card and "corpus/guide.txt, line 42" in card

    viewer = guide_html(runtime.settings.corpus_dir)
    guide_lines = (runtime.settings.corpus_dir / "guide.txt").read_text().splitlines()
    assert viewer.count('class="sa-gl"') == len(guide_lines) and 'id="sa-guide-L42"' in viewer
    assert sources_panel.esc(guide_lines[41]) in viewer.split('id="sa-guide-L42"', 1)[1].split("</div>", 1)[0]
    assert "cannot be read" in guide_html(tmp_path / "nowhere")


# -- saved conversations ---------------------------------------------------------------------------------
def test_conversations_are_saved_per_owner_bounded_and_never_shared(runtime, tmp_path):
    from assistant.ui.conversations import MAX_TURNS, ConversationStore, owner_key, title_of

    store = ConversationStore(tmp_path / "conversations.sqlite", max_conversations=3)
    ana, bo = owner_key("ana", None), owner_key("bo", None)
    browser = owner_key(None, "0" * 32)
    assert (ana, browser) == ("user:ana", "browser:" + "0" * 32)
    assert owner_key(None, "../../etc") is None and owner_key(None, None) is None  # a malformed id is never an owner

    turns = _run(runtime, "Which is better for real-time apps?")[-1][2]
    cid = store.save(ana, None, turns)
    turns = _run(runtime, "and for AI?", turns)[-1][2]
    assert store.save(ana, cid, turns) == cid  # updated, not duplicated
    assert [s.id for s in store.list(ana)] == [cid] and store.list(ana)[0].title == "Which is better for real-time apps?"
    reopened = store.load(ana, cid)
    assert reopened == turns and chat.sources_html(reopened[-1], 1).count('class="sa-src"') >= 1  # with its sources

    assert store.list(bo) == [] and store.load(bo, cid) is None and not store.delete(bo, cid)
    other = store.save(bo, cid, turns[:1])  # bo cannot write into ana's conversation by naming its id
    assert other != cid and store.load(ana, cid) == turns and [s.id for s in store.list(bo)] == [other]

    for i in range(4):
        store.save(ana, None, [{"question": f"Question {i} about Node.js or Python?"}])
    titles = [s.title for s in store.list(ana)]
    assert titles == ["Question 3 about Node.js or Python?", "Question 2 about Node.js or Python?",
                      "Question 1 about Node.js or Python?"]  # at most max_conversations, newest first
    long_conv = store.save(ana, None, [{"question": f"q{i}"} for i in range(MAX_TURNS + 5)])
    assert len(store.load(ana, long_conv)) == MAX_TURNS
    assert store.delete(ana, long_conv) and store.load(ana, long_conv) is None
    assert title_of([{"question": "word " * 40}]).endswith("…") and len(title_of([{"question": "word " * 40}])) <= 61


def test_create_app_has_the_guide_tab_the_sidebar_and_the_openai_routes_only_when_enabled(tmp_path):
    import gradio as gr

    from assistant.ui.app import create_app

    demo = create_app(make_settings(index_dir=tmp_path / "none"))
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"Chat", "Compare", "Decide", "Guide", "Conversations"} <= labels
    assert any(isinstance(b, gr.BrowserState) for b in demo.blocks.values())
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "sa-input")
    assert box.max_length == 4000 and not box.autofocus
    assert "app_kwargs" not in demo.launch_style
    on = create_app(make_settings(index_dir=tmp_path / "none", openai_api=True))
    paths = {r.path for r in on.launch_style["app_kwargs"]["routes"]}
    assert paths == {"/v1/chat/completions", "/v1/models"}
