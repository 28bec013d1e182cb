"""The Chat view's handlers: streaming answers, the sources panel, examples, engines, feedback.

The conversation lives in a per-session `turns` list (gr.State): one dict per question with the
raw question, the answer (Answer.model_dump), any error and notice. The Chatbot shows two
messages per turn (question, answer), so message index // 2 is the turn. Everything shown is
escaped first (`sources_panel.chat_markdown`, `esc`): markup in a question or a source is text.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator

from ..answer import Answer
from ..engines import default_spec, engine_statuses
from ..errors import AssistantError
from . import sources_panel as sp
from .feedback import FeedbackLog
from .runtime import Runtime

log = logging.getLogger("assistant.ui")
WELCOME = ("Ask about choosing **Node.js or Python** for your startup's backend. Every claim is cited [n] to the "
           "guide *Node.js vs Python for Startup Backends* or the official docs beside it; the sources appear on the right.")
EMPTY_SOURCES = "Sources of the selected answer appear here: title, section, link and the quoted passage."


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
    """From the index: the guide's own decision questions, and factor-table rows phrased as questions."""
    import re

    asked = []
    for d in sorted((d for d in kb.docs if d.metadata.get("primary") and d.metadata.get("kind") == "prose"),
                    key=lambda d: d.metadata["start"]):
        for sentence in re.findall(r"(?:^|(?<=[.!?]\s))([A-Z][^.!?\n]{15,140}\?)", d.metadata.get("quote", "")):
            if sentence not in asked:
                asked.append(sentence)
    rows = kb.factor_rows
    factor_qs = [f"Which is better for {r.metadata['factor']}: Node.js or Python?" for r in rows[::3]]
    return factor_qs + asked[-5:]


# -- rendering ----------------------------------------------------------------------------------
def chat_messages(turns: list[dict]) -> list[dict]:
    """Chatbot messages (role/content), two per turn, all text escaped."""
    out: list[dict] = []
    for t in turns:
        out.append({"role": "user", "content": sp.chat_markdown(t["question"])})
        if t.get("error"):
            body = f"**{sp.chat_markdown(t['error']['problem'])}**"
            if t["error"].get("fix"):
                body += f"\n\n**Fix:** {sp.chat_markdown(t['error']['fix'])}"
        else:
            body = sp.chat_markdown(t.get("text", ""))
            if t.get("notice"):
                body = f"> ⚠ {sp.chat_markdown(t['notice'])}\n\n{body}"
        out.append({"role": "assistant", "content": body or "…"})
    return out


def sources_html(turn: dict | None) -> str:
    if not turn:
        return sp.render_sources([], empty=EMPTY_SOURCES)
    if turn.get("error"):
        return sp.render_sources([], empty="No sources: this question was not answered.")
    ans = turn.get("answer")
    if ans is None:
        return sp.render_sources([], empty="Answering…")
    answer = Answer.model_validate(ans)
    if answer.refused or not answer.citations:
        return sp.render_sources([], empty="No sources: the guide and its related docs don't cover this question.")
    q = answer.standalone_question or answer.question  # a follow-up shows what it was read as
    q = q if len(q) <= 80 else q[:77] + "…"
    return sp.render_sources(answer.citations, heading=f"Sources for “{q}”")


def notice_html(turn: dict | None) -> str:
    if not turn:
        return ""
    if turn.get("error"):
        return sp.error_notice(turn["error"]["problem"], turn["error"].get("fix", ""))
    return sp.notice(turn.get("notice") or "", "warn")


def history_of(turns: list[dict]) -> list[dict]:
    """The earlier turns as the assistant's history: [{role, content}], answered turns only."""
    out: list[dict] = []
    for t in turns:
        if t.get("answer"):
            out += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]["text"]}]
    return out


# -- handlers -----------------------------------------------------------------------------------
def respond(runtime: Runtime, message: str, turns: list[dict] | None, engine: str) -> Iterator[tuple]:
    """Stream one answer. Yields (textbox, chatbot, turns, sources, notice) after every event."""
    turns = list(turns or [])
    question = message if isinstance(message, str) else ""
    spec = canonical_spec(engine or default_spec(runtime.settings))
    turn = {"id": uuid.uuid4().hex, "question": question, "engine": spec, "text": "", "notice": "", "answer": None, "error": None}
    turns.append(turn)
    yield "", chat_messages(turns), turns, sources_html(turn), ""
    try:
        assistant = runtime.get()
        lock = runtime.llm_lock(spec) if spec.startswith("local") else contextlib.nullcontext()
        with lock:
            for event in assistant.stream(question, history_of(turns[:-1]), llm=spec):
                if "token" in event:
                    turn["text"] += event["token"]
                elif "reset" in event:
                    turn["text"], turn["notice"] = "", event["reset"]
                elif "answer" in event:
                    answer: Answer = event["answer"]
                    turn.update(text=answer.text, notice=answer.fallback_notice or "", engine=answer.engine,
                                answer=answer.model_dump(mode="json"))
                    break
                yield "", chat_messages(turns), turns, sources_html(turn), notice_html(turn)
    except AssistantError as exc:
        turn["error"] = {"problem": exc.problem, "fix": exc.fix}
    except Exception as exc:  # noqa: BLE001 - never a traceback in the page; the log has it
        log.exception("Answering failed")
        turn["error"] = {"problem": f"Something went wrong while answering ({type(exc).__name__}).",
                         "fix": "Try again; if it persists, see the server log or choose the extractive engine."}
    yield "", chat_messages(turns), turns, sources_html(turn), notice_html(turn)


def select_turn(turns: list[dict] | None, index) -> tuple[str, str]:
    """Show the sources (and notice) of the clicked message's turn."""
    turns = turns or []
    i = index[0] if isinstance(index, (list, tuple)) else index
    if not isinstance(i, int) or not 0 <= i // 2 < len(turns):
        return sources_html(None), ""
    turn = turns[i // 2]
    return sources_html(turn), notice_html(turn)


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
