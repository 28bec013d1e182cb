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


def test_a_database_beside_a_stack_is_the_uncovered_part_but_alone_is_out_of_scope(planner):
    beside = planner.plan("We want to share code with our React app: Node.js or Python for a backend on MySQL?")
    assert beside.intent != "out_of_scope" and beside.uncovered == ("MySQL",)
    one = planner.plan("We want to share code with our React app: is a Node.js backend on MySQL a good idea?")
    assert one.intent == "out_of_scope"  # one stack beside another technology: about that technology
    alone = planner.plan("Should we store user events in Redis or in MySQL?")
    assert alone.intent == "out_of_scope" and set(alone.others) == {"Redis", "MySQL"}
    setting = planner.plan("Which MySQL driver is quickest for Node.js?")  # one stack as the setting of another subject
    assert setting.intent == "out_of_scope"


def test_why_one_stack_asks_for_the_reasons_to_choose_it(planner, assistant):
    assert planner.plan("why django for an api?").reasons_for == "Python"
    assert planner.plan("So why would we use Node?").reasons_for == "Node.js"
    assert planner.plan("Why is Node.js single-threaded?").reasons_for == ""  # an explanation, not reasons
    assert planner.plan("Why pick Python over Node.js?").reasons_for == ""  # weighs both
    answer = assistant.ask("why django for an api?", llm="extractive")
    assert answer.text.startswith('From "When to choose Python"') and answer.citations
    assert "AI, ML, or LLM features are central to your product" in answer.text


def test_a_code_identifier_the_docs_never_name_does_not_refuse(assistant):
    # A setting or exception name is a detail of a covered subject (Django's async mode), not a new subject.
    answer = assistant.ask("My async views raise SynchronousOnlyError when SOME_CUSTOM_SETTING is on: why?", llm="extractive")
    assert not answer.refused and answer.citations


def test_an_unknown_name_beside_both_stacks_is_said_to_be_uncovered(assistant):
    answer = assistant.ask("Node.js or Python for a chat product built on Zorblatt?", llm="extractive")
    assert not answer.refused and answer.text.startswith("The guide does not cover Zorblatt.")
    alone = assistant.ask("How do I configure Zorblatt for a Node.js app?", llm="extractive")
    assert alone.refused  # one stack as the setting of an unknown subject: nothing of the guide is asked


def test_a_personal_learning_path_is_out_of_scope(planner):
    assert planner.plan("Should I learn Node.js next, given I already write Flask apps?").intent == "out_of_scope"


def test_a_figure_the_sources_do_not_give_is_said_to_be_uncovered(assistant):
    # The docs describe Node's Worker Pool as "k Workers" and give no default size.
    answer = assistant.ask("How many threads does the Node.js worker pool have by default?", llm="extractive")
    assert answer.text.startswith("The guide does not cover the figure asked for.") and answer.citations
    fact = assistant.ask("How much faster did LinkedIn's mobile backend get on Node.js?", llm="extractive")
    assert "does not cover" not in fact.text and any(ch.isdigit() for ch in fact.text)
    # Numbers about something else (PayPal's servers, LinkedIn's speed-up) do not give a count of page visits.
    other = assistant.ask("How many page visits per day did PayPal get after moving to Node.js?", llm="extractive")
    assert other.text.startswith("The guide does not cover the figure asked for.") and any(ch.isdigit() for ch in other.text)


@pytest.mark.parametrize("question, counted", [
    ("How many page visits per day does the biggest Node.js site get?", ("page", "visit")),
    ("What is the maximum number of connections a node instance can keep open?", ("connect",)),
    ("How many page visits per day did PayPal get after moving?", ("page", "visit")),  # not PayPal: the subject
    ("how much does Node.js reduce web page loading times?", ("reduc", "web", "page", "load")),
    ("Which one is faster?", ()),
])
def test_what_a_figure_counts_is_read_from_the_words_after_the_figure_phrase(planner, question, counted):
    assert planner.plan(question).figure_terms == counted
