"""Stop while an answer streams (issue #13), at the handler level: no server, no browser.

The extractive engine streams several events, so a test can stop it between two of them exactly as
Gradio's cancellation does (closing the generator). A small fake chat model stands in for an LLM
only where the model's own stream must be seen to close.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from assistant.engines.llm import ChatEngine
from assistant.service import Assistant
from assistant.ui import chat
from assistant.ui.app import create_app
from assistant.ui.conversations import conversations_path
from assistant.ui.runtime import Runtime

QUESTION = "Which is better for real-time apps?"


@pytest.fixture
def runtime(assistant, tmp_path):
    fresh = Assistant(assistant.settings.model_copy(update={"index_dir": tmp_path / "index"}), kb=assistant.kb)
    return Runtime(fresh.settings, fresh)


def _until_cited(outputs) -> tuple:
    """Read the answer's updates until its text holds a citation marker (mid-answer)."""
    for out in outputs:
        if out[2] and re.search(r"\[\d+\]", out[2][-1]["text"]):
            return out
    raise AssertionError("the answer ended before it cited anything")


def test_a_stopped_turn_keeps_its_text_marked_with_its_sources_and_the_next_question_answers(runtime):
    live = chat.Live()
    answers = chat.respond(runtime, QUESTION, [], "extractive", live)
    shown = _until_cited(answers)[2][-1]["text"]
    answers.close()  # what Gradio's cancellation does to the event's generator

    turns = chat.stopped_turns(live)
    turn = turns[-1]
    assert turn["stopped"] and turn["answer"]["text"] == chat.display_text(shown)
    assert turn["answer"]["citations"] and all(f"[{c['n']}]" in turn["text"] for c in turn["answer"]["citations"])
    assert live.turns[-1]["answer"] is None  # the live turn is copied, not changed
    bubble = chat.chat_messages(turns)[-1]["content"]
    assert bubble.rstrip().endswith(f"*{chat.STOPPED}*") or f"*{chat.STOPPED}*" in bubble
    assert "sa-src" in chat.sources_html(turn, 0) and "Answering" not in chat.sources_html(turn, 0)
    assert "Stopped" in chat.notice_html(turn)
    assert chat.history_of(turns)[-1]["content"] == turn["answer"]["text"]  # a follow-up sees it

    out = list(chat.respond(runtime, "And for AI/ML?", turns, "extractive"))[-1]
    assert out[2][-1]["answer"] and re.search(r"\[\d+\]", out[2][-1]["text"]) and not out[2][-1].get("stopped")


def test_stopping_before_any_text_and_after_the_end_never_fails(runtime):
    live = chat.Live()
    answers = chat.respond(runtime, QUESTION, [], "extractive", live)
    next(answers)  # the question's bubble only
    answers.close()
    turn = chat.stopped_turns(live)[-1]
    assert turn["stopped"] and turn["answer"]["text"] == "" and not turn["answer"]["citations"]
    assert "before the answer began" in chat.chat_messages([turn])[-1]["content"]

    done = chat.Live()
    list(chat.respond(runtime, QUESTION, [], "extractive", done))
    assert not chat.stopped_turns(done)[-1].get("stopped")  # an answered turn stays answered
    assert chat.stopped_turns(chat.Live()) == []


class SlowModel(BaseChatModel):
    """Writes 'word ' forever, one chunk per 20 ms, counting what it wrote and whether it was closed."""

    state: dict

    @property
    def _llm_type(self) -> str:
        return "slow-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        raise NotImplementedError

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        try:
            for i in range(100_000):
                self.state["written"] += 1
                time.sleep(0.02)
                yield ChatGenerationChunk(message=AIMessageChunk(content=f"word{i} [1] "))
        finally:
            self.state["closed"] = True


def test_closing_the_answer_closes_the_models_stream_and_frees_the_engine(runtime):
    spec = "local:slow-fake"  # a local spec: the UI holds its one-answer-at-a-time lock
    engine = ChatEngine("local", spec, SlowModel(state={"written": 0, "closed": False}), timeout=60)
    state = engine.model.state  # (pydantic keeps its own copy of the dict)
    runtime.get()._engines[spec] = engine
    answers = chat.respond(runtime, QUESTION, [], spec, chat.Live())
    for out in answers:
        if out[2][-1]["text"].count("word") >= 5:
            break
    answers.close()
    deadline = time.monotonic() + 5
    while not state["closed"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state["closed"], "the model's stream was not closed"
    written = state["written"]
    time.sleep(0.3)
    assert state["written"] == written  # nothing more is generated
    assert not runtime.llm_lock(spec).locked()
    assert engine._busy.acquire(timeout=2)  # the engine is free for the next answer
    engine._busy.release()


def _fn(demo, name: str):
    return next(f.fn for f in demo.fns.values() if getattr(f, "name", None) == name)


def test_the_stop_button_cancels_the_answer_and_the_stopped_turn_is_saved_once(runtime, tmp_path):
    demo = create_app(runtime.settings, runtime)
    deps = demo.config["dependencies"]
    stop_btn = next(c["id"] for c in demo.config["components"] if c.get("props", {}).get("elem_id") == "sa-stop")
    cancelled = {i for d in deps if any(t[0] == stop_btn for t in d["targets"]) for i in d.get("cancels") or []}
    asking = [i for i, d in enumerate(deps) if demo.fns[i].name == "ask"]
    assert len(asking) == 3 and set(asking) <= cancelled  # Enter, Send, an example

    ask, stop = _fn(demo, "ask"), _fn(demo, "stop")
    request = SimpleNamespace(session_hash="s1", username=None)
    browser = "0" * 32
    outputs = ask(QUESTION, [], "extractive", "", browser, request)
    first = next(outputs)
    assert first[-1].visible is True  # Stop shows while the answer streams
    _until_cited(((*o[:2], o[2]) for o in outputs))
    stopped = stop(request)
    assert stopped[0] is not None and stopped[-1].visible is False  # Stop hides again
    turns = stopped[2]
    assert turns[-1]["stopped"] and turns[-1]["answer"]["citations"]
    assert f"*{chat.STOPPED}*" in stopped[1][-1]["content"]
    outputs.close()  # Gradio closes the cancelled event's generator: the turn is not ended (or saved) twice
    assert stop(request)[2] == turns  # pressing Stop again changes nothing

    with sqlite3.connect(conversations_path(runtime.settings)) as con:
        rows = con.execute("SELECT turns FROM conversations").fetchall()
    assert len(rows) == 1 and '"stopped": true' in rows[0][0]

    # Stop when nothing streams (another session): nothing happens, no error.
    assert all(o is not None for o in stop(SimpleNamespace(session_hash="s2", username=None)))

    # The next question answers normally, after the stopped turn, in the same saved conversation.
    last = list(ask("And for AI/ML?", turns, "extractive", stopped[5], browser, request))
    final = next(o for o in reversed(last) if isinstance(o[2], list))
    assert len(final[2]) == 2 and final[2][-1]["answer"] and not final[2][-1].get("stopped")
    assert last[-1][-1].visible is False
    with sqlite3.connect(conversations_path(runtime.settings)) as con:
        assert con.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 1


def test_stop_during_a_question_that_is_refused_or_blank_is_harmless(runtime):
    demo = create_app(runtime.settings, runtime)
    ask, stop = _fn(demo, "ask"), _fn(demo, "stop")
    request = SimpleNamespace(session_hash="s3", username=None)
    assert all(not hasattr(o, "visible") or o.visible is False for o in list(ask("   ", [], "extractive", "", "", request))[-1])
    outs = list(ask("What is the weather in Paris today?", [], "extractive", "", "", request))
    assert outs[0][-1].visible is True and outs[-1][-1].visible is False
    again = stop(request)  # after the end: the answer stays as it was
    assert not again[2][-1].get("stopped")
    threading.Thread(target=stop, args=(request,)).start()  # and never raises from another thread either
