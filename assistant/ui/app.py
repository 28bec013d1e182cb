"""`create_app(settings)`: the Blocks with the Chat, Compare and Decide views, wired to one Runtime.

Building the Blocks loads nothing; the assistant loads (or the index is built) in the background
when the server starts or the first page opens, with progress shown in the status line.
"""

import contextlib

from ..config import Settings
from ..decide import QUESTIONS
from ..engines import default_spec
from ..errors import AssistantError
from . import chat, compare, decide
from . import sources_panel as sp
from .conversations import ConversationStore, conversations_path, new_browser_id, owner_key
from .feedback import FeedbackLog, feedback_path
from .guide_view import guide_html
from .runtime import Runtime

HEADER = ('<div id="sa-header"><h1>Stack Assistant</h1><p>Node.js or Python for your startup backend? '
          "Cited answers from one guide and the official docs beside it.</p></div>")


def status_html(runtime: Runtime, engine: str) -> str:
    """Which engine answers, the index's size and sources, the guide's as-of date (or start-up progress)."""
    if not runtime.ready:
        if runtime.error:
            return sp.error_notice(runtime.error.problem, runtime.error.fix)
        pct = f" ({runtime.fraction:.0%})" if runtime.fraction is not None else ""
        return f'<div class="sa-status-line">Starting up: {sp.esc(runtime.phase)}{pct}…</div>'
    kb = runtime.get().kb
    sources = kb.manifest.get("sources", [])
    guide = next((s for s in sources if s.get("id") == "guide"), {})
    titles = "".join(f"<li>{sp.esc(s.get('title'))} ({int(s.get('chunks', 0))} passages)</li>" for s in sources)
    as_of = f' · guide as of <b>{sp.esc(guide["as_of"])}</b>' if guide.get("as_of") else ""
    return (f'<div class="sa-status-line">Answering with <b>{sp.esc(engine)}</b>{as_of} · index: <b>{len(kb.docs)}</b> '
            f'passages from <details><summary><b>{len(sources)}</b> sources</summary><ul>{titles}</ul></details></div>')


def create_app(settings: Settings, runtime: Runtime | None = None):
    """The UI as a gr.Blocks (not launched). Pass a `runtime` to reuse a loaded Assistant (tests)."""
    import gradio as gr

    from .theme import COUNTER_JS, CSS, HEAD, theme

    runtime = runtime or Runtime(settings)
    votes = FeedbackLog(feedback_path(settings))
    store = ConversationStore(conversations_path(settings), settings.max_conversations)
    choices, engine_value, engine_info = chat.engine_choices(default_spec(settings))
    factor_cits: list = []
    limit = settings.max_question_chars

    with gr.Blocks(title="Stack Assistant", analytics_enabled=False) as demo:
        browser = gr.BrowserState("", storage_key="stack-assistant-browser")
        conv = gr.State("")
        turns = gr.State([])
        with gr.Sidebar(label="Conversations", open=False, elem_id="sa-sidebar", width=270):
            gr.HTML("<h2 class='sa-side-title'>Conversations</h2>", js_on_load=None)
            side_new = gr.Button("New conversation", elem_id="sa-side-new", size="sm")
            history = gr.Radio(choices=[], value=None, label="Saved conversations", elem_id="sa-history", show_label=False)
            delete = gr.Button("Delete selected conversation", elem_id="sa-delete", size="sm")
            owner_note = gr.HTML("", elem_id="sa-owner", js_on_load=None)
        gr.HTML(HEADER, js_on_load=None)
        status = gr.HTML(status_html(runtime, engine_value), elem_id="sa-status", js_on_load=None)
        with gr.Tabs(elem_id="sa-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="sa-tab-chat"):
                with gr.Row(equal_height=False, elem_id="sa-toolbar"):
                    engine = gr.Dropdown(choices=choices, value=engine_value, label="Engine", scale=4, min_width=200,
                                         elem_id="sa-engine")
                    new = gr.Button("New conversation", scale=1, min_width=120, elem_id="sa-new")
                notice = gr.HTML(chat.engine_notice(engine_value, engine_info), elem_id="sa-notice", js_on_load=None)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=280):
                        chatbot = gr.Chatbot(
                            value=[], elem_id="sa-chatbot", height=430, label="Conversation", show_label=False,
                            sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
                            feedback_options=("Like", "Dislike"), placeholder=chat.WELCOME, buttons=["copy"])
                        with gr.Row(equal_height=True):
                            msg = gr.Textbox(placeholder="Ask about Node.js vs Python…", label="Question", show_label=False,
                                             scale=5, min_width=160, elem_id="sa-input", max_lines=6, max_length=limit)
                            send = gr.Button("Send", variant="primary", scale=1, min_width=70, elem_id="sa-send")
                            stop_btn = gr.Button("Stop", variant="stop", scale=1, min_width=70, elem_id="sa-stop", visible=False)
                        counter = gr.HTML(f"0 / {limit:,} characters", elem_id="sa-counter", js_on_load=None)
                        voted = gr.HTML("", elem_id="sa-feedback", js_on_load=None)
                        examples = gr.Dataset(components=["textbox"], samples=[], type="index", label="Try asking",
                                              elem_id="sa-examples", samples_per_page=12)
                    with gr.Column(scale=2, min_width=280, elem_id="sa-sources-col"):
                        sources = gr.HTML(chat.sources_html(None), elem_id="sa-sources", js_on_load=None)
            with gr.Tab("Compare", id="compare", elem_id="sa-tab-compare"):
                gr.Markdown("The guide's factor table. Tick what matters to your product; every cell cites its row.")
                factors = gr.CheckboxGroup(choices=[], label="Factors that matter to us", elem_id="sa-factors")
                tally = gr.HTML(compare.tally_html([], []), elem_id="sa-tally", js_on_load=None)
                grid = gr.HTML("", elem_id="sa-grid", js_on_load=None)
            with gr.Tab("Decide", id="decide", elem_id="sa-tab-decide"):
                gr.Markdown("The guide's five questions. Answer them for a recommendation grounded in the guide, "
                            "each reason cited. No LLM involved.")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=280):
                        radios = [gr.Radio(list(q.options), label=q.label, elem_id=f"sa-q-{q.key}") for q in QUESTIONS]
                        pmf = gr.Checkbox(label="We already have product–market fit", elem_id="sa-pmf")
                        go = gr.Button("Recommend", variant="primary", elem_id="sa-decide")
                    with gr.Column(scale=1, min_width=280):
                        result = gr.HTML('<div class="sa-decision sa-empty">Your recommendation appears here.</div>',
                                         elem_id="sa-result", js_on_load=None)
            with gr.Tab("Guide", id="guide", elem_id="sa-tab-guide"):
                gr.HTML(guide_html(settings.corpus_dir, "Node.js vs Python for Startup Backends: the guide, line by line"),
                        elem_id="sa-guide", js_on_load=None)

        # -- start-up: show progress until the assistant is ready, then fill the views from the index
        def on_load(engine_spec, progress=gr.Progress()):  # noqa: B008 - Gradio's way to ask for a progress bar
            runtime.start()
            while not runtime.wait(0.4):
                progress(runtime.fraction or 0.0, desc=runtime.phase)
                yield status_html(runtime, engine_spec), gr.skip(), gr.skip(), gr.skip()
            if not runtime.ready:
                yield status_html(runtime, engine_spec), gr.skip(), gr.skip(), gr.skip()
                return
            kb = runtime.get().kb
            factor_cits[:] = compare.factor_citations(kb)
            yield (status_html(runtime, engine_spec), gr.Dataset(samples=[[q] for q in chat.example_questions(kb)]),
                   gr.CheckboxGroup(choices=[c.factor for c in factor_cits]), compare.grid_html(factor_cits))

        demo.load(on_load, inputs=[engine], outputs=[status, examples, factors, grid], concurrency_limit=None,
                  show_progress_on=[status, sources], api_visibility="private")

        # -- saved conversations: the owner is the login name, else this browser's random id
        def owner_of(browser_id: str, request: gr.Request | None) -> str | None:
            return owner_key(getattr(request, "username", None), browser_id)

        def listing(owner: str | None, selected: str | None = None):
            items = store.list(owner)
            return gr.Radio(choices=[(s.label(), s.id) for s in items],
                            value=selected if any(s.id == selected for s in items) else None)

        def on_open_page(browser_id: str, request: gr.Request):
            username = getattr(request, "username", None)
            if not username and not owner_key(None, browser_id):
                browser_id = new_browser_id()
            who = (f"Saved for <b>{sp.esc(username)}</b>." if username else "Saved in this browser only.")
            return browser_id, listing(owner_of(browser_id, request)), f"{who} Newest first; at most {store.max_conversations}."

        demo.load(on_open_page, [browser], [browser, history, owner_note], api_visibility="private", concurrency_limit=None)

        # -- chat
        lives: dict[str, chat.Live] = {}  # browser session -> its latest answer (what Stop ends)

        def answer(message: str, turns_: list, engine_spec: str, conv_id: str, browser_id: str, request: gr.Request):
            """Answer `message` (streaming), citing its sources; the conversation is kept and saved."""
            owner = owner_of(browser_id, request)
            live = chat.Live(owner, conv_id)
            lives[getattr(request, "session_hash", None) or ""] = live
            last, answered = None, False
            try:
                with contextlib.closing(chat.respond(runtime, message, turns_, engine_spec, live)) as answers:
                    for last in answers:
                        if live.stop_requested:  # Stop ended this turn (and Gradio is closing this event)
                            return
                        yield (*last, gr.skip(), gr.skip())
                answered = True
            finally:
                if not answered and last is not None:  # closed by Stop's cancellation: the turn ends as stopped
                    live.end(lambda: end_stopped(live))
            if last is None:  # a blank question: nothing happens
                yield (gr.skip(),) * 7
                return
            new_turns = last[2]
            if owner and len(new_turns) > len(turns_ or []):  # saved once the answer is complete
                yield live.end(lambda: save_turns(live, last, new_turns))
                return
            live.end(lambda: (*last, gr.skip(), gr.skip()))

        def save_turns(live: chat.Live, last: tuple, new_turns: list[dict]) -> tuple:
            """The answer's final outputs after saving its conversation (or the save's error)."""
            try:
                live.conv_id = store.save(live.owner, live.conv_id, new_turns)
            except AssistantError as exc:
                return (*last[:4], sp.error_notice(exc.problem, exc.fix), gr.skip(), gr.skip())
            # the whole final state again: an API client keeps only the last update
            return (*last, live.conv_id, listing(live.owner, live.conv_id))

        def end_stopped(live: chat.Live) -> tuple:
            """A stopped answer's outputs: its turn marked stopped with its sources, saved like any other.
            The text box is left alone (the founder may be typing the next question)."""
            new_turns = chat.stopped_turns(live)
            if not new_turns:
                return (gr.skip(),) * 7
            k = len(new_turns) - 1
            out = (gr.skip(), chat.chat_messages(new_turns), new_turns, chat.sources_html(new_turns[-1], k),
                   chat.notice_html(new_turns[-1]))
            if not live.owner:
                return (*out, gr.skip(), gr.skip())
            return (gr.skip(), *save_turns(live, out, new_turns)[1:])

        def stop(request: gr.Request):
            """End the answer streaming in this session as stopped (its event is cancelled beside this)."""
            live = lives.get(getattr(request, "session_hash", None) or "")
            if live is None:
                return (gr.skip(),) * 7 + (gr.Button(visible=False),)
            live.stop_requested = True
            # the text box is left alone: after a race with the answer's own end, it may hold the next question
            return (gr.skip(), *live.end(lambda: end_stopped(live))[1:], gr.Button(visible=False))

        def ask(message: str, turns_: list, engine_spec: str, conv_id: str, browser_id: str, request: gr.Request):
            """The page's `answer`, with the Stop button shown while it streams."""
            show = isinstance(message, str) and bool(message.strip())
            with contextlib.closing(answer(message, turns_, engine_spec, conv_id, browser_id, request)) as outputs:
                for out in outputs:
                    yield (*out, gr.Button(visible=True) if show else gr.skip())
                    show = False
            yield (gr.skip(),) * 7 + (gr.Button(visible=False),)

        # One concurrency group for every way of asking: at most Settings.concurrency_limit answers at once.
        chat_io = dict(inputs=[msg, turns, engine, conv, browser], outputs=[msg, chatbot, turns, sources, notice, conv, history],
                       concurrency_id="answer", concurrency_limit=settings.concurrency_limit)
        page_io = {**chat_io, "outputs": [*chat_io["outputs"], stop_btn]}
        asking = [msg.submit(ask, **page_io, api_visibility="private"),
                  send.click(ask, **page_io, api_visibility="private")]

        def chat_api(message: str, turns_: list, engine_spec: str, conv_id: str, request: gr.Request):
            """Answer `message` with `engine_spec`, citing its sources; the session keeps the conversation (saved for a login)."""
            yield from answer(message, turns_, engine_spec, conv_id, "", request)

        # The API's door: the same answer without the browser's private id (an API client has none).
        api_door = gr.Button(visible=False, elem_id="sa-api-door")
        api_door.click(chat_api, inputs=[msg, turns, engine, conv], outputs=chat_io["outputs"], api_name="chat",
                       concurrency_id="answer", concurrency_limit=settings.concurrency_limit)
        msg.change(None, [msg], [counter], js=COUNTER_JS % limit)

        def pick_example(i):
            if not runtime.ready:
                return gr.skip()
            qs = chat.example_questions(runtime.get().kb)
            return qs[i] if isinstance(i, int) and 0 <= i < len(qs) else gr.skip()

        asking.append(examples.click(pick_example, [examples], [msg], api_visibility="private", concurrency_limit=None).then(
            ask, **page_io, api_visibility="private"))
        # Stop: Gradio cancels the answering event (closing its generator stops the model, chat.py) and
        # `stop` ends the turn as stopped. No concurrency limit, so it never waits behind an answer.
        stop_btn.click(stop, None, chat_io["outputs"] + [stop_btn], cancels=asking, api_visibility="private",
                       concurrency_limit=None)

        def forget_session(request: gr.Request):
            lives.pop(getattr(request, "session_hash", None) or "", None)

        demo.unload(forget_session)

        def reset():
            return [], [], chat.sources_html(None), "", "", "", gr.Radio(value=None)

        reset_io = dict(outputs=[chatbot, turns, sources, notice, voted, conv, history], api_visibility="private",
                        concurrency_limit=None)
        new.click(reset, **reset_io)
        side_new.click(reset, **reset_io)
        chatbot.clear(reset, **reset_io)

        def open_conversation(conv_id: str, browser_id: str, request: gr.Request):
            loaded = store.load(owner_of(browser_id, request), conv_id)
            if loaded is None:
                return gr.skip(), gr.skip(), gr.skip(), sp.notice("That conversation is not among yours.", "warn"), gr.skip()
            last = len(loaded) - 1
            return (chat.chat_messages(loaded), loaded, chat.sources_html(loaded[-1] if loaded else None, last),
                    chat.notice_html(loaded[-1] if loaded else None), conv_id)

        history.input(open_conversation, [history, browser], [chatbot, turns, sources, notice, conv],
                      api_visibility="private", concurrency_limit=None)

        def delete_conversation(selected: str, conv_id: str, browser_id: str, request: gr.Request):
            owner = owner_of(browser_id, request)
            if not selected or not store.delete(owner, selected):
                return (gr.skip(),) * 5 + (sp.notice("Pick one of your conversations in the list first.", "info"),)
            if selected == conv_id:  # the open conversation is gone: start afresh
                return [], [], chat.sources_html(None), "", listing(owner), sp.notice("Conversation deleted.", "info")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), listing(owner, conv_id), sp.notice("Conversation deleted.", "info")

        delete.click(delete_conversation, [history, conv, browser], [chatbot, turns, sources, conv, history, notice],
                     api_visibility="private", concurrency_limit=None)

        def on_select(turns_: list, evt: gr.SelectData):
            return chat.select_turn(turns_, evt.index)

        chatbot.select(on_select, [turns], [sources, notice], api_visibility="private", concurrency_limit=None)

        def on_like(turns_: list, evt: gr.LikeData):
            return chat.record_feedback(votes, turns_, evt.index, evt.liked)

        chatbot.like(on_like, [turns], [voted], api_visibility="private", concurrency_limit=None)

        def on_engine(engine_spec: str):
            return status_html(runtime, engine_spec), chat.engine_notice(engine_spec, engine_info)

        engine.change(on_engine, [engine], [status, notice], api_visibility="private", concurrency_limit=None)

        # -- compare
        def compare_factors(selected: list[str]):
            """The tally of the ticked factors and the grid (with those rows marked)."""
            cits = factor_cits or compare.factor_citations(runtime.get().kb)
            return compare.tally_html(cits, selected), compare.grid_html(cits, selected)

        # Private: the factor choices come from the index at page load, so a client that never loaded
        # the page would fail CheckboxGroup's validation.
        factors.change(compare_factors, [factors], [tally, grid], api_visibility="private", concurrency_limit=None)

        # -- decide
        def recommend(data_flow, ai, team, full_stack, security, has_pmf):
            """The guide's five questions -> Node.js, Python or both, each reason cited."""
            answers = dict(zip([q.key for q in QUESTIONS], [data_flow, ai, team, full_stack, security], strict=True))
            return decide.decide(runtime, answers, bool(has_pmf))

        go.click(recommend, [*radios, pmf], [result], api_name="decide", concurrency_limit=None)

    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    demo.runtime = runtime
    demo.launch_style = {"theme": theme(), "css": CSS, "head": HEAD}
    if settings.openai_api:  # POST /v1/chat/completions on the same server, ahead of Gradio's own routes
        from .openai_api import OpenAIEndpoint

        demo.launch_style["app_kwargs"] = {"routes": OpenAIEndpoint(settings, runtime).routes()}
    return demo
