"""The second stage of retrieval (assistant/rerank.py) and the sentence vectors it shares
(assistant/sentence_vectors.py), on the real embedding model."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from assistant.rerank import SentenceReranker
from assistant.retrieval import SENTENCE_ANSWERED, build_retriever
from assistant.sentence_vectors import SentenceVectors, passage_sentences, sentences_path


@pytest.fixture(scope="module")
def embed(assistant):
    return assistant.kb.store.embeddings.embed_documents


def _doc(cid: str, text: str) -> Document:
    return Document(page_content=text, metadata={"chunk_id": cid})


BROAD = _doc("broad", "Node.js runs JavaScript on the server. Many companies use it for their web products. "
                      "Its package registry is one of the largest in the world.")
BURIED = _doc("buried", "Teams choose a stack for many reasons, hiring among them. "
                        "The Worker Pool has four threads by default, and an environment variable changes that number. "
                        "Documentation quality matters as well.")
QUESTION = "How many threads does the worker pool have?"


def test_the_passage_holding_the_answering_sentence_comes_first(embed):
    ranked = SentenceReranker(SentenceVectors(embed)).rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8])
    assert [d.metadata["chunk_id"] for d in ranked] == ["buried", "broad"]


def test_a_large_first_stage_share_keeps_the_first_stage_order(embed):
    ranked = SentenceReranker(SentenceVectors(embed), share=10.0).rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8])
    assert [d.metadata["chunk_id"] for d in ranked] == ["broad", "buried"]


def test_sentence_vectors_are_embedded_once_and_questions_are_not_kept(embed):
    seen: list[str] = []
    reranker = SentenceReranker(SentenceVectors(_counting(embed, seen)))
    reranker.rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8])
    first = len(seen)
    assert first == 1 + len(passage_sentences(BROAD)) + len(passage_sentences(BURIED))
    reranker.rerank("Which registry is the largest?", [BURIED, BROAD], [1.0, 0.9])
    assert seen[first:] == ["Which registry is the largest?"]  # only the new question; it is not cached
    reranker.rerank("Which registry is the largest?", [BURIED, BROAD], [1.0, 0.9])
    assert seen[first + 1:] == ["Which registry is the largest?"]


def test_short_pieces_are_not_sentences_but_a_passage_always_has_one():
    assert passage_sentences(_doc("t", "Python")) == ["Python"]
    doc = _doc("m", "Heading\n\nThe event loop runs callbacks one at a time on the main thread.")
    assert passage_sentences(doc) == ["The event loop runs callbacks one at a time on the main thread."]


def test_an_explanation_is_reranked_but_a_named_factor_row_stays_first(assistant):
    retriever = build_retriever(assistant.kb)
    plan = assistant.planner.plan("Why does the learning curve of async code matter for a new team?")
    assert plan.intent in SENTENCE_ANSWERED and plan.factors == ("Learning Curve",)
    assert retriever.search(plan)[0].metadata["factor"] == "Learning Curve"


def test_the_second_stage_changes_an_explanations_passages_and_can_be_turned_off(assistant):
    plan = assistant.planner.plan("How do I find callbacks that take too long in asyncio?")
    assert plan.intent in SENTENCE_ANSWERED
    first_stage = build_retriever(assistant.kb)
    first_stage.rerank = False
    plain = first_stage.search(plan)
    scores = [d.metadata["fused_score"] for d in plain]
    assert scores == sorted(scores, reverse=True)
    reranked = build_retriever(assistant.kb).search(plan)
    assert [d.id for d in reranked] != [d.id for d in plain]
    assert all(d.metadata["source_id"] == "python-asyncio-dev" for d in reranked)


def test_a_verdict_question_keeps_the_first_stage_order(assistant):
    retriever = build_retriever(assistant.kb)
    plan = assistant.planner.plan("Which is better for real-time chat, Node.js or Python?")
    assert plan.intent not in SENTENCE_ANSWERED
    scores = [d.metadata["fused_score"] for d in retriever.search(plan)]
    assert scores == sorted(scores, reverse=True)


def _counting(embed, seen: list[str]):
    def wrapped(texts):
        seen.extend(texts)
        return embed(texts)
    return wrapped


def test_the_ingest_writes_every_sentence_vector_so_a_new_process_embeds_only_questions(full_index, assistant, embed):
    from assistant.store import collection_name

    settings, _ = full_index
    path = sentences_path(settings.index_dir)
    assert path.exists()
    seen: list[str] = []
    fresh = SentenceReranker(SentenceVectors(_counting(embed, seen), saved=path, key=collection_name(settings)))
    docs = assistant.kb.docs[:30]
    fresh.rerank(QUESTION, docs, [1.0] * len(docs))
    assert seen == [QUESTION]


def test_a_sentence_file_for_another_index_or_a_damaged_one_is_not_used(full_index, assistant, embed, tmp_path, caplog):

    settings, _ = full_index
    docs = assistant.kb.docs[:5]
    other: list[str] = []
    SentenceReranker(SentenceVectors(_counting(embed, other), saved=sentences_path(settings.index_dir), key="stack-another-model")).rerank(
        QUESTION, docs, [1.0] * len(docs))
    assert set(other) == {QUESTION, *(s for d in docs for s in passage_sentences(d))}  # all embedded again
    damaged = tmp_path / "sentences.npz"
    damaged.write_bytes(b"not a numpy file")
    seen: list[str] = []
    reranker = SentenceReranker(SentenceVectors(_counting(embed, seen), saved=damaged, key="k"))
    assert "Cannot read" in caplog.text
    ranked = reranker.rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8])
    assert [d.metadata["chunk_id"] for d in ranked] == ["buried", "broad"]


def test_saved_vectors_round_trip(embed, tmp_path):
    path = tmp_path / "sentences.npz"
    vectors = SentenceVectors(embed)
    vectors.warm([BROAD, BURIED])
    vectors.save(path, "key-1")
    first = SentenceReranker(vectors)
    seen: list[str] = []
    again = SentenceReranker(SentenceVectors(_counting(embed, seen), saved=path, key="key-1"))
    assert again.rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8]) == first.rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8])
    assert seen == [QUESTION]


def test_saving_again_embeds_only_new_sentences_and_keeps_only_those_of_the_docs(embed, tmp_path):
    path = tmp_path / "sentences.npz"
    SentenceVectors(embed).save(path, "k", [BROAD, BURIED])
    seen: list[str] = []
    again = SentenceVectors(_counting(embed, seen), saved=path, key="k")
    again.save(path, "k", [BURIED])
    assert seen == []  # an unchanged corpus embeds nothing (and loads no model)
    reloaded: list[str] = []
    SentenceReranker(SentenceVectors(_counting(embed, reloaded), saved=path, key="k")).rerank(QUESTION, [BROAD, BURIED], [1.0, 0.8])
    assert set(reloaded) == {QUESTION, *passage_sentences(BROAD)}  # BROAD's sentences were dropped from the file


def test_one_cache_serves_the_reranker_the_extractive_engine_and_the_grounding_check(assistant, embed):
    """The extractive engine quotes sentences of the passages retrieval just re-ranked, and the grounding check
    reads the same passages: with one shared cache none of them embeds a passage sentence twice."""
    from assistant.engines.extractive import ExtractiveEngine
    from assistant.grounding import Checker

    seen: list[str] = []
    vectors = SentenceVectors(_counting(embed, seen))
    docs = [BROAD, BURIED]
    SentenceReranker(vectors).rerank(QUESTION, docs, [1.0, 0.8])
    engine = ExtractiveEngine(assistant.kb.idf)
    engine.use_vectors(vectors)
    answer = engine.compose(QUESTION, docs).text
    Checker(vectors).check(answer, docs)
    passage = [s for d in docs for s in passage_sentences(d)]
    assert all(seen.count(s) == 1 for s in passage), [s for s in passage if seen.count(s) != 1]
    assert "The Worker Pool has four threads by default" in answer


def test_text_outside_the_corpus_is_kept_only_up_to_its_bound(embed):
    seen: list[str] = []
    vectors = SentenceVectors(_counting(embed, seen), transient_limit=2)
    vectors.corpus(passage_sentences(BROAD))
    vectors.transient(["An answer sentence.", "Another answer sentence."])
    vectors.transient(["An answer sentence."])
    assert seen.count("An answer sentence.") == 1
    vectors.transient(["A third one.", "A fourth one."])  # over the bound: the answer part is emptied
    vectors.transient(["An answer sentence."])
    assert seen.count("An answer sentence.") == 2
    vectors.corpus(passage_sentences(BROAD))  # the corpus part is never emptied
    assert all(seen.count(s) == 1 for s in passage_sentences(BROAD))
    assert len(vectors) == len(passage_sentences(BROAD))


def test_a_hard_wrapped_sentence_and_the_same_sentence_on_one_line_share_a_vector(embed):
    seen: list[str] = []
    vectors = SentenceVectors(_counting(embed, seen))
    one = vectors.corpus(["The event loop runs callbacks\n  one at a time."])
    two = vectors.corpus(["The event loop runs callbacks one at a time."])
    assert seen == ["The event loop runs callbacks one at a time."] and (one == two).all()
