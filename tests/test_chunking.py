"""Chunker: factor rows, exact spans, token budgets, headings of related docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.chunking import chunk_source, quote_of
from assistant.sources import collect_corpus, load_guide
from assistant.tokens import count_tokens

from .conftest import CORPUS, require_related


@pytest.fixture(scope="module")
def guide():
    return load_guide(CORPUS, 2_000_000)


def test_guide_text_is_the_seed_unchanged(guide):
    seed = CORPUS.parent.parent / "shared" / "seeds" / "guide-nodejs-vs-python.txt"
    if not seed.is_file():
        pytest.skip(f"seed not found at {seed}")
    assert (CORPUS / "guide.txt").read_bytes() == seed.read_bytes()


def test_exactly_eleven_factor_chunks_with_table_winners(guide, factor_table):
    header, rows = factor_table
    chunks = [c for c in chunk_source(guide, 200) if c.metadata["kind"] == "factor_row"]
    assert len(chunks) == 11 == len(rows)
    for chunk, row in zip(chunks, rows):
        assert chunk.metadata["factor"] == row.factor
        assert chunk.metadata["winner"] == row.winner
        # The chunk reads on its own: header names and all four cells.
        assert chunk.page_content.startswith(f"Factor: {row.factor} | Node.js: {row.node}")
        assert chunk.page_content.endswith(f"Win: {row.win_cell}")
        assert chunk.metadata["quote"] == guide.text[chunk.metadata["start"]:chunk.metadata["end"]]
        assert chunk.metadata["quote"].count("|") == 4  # one whole row, never two
    winners = {r.factor: r.winner for r in rows}
    assert winners["Real-Time Apps"] == "Node.js" and winners["AI / ML Ecosystem"] == "Python"
    assert winners["Library Ecosystem"] == "Tie" and sum(w == "Tie" for w in winners.values()) == 4


@pytest.mark.parametrize("budget", [60, 120, 200, 250])
def test_spans_slice_back_exactly_and_budgets_hold(guide, budget):
    chunks = chunk_source(guide, budget)
    for c in chunks:
        m = c.metadata
        assert guide.text[m["start"]:m["end"]] == m["quote"]
        if m["kind"] == "prose":
            assert count_tokens(m["quote"]) <= budget
            assert c.page_content.endswith(m["quote"])
        assert m["chunk_id"].startswith("guide:")
    # Every non-space character is in some chunk (nothing lost), the table header and separator excepted.
    covered = [False] * len(guide.text)
    for c in chunks:
        for i in range(c.metadata["start"], c.metadata["end"]):
            covered[i] = True
    lost = "".join(ch for ch, cov in zip(guide.text, covered) if not cov and not ch.isspace())
    assert lost == "Factor|Node.js|Python|Win||---|---|---|---|"


def test_chunk_ids_are_stable_and_content_addressed(guide):
    a = [c.metadata["chunk_id"] for c in chunk_source(guide, 200)]
    b = [c.metadata["chunk_id"] for c in chunk_source(guide, 200)]
    assert a == b and len(set(a)) == len(a)


def test_sections_from_guide_toml(guide):
    sections = {c.metadata["section"] for c in chunk_source(guide, 200)}
    for title in ("Adoption figures", "Performance", "Factor table", "When to choose Node.js", "The five questions"):
        assert title in sections


def test_related_docs_keep_headings_as_sections_and_spans_exact():
    related = require_related()
    corpus = collect_corpus(CORPUS, related=True, related_dir=related, cache_dir=Path("cache"), max_bytes=2_000_000)
    assert not corpus.problems
    assert len(corpus.docs) == 10
    for doc in corpus.docs:
        chunks = chunk_source(doc, 200)
        assert chunks, doc.source_id
        for c in chunks:
            # start/end are exact source offsets; the quote is that span's reading text.
            assert quote_of(doc, c.metadata["start"], c.metadata["end"]) == c.metadata["quote"]
            if c.metadata["kind"] == "prose":
                assert count_tokens(c.metadata["quote"]) <= 200
    event_loop = next(d for d in corpus.docs if d.source_id == "nodejs-event-loop")
    chunks = chunk_source(event_loop, 200)
    phases = [c for c in chunks if c.metadata["section"] == "Phases Overview"]
    assert phases and phases[0].metadata["url"].endswith("#phases-overview")
    assert not any("layout: learn" in c.metadata["quote"] for c in chunks)  # front matter dropped
    django = next(d for d in corpus.docs if d.source_id == "django-security")
    assert any(c.metadata["section"] == "Cross site scripting (XSS) protection" for c in chunk_source(django, 200))


def test_over_long_sentence_is_split_to_budget(tmp_path):
    from assistant.sources import SourceDoc

    text = "# Title\n\n" + ("word " * 900) + "\n\nShort tail paragraph here.\n"
    doc = SourceDoc("user-x", "X", "corpus/x.md", text, "markdown", "user")
    chunks = chunk_source(doc, 120)
    assert len(chunks) >= 8
    for c in chunks:
        assert count_tokens(c.metadata["quote"]) <= 120
        assert quote_of(doc, c.metadata["start"], c.metadata["end"]) == c.metadata["quote"]
