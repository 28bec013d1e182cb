"""The sentence-level grounding check (assistant/grounding.py), on the real index and its own encoder, and
in the chain's generative path with LangChain's fake chat model standing in for the LLM."""

from __future__ import annotations

import itertools
import statistics
import time

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.chain import build_chain, collect
from assistant.engines.llm import ChatEngine
from assistant.grounding import Checker, verdicts
from assistant.sentence_vectors import SentenceVectors


@pytest.fixture(scope="module")
def checker(assistant):
    return Checker(assistant.kb.sentence_vectors)


def _row(assistant, factor):
    return next(d for d in assistant.kb.factor_rows if d.metadata["factor"] == factor)


def _prose(assistant, quote):
    return next(d for d in assistant.kb.docs if d.metadata.get("kind") != "factor_row"
                and quote in (d.metadata.get("quote") or d.page_content))


def _one(checker, sentence, docs):
    (s,) = checker.check(sentence, docs).claims
    return s


def test_a_swapped_winner_is_unsupported(assistant, checker):
    row = _row(assistant, "Real-Time Apps")
    assert _one(checker, "Node.js wins on Real-Time Apps [1].", [row]).supported
    s = _one(checker, "Python wins on Real-Time Apps [1].", [row])
    assert not s.supported and s.reason == "winner"


def test_a_swapped_side_of_a_row_is_unsupported(assistant, checker):
    row = _row(assistant, "Performance (CPU)")
    assert _one(checker, "Python's multiprocessing support makes it better for CPU-bound tasks [1].", [row]).supported
    s = _one(checker, "Node.js offers multiprocessing support, so it is better for CPU-bound tasks [1].", [row])
    assert not s.supported and s.reason == "swapped sides"


def test_an_altered_number_is_unsupported(assistant, checker):
    doc = _prose(assistant, "35% fewer servers")
    assert _one(checker, "PayPal reported twice the requests per second with 35% fewer servers [1].", [doc]).supported
    s = _one(checker, "PayPal reported twice the requests per second with 45% fewer servers [1].", [doc])
    assert not s.supported and s.reason == "number"


def test_a_verbatim_quote_and_a_paraphrase_are_supported(assistant, checker):
    doc = _prose(assistant, "pick one and ship")
    assert _one(checker, "If you're pre-product-market-fit, pick one and ship [1].", [doc]).supported
    row = _row(assistant, "Security (Built-in)")
    assert _one(checker, "Django comes with protection against SQL injection, XSS and CSRF out of the box [1].", [row]).supported


def test_generic_knowledge_is_unsupported_and_an_unmarked_sentence_gets_its_citation(assistant, checker):
    rows = [_row(assistant, "Performance (I/O)"), _row(assistant, "Learning Curve")]
    g = checker.check("Go is faster than both stacks for every backend [1]. Python's syntax is famously readable.", rows)
    first, second = g.claims
    assert not first.supported and first.reason == "weak support"
    assert second.reason == "recited" and second.best == 2
    assert g.checked_text() == "Python's syntax is famously readable [2]."


def test_sentences_without_a_claim_are_kept_unchecked(checker, assistant):
    g = checker.check("In short: Node.js [1].", [_row(assistant, "Real-Time Apps")])
    assert g.claims == [] and g.checked_text() == "In short: Node.js [1]."


def test_verdicts_reads_winner_and_tie_phrases():
    assert verdicts("Python wins on AI") == ["Python"]
    assert verdicts("Node.js has the edge for I/O") == ["Node.js"]
    assert verdicts("the table calls it a tie") == ["Tie"]
    assert verdicts("Node.js uses an event loop") == []


def test_checker_latency_is_measured(assistant, checker):
    """Printed, not asserted: a four-passage answer of four sentences, first with cold passages, then warm."""
    docs = [_row(assistant, f) for f in ("Real-Time Apps", "Performance (I/O)", "Microservices")] + [_prose(assistant, "pick one and ship")]
    answer = ("Node.js wins on Real-Time Apps [1]. Its event loop handles massive concurrency natively [2]. "
              "Microservices are a tie [3]. Before product-market fit, pick one and ship [4].")
    cold = Checker(SentenceVectors(assistant.planner.embed))  # nothing cached: every passage unit embedded
    t = time.perf_counter()
    cold.check(answer, docs)
    cold_ms = (time.perf_counter() - t) * 1000
    warm = []
    for i in range(5):
        t = time.perf_counter()
        cold.check(answer.replace("tie", f"tie {'again ' * i}"), docs)
        warm.append((time.perf_counter() - t) * 1000)
    print(f"\ngrounding check: cold {cold_ms:.0f} ms, warm passages median {statistics.median(warm):.0f} ms")


# -- in the chain, with a fake LLM -------------------------------------------------------------

Q = {"question": "Which is better for real-time apps?", "history": []}


def _chain(assistant, *replies):
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(r) for r in replies]))
    engine = ChatEngine("fake", "fake:test", model, 5.0)
    return build_chain(assistant.retriever, engine, fallback=assistant.extractive, vocabulary=assistant.kb.vocabulary,
                       idf=assistant.kb.idf, min_relevance=assistant.settings.min_relevance,
                       min_coverage=assistant.settings.min_coverage, topics=assistant.topics, planner=assistant.planner)


GOOD = "Node.js wins on Real-Time Apps [1]. It was designed for WebSockets and live data [1]."
INVENTED = "Node.js also compiles to GPU kernels, which makes it ten times faster than Rust [1]."


def test_a_correct_answer_is_unchanged(assistant):
    events = list(_chain(assistant, GOOD).stream(Q))
    ans = events[-1]["answer"]
    assert not any("reset" in e for e in events)
    assert ans.text == GOOD and ans.unsupported_sentences == [] and ans.fallback_notice is None
    assert ans.citations[0].factor == "Real-Time Apps" and ans.timings.grounding_ms > 0


def test_an_invented_sentence_is_removed_after_a_reset(assistant):
    events = list(_chain(assistant, f"{GOOD} {INVENTED}").stream(Q))
    ans = events[-1]["answer"]
    resets = [i for i, e in enumerate(events) if "reset" in e]
    assert len(resets) == 1 and "1 sentence" in events[resets[0]]["reset"]
    assert events[resets[0] + 1] == {"token": GOOD}  # the checked text follows the reset
    assert ans.text == GOOD and ans.unsupported_sentences == [INVENTED]
    assert ans.engine == "fake:test" and ans.fallback_notice is None


def test_an_answer_with_no_supported_sentence_becomes_the_extractive_answer(assistant):
    reply = "Python wins on Real-Time Apps [1]. " + INVENTED
    events = list(_chain(assistant, reply).stream(Q))
    ans = events[-1]["answer"]
    assert any("reset" in e for e in events)
    assert ans.fallback_notice and "no sentence its passages support" in ans.fallback_notice
    assert ans.text.startswith("Node.js wins on Real-Time Apps") and ans.citations
    assert len(ans.unsupported_sentences) == 2 and ans.engine == "fake:test → extractive"
