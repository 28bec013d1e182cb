"""Reading text: markup gone, wrapped lines joined, every character mapped back to its source span;
whole sentences, also in the real related docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.chunking import chunk_source, quote_of
from assistant.reading import read
from assistant.sources import collect_corpus, load_guide
from assistant.text import sentence_spans

from .conftest import CORPUS, require_related

# Raw markup a reader must never see in a quote's prose (code lines, indented four spaces, excepted).
MARKUP = {
    "rst role": re.compile(r":[a-z]+(?::[a-z]+)?:`"),
    "directive": re.compile(r"(?m)^\s*\.\. [\w-]+::|^\s*!!!"),
    "strong": re.compile(r"\*\*\S"),
    "backquote": re.compile(r"`"),
    "html tag": re.compile(r"</?[a-zA-Z][^>\n]*>"),
    "entity": re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);"),
    "markdown link": re.compile(r"\]\(|\]\[|^\[[^\]]+\]:\s", re.M),
    "line break inside a sentence": re.compile(r"[a-z,]\n[ \t]*[a-z]"),
}


def _prose(quote: str) -> str:
    return "\n".join(line for line in quote.split("\n") if not line.startswith("    "))


def _markup(quote: str) -> list[str]:
    return [name for name, pattern in MARKUP.items() if pattern.search(_prose(quote))]


def _assert_maps_back(source: str, reading, start: int, end: int) -> None:
    assert len(reading.offsets) == len(reading.text)
    assert all(start <= o < end for o in reading.offsets)
    assert list(reading.offsets) == sorted(reading.offsets)  # reading order is source order
    for ch, o in zip(reading.text, reading.offsets):  # a kept character is that source character
        if ch.isalnum() and not source[o].isspace():
            assert source[o] == ch or not source[o].isalnum(), (ch, source[o], o)


@pytest.fixture(scope="module")
def corpus():
    related = require_related()
    return collect_corpus(CORPUS, related=True, related_dir=related, cache_dir=Path("cache"), max_bytes=2_000_000)


@pytest.mark.parametrize("fmt, source, expected", [
    ("rst", "Django uses :func:`~asgiref.sync.sync_to_async` and\n:term:`free threading`; see :pep:`703`.",
     "Django uses sync_to_async and free threading; see PEP 703."),
    ("rst", "you will trigger Django's\n:ref:`asynchronous safety protection <async-safety>` to protect it.",
     "you will trigger Django's asynchronous safety protection to protect it."),
    ("rst", "Set ``DEBUG`` to **True** and read the `guide <https://x.org/>`_ [1]_.",
     "Set DEBUG to True and read the guide."),
    ("rst", ".. note::\n\n    Only use this\n    in tests.\n",
     "Only use this in tests."),
    ("rst", "For example::\n\n    x = 1\n    y = 2\n\nAfter.", "For example:\n\n    x = 1\n    y = 2\n\nAfter."),
    ("rst", ".. code-block:: python\n   :caption: x\n\n   print(1)\n", "    print(1)"),
    ("rst", "* first item that wraps\n  onto a second line\n* second item", "- first item that wraps onto a second line\n- second item"),
    ("markdown", "The **poll** phase, [libuv](https://libuv.org/) &amp; `setImmediate()`\nrun <abbr title=\"x\">I/O</abbr>.",
     "The poll phase, libuv & setImmediate() run I/O."),
    ("markdown", "!!! note\n    You can only use `await`\n    inside `async def`.", "You can only use await inside async def."),
    ("markdown", "> quoted line one\n> and line two", "quoted line one and line two"),
    ("markdown", "Intro:\n\n1. one\n2. two\n\n```js\nconst a = `x`;\n```\n\n[libuv]: https://libuv.org/",
     "Intro:\n\n1. one\n2. two\n\n    const a = `x`;"),
    ("markdown", "**`async` and `await`** keep __init__ in `__init__()`", "async and await keep init in __init__()"),
    ("text", "plain text wrapped\nover two lines.\n\n- a list\n- of two", "plain text wrapped over two lines.\n\n- a list\n- of two"),
])
def test_reading_text_of_markup(fmt, source, expected):
    reading = read(source, fmt)
    assert reading.text == expected
    _assert_maps_back(source, reading, 0, len(source))


def test_the_guide_reads_as_itself(corpus):
    guide = load_guide(CORPUS, 2_000_000)
    reading = read(guide.text, "guide", 10, 500)
    assert reading.text == guide.text[10:500] and reading.offsets == tuple(range(10, 500))
    for chunk in chunk_source(guide, 200):  # the guide's quotes are its exact text, so its chunk ids stay
        m = chunk.metadata
        assert m["quote"] == guide.text[m["start"]:m["end"]]


@settings(max_examples=150, deadline=None)
@given(source=st.text(alphabet=st.sampled_from(list("ab :`*_-.#>[]()<>&;!|\n\t 1\\~=")), max_size=300),
       fmt=st.sampled_from(["markdown", "rst", "text"]), data=st.data())
def test_every_reading_character_maps_into_its_span(source, fmt, data):
    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, len(source)))
    reading = read(source, fmt, start, end)
    _assert_maps_back(source, reading, start, end)
    if reading.text:
        a, b = reading.source_span()
        assert start <= a < b <= end


def test_every_chunk_of_the_full_corpus_reads_clean_and_maps_to_its_span(corpus):
    total = 0
    for doc in corpus.docs:
        for chunk in chunk_source(doc, 200):
            m = chunk.metadata
            if m["kind"] not in ("prose", "factor_row"):
                continue
            total += 1
            reading = read(doc.text, doc.fmt, m["start"], m["end"])
            assert reading.text == m["quote"] == quote_of(doc, m["start"], m["end"])
            _assert_maps_back(doc.text, reading, m["start"], m["end"])
            assert not _markup(m["quote"]), (doc.source_id, _markup(m["quote"]), m["quote"][:300])
    print(f"\n{total} chunks, none with raw markup")
    assert total > 150


def test_sentences_of_real_related_docs_are_whole(corpus):
    docs = {d.source_id: d for d in corpus.docs}
    sentences = {}
    for sid in ("django-async", "python-free-threading", "nodejs-event-loop", "fastapi-async"):
        text = read(docs[sid].text, docs[sid].fmt).text
        sentences[sid] = [text[a:b] for a, b in sentence_spans(text)]
    django = sentences["django-async"]
    # Once cut after "Django's" by a hard line break and a role.
    assert ("If you accidentally try to call a part of Django that is synchronous-only from an async view, "
            "you will trigger Django's asynchronous safety protection to protect your data from corruption.") in django
    assert not any(s.endswith("Django's") for s in django)
    free = sentences["python-free-threading"]
    assert any(s.startswith("Starting with the 3.13 release, CPython has experimental support") and s.endswith("disabled.")
               for s in free)
    loop = sentences["nodejs-event-loop"]
    assert "Technically, the poll phase controls when timers are executed." in loop
    for sid, found in sentences.items():
        for s in found:
            assert "\n" not in s and not s.startswith(("- ", "* ")), (sid, s)
            assert not re.search(r"\b(?:e\.g|i\.e|Node\.js|vs)\.$", s), (sid, s)  # no cut after an abbreviation


@pytest.mark.parametrize("text, expected", [
    ("Use asyncio.run() on v3.13, e.g. in Node.js apps. Django's ORM is sync. Done!",
     ["Use asyncio.run() on v3.13, e.g. in Node.js apps.", "Django's ORM is sync.", "Done!"]),
    ('He said "Stop." Then, i.e. later, left.', ['He said "Stop."', "Then, i.e. later, left."]),
    ("Intro line.\n- item one.\n2. item two\n\n    code = 1. Not prose\n\nAfter code.",
     ["Intro line.", "item one.", "item two", "After code."]),
])
def test_sentence_spans_keep_sentences_whole(text, expected):
    assert [text[a:b] for a, b in sentence_spans(text)] == expected
