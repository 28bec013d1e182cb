"""The question plan on the real embedding model: intent, sides, other technologies, needs."""

from __future__ import annotations

import pytest

from assistant.plan import INTENTS, train_softmax


@pytest.fixture(scope="module")
def planner(assistant):
    return assistant.planner


def test_softmax_learns_a_separable_set():
    import numpy as np

    x = np.array([[1.0, 0.0, 1.0], [0.9, 0.1, 1.0], [0.0, 1.0, 1.0], [0.1, 0.9, 1.0]])
    w = train_softmax(x, np.array([0, 0, 1, 1]), 2)
    assert list((x @ w).argmax(axis=1)) == [0, 0, 1, 1]


def test_a_comparison_with_another_technology_is_out_of_scope(planner):
    plan = planner.plan("Should our API be written in Elixir or in Node.js?")
    assert plan.intent == "out_of_scope" and plan.others == ("Elixir",) and plan.stacks == ("Node.js",)


def test_both_stacks_plus_another_is_partly_covered(planner):
    plan = planner.plan("Is Node.js or Python or Kotlin better for real-time apps?")
    assert plan.intent != "out_of_scope" and plan.uncovered == ("Kotlin",)


def test_a_why_question_is_an_explanation(planner):
    plan = planner.plan("Why does one slow callback delay every other client?")
    assert plan.intent == "explain" and set(plan.scores) == set(INTENTS)


def test_needs_become_decide_answers(planner):
    plan = planner.plan("Three JavaScript developers, a live bidding app with fraud scoring models: what should we pick?")
    assert plan.intent == "scenario"
    assert plan.decide_answers() == {"data_flow": "Requests mostly wait on I/O (databases, APIs, file reads)", "ai": "Yes",
                                     "team": "JavaScript / TypeScript"}


def test_the_cpu_verdict_cites_the_prose_that_contradicts_it(assistant):
    ans = assistant.ask("Is Python quicker than Node.js at heavy computation?")
    assert "Python wins on Performance (CPU)" in ans.text and "can be meaningfully slower than Node.js" in ans.text
    assert len({c.chunk_id for c in ans.citations}) >= 2
