"""The Chat view's handlers: streaming answers, the sources panel, examples, engines, feedback.

The conversation lives in a per-session `turns` list (gr.State): one dict per question with the
raw question, the answer (Answer.model_dump), any error and notice. The Chatbot shows two
messages per turn (question, answer), so message index // 2 is the turn. Everything shown is
escaped first (`sources_panel.chat_markdown`, `esc`): markup in a question or a source is text.

Stop: each answer in flight has a `Live` record (app.py keeps one per browser session). Gradio's
`cancels=` ends the event and closes the answering generator once its current step returns; that
closes the chain's stream, whose engine closes its HTTP stream to the model server at the next token
(engines/llm.py), and llama.cpp's server stops decoding for a client that went away. The turn keeps
its text so far, marked stopped, with the sources that text cites.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import uuid
from collections.abc import Callable, Iterator

from ..answer import Answer
from ..citations import MARKER, renumber, renumber_text
from ..engines import default_spec, engine_statuses
from ..engines.base import EnginePrompt
from ..errors import AssistantError, QuestionError
from . import sources_panel as sp
from .feedback import FeedbackLog
from .runtime import Runtime

log = logging.getLogger("assistant.ui")
WELCOME = ("Ask about choosing **Node.js or Python** for your startup's backend. Every claim is cited [n] to the "
           "guide *Node.js vs Python for Startup Backends* or the official docs beside it: click a [n] to see its source.")
EMPTY_SOURCES = "Sources of the selected answer appear here: title, section, link and the quoted passage."
STOPPED = "— stopped"


# -- engines ------------------------------------------------------------------------------------
def canonical_spec(spec: str) -> str:
    return "local:qwen-1.5b" if spec.strip() == "local" else spec.strip()


def engine_choices(default: str) -> tuple[list[tuple[str, str]], str, dict[str, tuple[bool, str]]]:
    """Dropdown (label, value) pairs for every engine, the selected value, and spec -> (available, reason)."""
    info = {st.spec: (st.available, st.reason) for st in engine_statuses()}
    value = canonical_spec(default)
    if value not in info:
        info = {value: (True, "configured by ASSISTANT_LLM"), **info}
    choices = [(f"{spec} — {reason}" if ok else f"{spec} — unavailable: {reason}", spec) for spec, (ok, reason) in info.items()]
    return choices, value, info


def engine_notice(spec: str, info: dict[str, tuple[bool, str]]) -> str:
    ok, reason = info.get(spec, (True, ""))
    return "" if ok else sp.notice(f"{spec} cannot run here: {reason}. Choose another engine, or fix that and restart.", "warn")


# -- examples -----------------------------------------------------------------------------------
def example_questions(kb) -> list[str]:
    """Questions a founder asks, built from the index's factor-table rows (every other row, in table order)."""
    return [f"Which is better for {r.metadata['factor']}: Node.js or Python?" for r in kb.factor_rows[::2]]


# -- rendering ----------------------------------------------------------------------------------
def display_text(text: str) -> str:
    """Streamed or final answer text with its markers numbered 1..n in order of first use."""
    return renumber_text(text)[0]


def linked_markers(markdown: str, turn: int) -> str:
    """Each [n] of an (escaped) answer as a Markdown link to its source card; the page's script
    intercepts the click, shows that turn's sources and highlights card n."""
    return MARKER.sub(lambda m: "".join(f"[\\[{n}\\]](#sa-cite-t{turn}-{n})" for n in (int(p) for p in m.group(1).split(","))),
                      markdown)


def embedded_sources(turn: dict, k: int) -> str:
    """The turn's sources as a collapsible block inside the answer bubble (shown on phones only, by CSS):
    one line of HTML (a blank line would end Markdown's HTML block), every text escaped."""
    answer = Answer.model_validate(turn["answer"])
    if answer.refused or not answer.citations:
        return ""
    cards = sp.render_sources(answer.citations, heading="", anchor_prefix=f"msg-t{k}", turn=k)
    cards = cards.replace("\r", "").replace("\n", "&#10;")
    return (f'<details class="sa-msg-sources" data-turn="{k}"><summary>Sources ({len(answer.citations)})</summary>'
            f"{cards}</details>")


def chat_messages(turns: list[dict]) -> list[dict]:
    """Chatbot messages (role/content), two per turn, all text escaped; markers link to their sources."""
    out: list[dict] = []
    for k, t in enumerate(turns):
        out.append({"role": "user", "content": sp.chat_markdown(t["question"])})
        if t.get("error"):
            body = f"**{sp.chat_markdown(t['error']['problem'])}**"
            if t["error"].get("fix"):
                body += f"\n\n**Fix:** {sp.chat_markdown(t['error']['fix'])}"
        else:
            body = linked_markers(sp.chat_markdown(display_text(t.get("text", ""))), k)
            if t.get("notice"):
                body = f"> ⚠ {sp.chat_markdown(t['notice'])}\n\n{body}"
            if t.get("stopped"):
                body = f"{body}\n\n*{STOPPED}*" if body else f"*{STOPPED} before the answer began*"
            if t.get("answer"):
                extra = embedded_sources(t, k)
                body = f"{body}\n\n{extra}" if extra else body
        out.append({"role": "assistant", "content": body or "…"})
    return out


def sources_html(turn: dict | None, k: int | None = None) -> str:
    """The sources panel for turn number `k`."""
    if not turn:
        return sp.render_sources([], empty=EMPTY_SOURCES)
    if turn.get("error"):
        return sp.render_sources([], empty="No sources: this question was not answered.", turn=k)
    ans = turn.get("answer")
    if ans is None:
        return sp.render_sources([], empty="Answering…", turn=k)
    answer = Answer.model_validate(ans)
    if answer.refused or not answer.citations:
        return sp.render_sources([], empty="No sources: the guide and its related docs don't cover this question.", turn=k)
    q = answer.standalone_question or answer.question  # a follow-up shows what it was read as
    q = q if len(q) <= 80 else q[:77] + "…"
    return sp.render_sources(answer.citations, heading=f"Sources for “{q}”", anchor_prefix=f"src-t{k}", turn=k)


def notice_html(turn: dict | None) -> str:
    if not turn:
        return ""
    if turn.get("error"):
        return sp.error_notice(turn["error"]["problem"], turn["error"].get("fix", ""))
    if turn.get("stopped") and not turn.get("notice"):
        return sp.notice("Stopped: the answer shows what was written until then. Ask again for the whole answer.", "info")
    return sp.notice(turn.get("notice") or "", "warn")


def history_of(turns: list[dict]) -> list[dict]:
    """The earlier turns as the assistant's history: [{role, content}], answered turns only."""
    out: list[dict] = []
    for t in turns:
        if t.get("answer"):
            out += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]["text"]}]
    return out


# -- handlers -----------------------------------------------------------------------------------
def respond(runtime: Runtime, message: str, turns: list[dict] | None, engine: str, live: Live | None = None) -> Iterator[tuple]:
    """Stream one answer. Yields (textbox, chatbot, turns, sources, notice) after every event.

    With `live`, the turns and the engine's prompt are kept there as they stream, for `stopped_turns`.
    Closing this generator (Stop) closes the chain's stream with it, so the model stops writing.

    A blank question yields nothing (nothing happens). A question the assistant rejects (too long)
    adds no bubble: the notice says why and the text box keeps the text. Any other error is shown
    as the problem and its fix, and the text box keeps the question so it can be sent again.
    """
    question = message if isinstance(message, str) else ""
    if not question.strip():
        return
    turns = list(turns or [])
    spec = canonical_spec(engine or default_spec(runtime.settings))
    turn = {"id": uuid.uuid4().hex, "question": question, "engine": spec, "text": "", "notice": "", "answer": None, "error": None}
    turns.append(turn)
    k = len(turns) - 1
    live = live or Live()
    live.turns = turns
    yield "", chat_messages(turns), turns, sources_html(turn, k), ""
    try:
        assistant = runtime.get()
        lock = runtime.llm_lock(spec) if spec.startswith("local") else contextlib.nullcontext()
        events = assistant.stream(question, history_of(turns[:-1]), llm=spec)
        with lock, contextlib.closing(events):
            for event in events:
                if "prompt" in event:  # what the [n] of the coming tokens name
                    live.prompt = event["prompt"]
                    continue
                if "token" in event:
                    turn["text"] += event["token"]
                elif "reset" in event:
                    turn["text"], turn["notice"] = "", event["reset"]
                    live.prompt = None  # the fallback writes from its own numbering
                elif "answer" in event:
                    answer: Answer = renumber(event["answer"])
                    turn.update(text=answer.text, notice=answer.fallback_notice or "", engine=answer.engine,
                                answer=answer.model_dump(mode="json"))
                    break
                yield "", chat_messages(turns), turns, sources_html(turn, k), notice_html(turn)
    except QuestionError as exc:
        turns.pop()
        yield message, chat_messages(turns), turns, sources_html(turns[-1] if turns else None, len(turns) - 1), \
            sp.error_notice(exc.problem, exc.fix)
        return
    except AssistantError as exc:
        turn["error"] = {"problem": exc.problem, "fix": exc.fix}
    except Exception as exc:  # noqa: BLE001 - never a traceback in the page; the log has it
        log.exception("Answering failed")
        turn["error"] = {"problem": f"Something went wrong while answering ({type(exc).__name__}).",
                         "fix": "Try again; if it persists, see the server log or choose the extractive engine."}
    yield message if turn["error"] else "", chat_messages(turns), turns, sources_html(turn, k), notice_html(turn)


# -- stop ---------------------------------------------------------------------------------------
class Live:
    """One answer in flight in one browser session: its turns as they stream, the prompt the engine
    writes from, and the final outputs once it ended (answered, or stopped).

    Stop and the answering generator may both end a stopped turn (the Stop handler runs beside
    Gradio's cancellation, which closes the generator when its current step returns): `end` runs the
    ending once, under the lock, for whichever comes first.
    """

    def __init__(self, owner: str | None = None, conv_id: str = "") -> None:
        self.owner, self.conv_id = owner, conv_id
        self.turns: list[dict] = []
        self.prompt: EnginePrompt | None = None
        self.stop_requested = False
        self.result: tuple | None = None
        self._lock = threading.Lock()

    def end(self, finish: Callable[[], tuple]) -> tuple:
        """`finish()`'s outputs, run for the first caller only; later callers get the same."""
        with self._lock:
            if self.result is None:
                self.result = finish()
            return self.result


def stopped_turns(live: Live) -> list[dict]:
    """A copy of the live turns with the last one ended as stopped: its text so far, marked, with an
    Answer citing the passages that text names (so its sources show and it saves like any turn).
    A turn that already ended (answered or failed) is kept as it is."""
    from ..chain import partial_answer  # loaded with the chain

    turns = copy.deepcopy(live.turns)
    if not turns or turns[-1].get("answer") or turns[-1].get("error"):
        return turns
    turn = turns[-1]
    answer = partial_answer(turn["question"], turn["text"], live.prompt, turn["engine"])
    answer = renumber(answer)
    turn.update(text=answer.text, stopped=True, answer=answer.model_dump(mode="json"))
    return turns


def select_turn(turns: list[dict] | None, index) -> tuple[str, str]:
    """Show the sources (and notice) of the clicked message's turn."""
    turns = turns or []
    i = index[0] if isinstance(index, (list, tuple)) else index
    if not isinstance(i, int) or not 0 <= i // 2 < len(turns):
        return sources_html(None), ""
    turn = turns[i // 2]
    return sources_html(turn, i // 2), notice_html(turn)


def record_feedback(log_: FeedbackLog, turns: list[dict] | None, index, liked) -> str:
    """Save a thumbs up/down with the question, answer, citations, engine and time."""
    turns = turns or []
    i = index[0] if isinstance(index, (list, tuple)) else index
    if not isinstance(i, int) or i % 2 == 0 or not 0 <= i // 2 < len(turns) or not turns[i // 2].get("answer"):
        return sp.notice("Only answers can be rated.", "info")
    turn = turns[i // 2]
    rating = 1 if liked is True else -1 if liked is False else 0
    try:
        log_.add(turn_id=turn["id"], rating=rating, question=turn["question"], history=history_of(turns[: i // 2]),
                 answer=turn["answer"], engine=turn["answer"].get("engine", turn["engine"]))
    except AssistantError as exc:
        return sp.error_notice(exc.problem, exc.fix)
    word = {1: "👍 Thanks, saved.", -1: "👎 Thanks, saved: this answer will be reviewed.", 0: "Vote withdrawn."}[rating]
    return sp.notice(word, "info")
