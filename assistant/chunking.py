"""Structure-aware, token-sized chunking with exact character spans.

A chunk's `start`/`end` are exact offsets into its source's text; its `quote` is the reading text
of that span, `quote_of(source, start, end)` (`reading.read`: wrapped lines joined, markup gone),
which for the guide is `source.text[start:end]` byte for byte. Factor-table rows become one chunk
each whose page content carries the header; prose packs whole blocks (lines, paragraphs,
list blocks, code fences) up to a token budget, falling back to sentences, then to words.

We do our own packing instead of LangChain's splitters because those do not report exact
spans once they strip or overlap text; the budget is measured with the same tiktoken count.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from langchain_core.documents import Document

from .factors import line_offsets, line_span, parse_factor_table
from .sources import SourceDoc
from .reading import read
from .structure import Section, guide_sections, markup_sections
from .text import SENTENCE_END, sentence_spans
from .tokens import count_tokens

CHUNKER_VERSION = "c6"


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def chunk_source(source: SourceDoc, budget: int) -> list[Document]:
    """All chunks of one source, in text order."""
    text = source.text
    docs: list[Document] = []
    if source.fmt == "guide":
        table = source.structure["table"]
        header, rows = parse_factor_table(text, table["header_line"], table["first_row"], table["last_row"])
        context, meaning = table.get("context", {}), table.get("meaning", {})
        for key, given in (("context", context), ("meaning", meaning)):
            unknown = set(given) - {r.factor for r in rows}
            if unknown:
                raise ValueError(f"guide.toml [table.{key}] names factors not in the table: {sorted(unknown)}")
        offsets = line_offsets(text)
        for row in rows:
            meta = _meta(source, "Factor table", f"#L{row.line}", row.start, row.end, "factor_row")
            meta.update(factor=row.factor, winner=row.winner, node_cell=row.node, python_cell=row.python,
                        quote=text[row.start:row.end])
            row_doc = _doc(row.render(header), meta)
            docs.append(row_doc)
            # Extra vectors for the row (multi-vector retrieval), never shown or cited: retrieval maps them
            # to their row. One per line of the guide's own prose about the factor (a line's meaning is not
            # averaged away by the others), and one per gloss of what the factor's terse name means in a
            # founder's words (ours, not the guide's), for questions that describe a need without naming it.
            for n in context.get(row.factor, ()):
                prose = text[slice(*line_span(text, offsets, n))]
                docs.append(_row_vector(row_doc, "factor_context", f"{row.factor}\n{prose}"))
            for phrase in meaning.get(row.factor, ()):
                docs.append(_row_vector(row_doc, "factor_gloss", f"{row.factor}: {phrase}"))
        table_lines = range(table["header_line"], table["last_row"] + 1)
        sections = guide_sections(text, source.structure["sections"], skip_lines=set(table_lines))
    else:
        sections = markup_sections(text, source.fmt)
    fmt = source.fmt
    for section in sections:
        blocks = section.blocks if fmt == "guide" else [b for b in section.blocks if _readable(read(text, fmt, *b).text)]
        for span in pack_blocks(text, blocks, budget, fmt=fmt):
            quote = quote_of(source, span.start, span.end)
            if not quote.strip():
                continue
            anchor = section.anchor if fmt != "guide" else f"#L{_line_of(text, span.start)}"
            meta = _meta(source, section.title, anchor, span.start, span.end, "prose")
            meta["quote"] = quote
            # The section title rides along in the embedded/BM25 text (a "contextual header"):
            # list items under "When to choose Node.js" are found by that question.
            docs.append(_doc(f"{section.title}\n{quote}" if section.title else quote, meta))
    docs.sort(key=lambda d: d.metadata["start"])
    return docs


def quote_of(source: SourceDoc, start: int, end: int) -> str:
    """The quote a chunk of `source` spanning [start, end) shows: the span's reading text."""
    return read(source.text, source.fmt, start, end).text


def _readable(reading: str) -> bool:
    return len(re.findall(r"\w", reading)) >= 3


def pack_blocks(text: str, blocks: list[tuple[int, int]], budget: int, fmt: str = "guide") -> list[Span]:
    """Greedily pack consecutive blocks into spans whose reading text is at most `budget` tokens."""

    def size(a: int, b: int) -> int:
        return count_tokens(text[a:b] if fmt == "guide" else read(text, fmt, a, b).text)

    pieces: list[tuple[int, int]] = []
    for start, end in blocks:
        if size(start, end) <= budget:
            pieces.append((start, end))
        elif fmt == "guide":
            pieces.extend(_split_long(text, start, end, budget))
        else:
            pieces.extend(_split_reading(text, fmt, start, end, budget, size))
    spans: list[Span] = []
    cur: tuple[int, int] | None = None
    for start, end in pieces:
        if cur is not None and size(cur[0], end) <= budget:
            cur = (cur[0], end)
        else:
            if cur is not None:
                spans.append(Span(*cur))
            cur = (start, end)
    if cur is not None:
        spans.append(Span(*cur))
    return spans


def _split_long(text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
    """Split an over-budget block on sentence ends; an over-budget sentence on whitespace."""
    cuts = [start] + [start + m.start() for m in SENTENCE_END.finditer(text[start:end])] + [end]
    out: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:]):
        a = _skip_space(text, a, b)
        if a >= b:
            continue
        if count_tokens(text[a:b]) <= budget:
            out.append((a, b))
        else:
            out.extend(_split_words(text, a, b, budget))
    return out


def _split_reading(text: str, fmt: str, start: int, end: int, budget: int, size) -> list[tuple[int, int]]:
    """Split an over-budget block of a marked-up source at the sentences (and code lines) of its
    reading text. Each piece's source span runs from its first character to the white space after
    its last, so markup around a sentence ("**", a link's URL) stays with the sentence."""
    reading = read(text, fmt, start, end)
    units = sorted(set(sentence_spans(reading.text)) | {
        m.span() for m in re.finditer(r"^(?: {4}|\t).*\S.*$", reading.text, re.M)})
    if not units:
        return _split_words(text, start, end, budget)
    cuts = [start]
    for (_pa, pb), (a, _b) in zip(units, units[1:]):
        cut, floor = reading.offsets[a], reading.offsets[pb - 1] + 1
        while cut > floor and not text[cut - 1].isspace():  # openers ("**", "[") go with their sentence
            cut -= 1
        cuts.append(max(cut, cuts[-1]))
    cuts.append(end)
    out: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:]):
        b = _trim_end(text, a, b)
        a = _skip_space(text, a, b)
        if a >= b:
            continue
        if size(a, b) <= budget:
            out.append((a, b))
        else:
            out.extend(_split_words(text, a, b, budget))
    return out


def _trim_end(text: str, a: int, b: int) -> int:
    while b > a and text[b - 1].isspace():
        b -= 1
    return b


_CUT_WINDOW = 32  # characters per token of budget: more than any token spans


def _split_words(text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out: list[tuple[int, int]] = []
    cur_start = None
    prev_end = None
    for ws, we in words:
        if cur_start is None:
            cur_start = ws
        elif count_tokens(text[cur_start:we]) > budget:
            out.append((cur_start, prev_end))
            cur_start = ws
        prev_end = we
        # A single "word" over budget (e.g. a long base64 line) is cut hard by characters. Only a
        # window of it is tokenized per cut: the whole rest each time was quadratic (minutes for 200 KB).
        while prev_end - cur_start > 1:
            window = min(prev_end, cur_start + _CUT_WINDOW * budget)
            n = count_tokens(text[cur_start:window])
            if n <= budget:
                if window == prev_end:
                    break
                cut = window
            else:
                cut = cur_start + max(1, (window - cur_start) * budget // (2 * n))
            out.append((cur_start, cut))
            cur_start = cut
    if cur_start is not None and prev_end is not None and prev_end > cur_start:
        out.append((cur_start, prev_end))
    return out


def _skip_space(text: str, a: int, b: int) -> int:
    while a < b and text[a].isspace():
        a += 1
    return a


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _meta(source: SourceDoc, section: str, anchor: str, start: int, end: int, kind: str) -> dict:
    return {
        "source_id": source.source_id,
        "title": source.title,
        "section": section,
        "url": f"{source.url}{anchor}" if source.url else anchor,
        "primary": source.primary,
        "origin": source.origin,
        "start": start,
        "end": end,
        "kind": kind,
        "factor": "",
        "winner": "",
    }


def _row_vector(row_doc: Document, kind: str, page_content: str) -> Document:
    """An extra vector of a factor row: the row's metadata, its own kind and id, `parent_id` = the row."""
    meta = {k: v for k, v in row_doc.metadata.items() if k not in ("chunk_id", "tokens")}
    return _doc(page_content, {**meta, "kind": kind, "parent_id": row_doc.metadata["chunk_id"]})


def _doc(page_content: str, meta: dict) -> Document:
    digest = hashlib.sha256(
        (page_content + json.dumps(meta, sort_keys=True)).encode("utf-8", "surrogatepass")
    ).hexdigest()[:20]
    meta["chunk_id"] = f"{meta['source_id']}:{digest}"
    meta["tokens"] = count_tokens(page_content)
    return Document(page_content=page_content, metadata=meta, id=meta["chunk_id"])


__all__ = ["CHUNKER_VERSION", "Section", "chunk_source", "pack_blocks", "quote_of", "line_offsets", "line_span"]
