"""Reading text: a span of a Markdown, reST or plain-text source as a reader sees it, with the
source offset of every character, so a clean quote still cites its exact source span.

- Hard-wrapped lines of a paragraph or list item are joined with one space; paragraphs are
  separated by a blank line, list items and table rows by one line break ("- " marks a bullet,
  a numbered item keeps its number).
- Inline markup goes: reST roles (":func:`x`" reads "x", ":pep:`703`" reads "PEP 703"), links
  (their text stays), emphasis, inline-code quotes, HTML tags and comments; entities are decoded.
- Directive and admonition lines (".. note::", "!!! note", labels, comments, options) go; an
  admonition's body stays as prose. Code (Markdown fences, reST "::" literal blocks, code
  directives, ">>>" sessions) stays code: each line indented four spaces, a line form that
  `text.sentence_spans` never returns as a sentence, so no engine quotes code as prose.

`read(source, fmt, start, end)` is a pure function of the span: the chunk metadata `quote` is
`read(doc.text, doc.fmt, start, end).text`, and `start`/`end` stay exact source offsets. The
guide (fmt "guide") reads as itself, byte for byte.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass(frozen=True)
class Reading:
    """Clean text plus, for each of its characters, the offset in the source it stands for."""

    text: str
    offsets: tuple[int, ...]

    def source_span(self, a: int = 0, b: int | None = None) -> tuple[int, int]:
        """The source span [start, end) behind reading characters a..b (b exclusive)."""
        b = len(self.text) if b is None else b
        if not 0 <= a < b <= len(self.text):
            raise ValueError(f"empty or out-of-range reading span {a}..{b} of {len(self.text)}")
        return min(self.offsets[a:b]), max(self.offsets[a:b]) + 1


class _Seq:
    """Text under construction with one source offset per character."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offs: list[int] = []

    def copy(self, text: str, offs: list[int] | range, a: int, b: int) -> None:
        self.parts.append(text[a:b])
        self.offs.extend(offs[a:b])

    def put(self, s: str, at: int) -> None:
        self.parts.append(s)
        self.offs.extend([at] * len(s))

    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------- inline markup

Piece = "str | tuple[int, int]"  # inserted text, or a kept range of the matched text
_Rule = tuple[re.Pattern, Callable[[re.Match], Iterable]]


def _rewrite(text: str, offs: list[int], rules: list[_Rule],
             mask: Callable[[str], str] | None = None) -> tuple[str, list[int]]:
    """Apply each rule in turn: a match is replaced by its pieces, kept ranges keep their offsets.
    With `mask`, matches are found in mask(text) (same length), e.g. with code spans blanked out."""
    for pattern, repl in rules:
        out = _Seq()
        pos = 0
        for m in pattern.finditer(mask(text) if mask else text):
            out.copy(text, offs, pos, m.start())
            for piece in repl(m):
                if isinstance(piece, str):
                    out.put(piece, offs[m.start()] if m.start() < len(offs) else (offs[-1] if offs else 0))
                else:
                    out.copy(text, offs, *piece)
            pos = m.end()
        out.copy(text, offs, pos, len(text))
        text, offs = out.text(), out.offs
    return text, offs


def _keep(group: int | str) -> Callable[[re.Match], list]:
    return lambda m: [m.span(group)] if m.group(group) is not None else []


def _drop(_m: re.Match) -> list:
    return []


def _one_space(_m: re.Match) -> list:
    return [" "]


def _entity(m: re.Match) -> list:
    return [html.unescape(m.group(0))]


def _escaped(m: re.Match) -> list:
    return [m.span(1)]


# Spans are bounded (400 characters of emphasis, 500 of link text, 1,000 of code): an unclosed "*" or "["
# in a long paragraph would otherwise make every later one scan to its end, quadratic (fuzzed 180 kB files:
# "*x *x ..." took 383 s, "P[P[P[..." 79 s).
_EMPHASIS = [  # "_If the **poll** queue is empty_": a "**" may touch "_"
    (re.compile(r"(?<![^\W_]|\*)\*\*(?=\S)(.{1,400}?)(?<=\S)\*\*(?![^\W_]|\*)"), _keep(1)),
    (re.compile(r"(?<![\w_])__(?=\S)(.{1,400}?)(?<=\S)__(?![\w_])"), _keep(1)),
    (re.compile(r"(?<![^\W_]|\*)\*(?=[^\s*])(.{1,400}?)(?<=[^\s*])\*(?![^\W_]|\*)"), _keep(1)),
    (re.compile(r"(?<![\w_])_(?=[^\s_])(.{1,400}?)(?<=[^\s_])_(?![\w_])"), _keep(1)),
]
_MD_LINKS = [
    (re.compile(r"!\[[^\]\n]{0,500}\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)"), _drop),  # images
    (re.compile(r"\[([^\]\n]{1,500})\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)"), _keep(1)),
    (re.compile(r"\[([^\]\n]{1,500})\]\[[^\]\n]{0,500}\]"), _keep(1)),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), _keep(1)),
]
_MD_CODE = re.compile(r"(`+)(?!`)(.{1,1000}?)(?<!`)\1(?!`)")
_MD_PLAIN = [
    (re.compile(r"<!--.*?(?:-->|$)", re.S), _drop),
    (re.compile(r"<br\s*/?>", re.I), _one_space),
    (re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>"), _drop),
    *_EMPHASIS,
    (re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});"), _entity),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])"), _escaped),
]

_RST_CODE = re.compile(
    r"``(?P<lit>.{1,1000}?)``(?!`)"
    r"|(?::(?P<role>[\w.+-]+(?::[\w.+-]+)?):)?`(?P<body>[^`]+)`(?::[\w.+-]+:)?(?:__?(?!\w))?")
_RST_PLAIN = [
    (re.compile(r"\s*\[(?:\d+|#[\w-]*|\*)\]_(?!\w)"), _drop),  # footnote references
    *_EMPHASIS[:1], *_EMPHASIS[2:3],
    (re.compile(r"\\(.)"), _escaped),
]
_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
_NUMBERED_ROLES = {"pep": "PEP ", "rfc": "RFC "}


def _rst_code(m: re.Match) -> list:
    if m.group("lit") is not None:
        return [m.span("lit")]
    a, b = m.span("body")
    body, role = m.group("body"), (m.group("role") or "").split(":")[-1]
    target = _TARGET.match(body)
    if target and target.group("text"):
        b = a + target.end("text")
    elif target and role:  # ":ref:`<label>`" and the like: the target itself
        a, b = a + target.start("target"), a + target.end("target")
    while a < b and body[a - m.start("body")] in "~!":
        if body[a - m.start("body")] == "~" and "." in body[a - m.start("body"):b - m.start("body")]:
            a = m.start("body") + body.rindex(".", 0, b - m.start("body")) + 1
        else:
            a += 1
    return ([_NUMBERED_ROLES[role]] if role in _NUMBERED_ROLES else []) + [(a, b)]


def _md_code(m: re.Match) -> list:
    a, b = m.span(2)
    if b - a >= 2 and m.group(2).startswith(" ") and m.group(2).endswith(" ") and m.group(2).strip():
        a, b = a + 1, b - 1
    return [(a, b)]


def inline(text: str, offs: list[int], fmt: str) -> tuple[str, list[int]]:
    """Inline markup of one joined paragraph removed; code spans keep their content untouched."""
    if fmt == "markdown":
        text, offs = _rewrite(text, offs, _MD_LINKS)
        code, code_repl, plain = _MD_CODE, _md_code, _MD_PLAIN
    elif fmt == "rst":
        code, code_repl, plain = _RST_CODE, _rst_code, _RST_PLAIN
    else:
        return text, offs
    # Emphasis may wrap code ("**`async` and `await`**"): found with code spans masked as word characters.
    text, offs = _rewrite(text, offs, _EMPHASIS[:2], mask=lambda t: code.sub(lambda m: "x" * len(m.group(0)), t))
    out = _Seq()
    pos = 0
    for m in list(code.finditer(text)) + [None]:
        stop = m.start() if m else len(text)
        t, o = _rewrite(text[pos:stop], offs[pos:stop], plain)
        out.copy(t, o, 0, len(t))
        if m:
            for piece in code_repl(m):
                if isinstance(piece, str):
                    out.put(piece, offs[m.start()])
                else:
                    out.copy(text, offs, *piece)
            pos = m.end()
    return out.text(), out.offs


# ---------------------------------------------------------------- blocks

_BULLET = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+•]|\d{1,3}[.)]|#\.)\s+(?=\S)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_RULE = re.compile(r"^\s*([-*_=~^#+\"'`:.])(?:\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+(?:\s+[\"'(].*)?\s*$")
_ADMONITION = re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s*\w")
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\.\s+(?P<name>[\w:-]+)::(?P<args>.*)$")
_EXPLICIT = re.compile(r"^(?P<indent>\s*)\.\.(?:\s|$)")
_OPTION = re.compile(r"^\s+:[\w -]+:(?:\s.*)?$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_QUOTE_PREFIX = re.compile(r"^\s*(?:>\s?)+")
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "literalinclude", "doctest", "testcode", "testoutput",
                    "productionlist", "math", "graphviz", "raw"}


@dataclass
class _Block:
    kind: str  # para | item | row | code
    lines: list[tuple[int, int]]  # (content start, end) source offsets, markers already skipped
    marker: tuple[int, int] | None = None  # list marker span
    tight: bool = False  # follows the previous block without a blank line
    indent: int = 0  # indentation of its first source line


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _blocks(src: str, start: int, end: int, fmt: str) -> list[_Block]:
    """Split source[start:end] into paragraphs, list items, table rows and code blocks."""
    lines: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        nl = src.find("\n", pos, end)
        stop = end if nl < 0 else nl
        lines.append((pos, stop))
        pos = stop + 1
    out: list[_Block] = []
    cur: _Block | None = None
    blank = True
    i = 0

    def close() -> None:
        nonlocal cur
        if cur is not None and cur.lines:
            out.append(cur)
        cur = None

    def code_until(j: int, min_indent: int) -> int:
        """Collect the code lines from j on while blank or indented more than min_indent."""
        block = _Block("code", [], tight=False)
        while j < len(lines):
            a, b = lines[j]
            line = src[a:b]
            if line.strip() and _indent(line) <= min_indent:
                break
            block.lines.append((a, b))
            j += 1
        while block.lines and not src[slice(*block.lines[-1])].strip():
            block.lines.pop()
        if block.lines:
            out.append(block)
        return j

    while i < len(lines):
        a, b = lines[i]
        line = src[a:b]
        if fmt == "markdown":
            q = _QUOTE_PREFIX.match(line)
            if q and line.lstrip().startswith(">"):
                a, line = a + q.end(), line[q.end():]
        if not line.strip():
            close()
            blank = True
            i += 1
            continue
        if _RULE.match(line) or (fmt == "markdown" and _TABLE_SEP.match(line) and "|" in line):
            close()
            i += 1
            continue
        if fmt == "markdown" and _FENCE.match(line):
            close()
            fence = _FENCE.match(line).group(1)
            j = i + 1
            code = _Block("code", [])
            while j < len(lines) and not src[slice(*lines[j])].strip().startswith(fence):
                code.lines.append(lines[j])
                j += 1
            if code.lines:
                out.append(code)
            i, blank = j + 1, True
            continue
        if fmt == "markdown" and (_ADMONITION.match(line) or _LINK_DEF.match(line)):
            close()
            i, blank = i + 1, True
            continue
        if fmt == "rst":
            d = _DIRECTIVE.match(line)
            if d:
                close()
                name = d.group("name").split(":")[-1]
                j = i + 1
                while j < len(lines) and _OPTION.match(src[slice(*lines[j])]):
                    j += 1
                if name in _CODE_DIRECTIVES:
                    j = code_until(j, _indent(line))
                i, blank = j, True  # an admonition's body is read as prose by the loop
                continue
            if _EXPLICIT.match(line):  # label, comment, footnote or substitution definition: not text
                close()
                j = i + 1
                while j < len(lines) and (not src[slice(*lines[j])].strip() or _indent(src[slice(*lines[j])]) > _indent(line)):
                    j += 1
                i, blank = j, True
                continue
            if line.lstrip().startswith(">>>"):
                close()
                j = i
                block = _Block("code", [])
                while j < len(lines) and src[slice(*lines[j])].strip():
                    block.lines.append(lines[j])
                    j += 1
                out.append(block)
                i, blank = j, True
                continue
        if fmt == "markdown" and _MD_HEADING.match(line):
            close()
            a += _MD_HEADING.match(line).end()
            cur = _Block("para", [(a, b)], indent=0)
            close()
            i, blank = i + 1, True
            continue
        bullet = _BULLET.match(line)
        table = fmt == "markdown" and line.lstrip().startswith("|")
        if table:
            close()
            out.append(_Block("row", [(a + _indent(line), b)], tight=not blank))
            blank = False
            i += 1
            continue
        if bullet:
            close()
            cur = _Block("item", [(a + bullet.end(), b)], marker=(a + bullet.start("marker"), a + bullet.end("marker")),
                         tight=not blank, indent=_indent(line))
        elif (cur is not None and fmt == "rst" and cur.kind == "para" and len(cur.lines) == 1
              and _indent(line) > cur.indent and not src[slice(*cur.lines[0])].rstrip().endswith("::")):
            close()  # a definition list's definition: its own paragraph
            cur = _Block("para", [(a + _indent(line), b)], tight=True, indent=_indent(line))
        elif cur is not None:
            cur.lines.append((a + _indent(line), b))
        else:
            cur = _Block("para", [(a + _indent(line), b)], tight=not blank, indent=_indent(line))
        blank = False
        i += 1
        if fmt == "rst" and line.rstrip().endswith("::"):
            # A literal block follows: the next indented lines (after a blank) are code.
            j = i
            while j < len(lines) and not src[slice(*lines[j])].strip():
                j += 1
            base = min(cur.indent, _indent(line))
            if j < len(lines) and j > i and _indent(src[slice(*lines[j])]) > base:
                close()
                i, blank = code_until(j, base), True
    close()
    return out


def read(source: str, fmt: str, start: int = 0, end: int | None = None) -> Reading:
    """The reading text of source[start:end] (see the module docstring), with source offsets."""
    end = len(source) if end is None else end
    if fmt == "guide":
        return Reading(source[start:end], tuple(range(start, end)))
    out = _Seq()
    for block in _blocks(source, start, end, fmt):
        if block.kind == "code":
            body = _code_lines(source, block)
            if body:
                if out.parts:
                    out.put("\n\n", max(start, block.lines[0][0] - 1, out.offs[-1]))
                for n, (a, b) in enumerate(body):
                    if n:
                        out.put("\n", a - 1)
                    if a < b:
                        out.put("    ", a)
                        out.copy(source, range(len(source)), a, b)
            continue
        text, offs = _joined(source, block, fmt)
        text, offs = inline(text, offs, fmt)
        lead = len(text) - len(text.lstrip())
        text, offs = text.strip(), offs[lead:lead + len(text.strip())]
        if fmt == "rst" and text.endswith("::"):
            cut = 1 if text[:-2].rstrip() == text[:-2] and text[:-2] else len(text) - len(text[:-2].rstrip())
            text, offs = text[:-cut] if cut < len(text) else "", offs[:max(0, len(text) - cut)]
        if not re.search(r"\w", text):
            continue
        if out.parts:
            sep = "\n" if block.tight and block.kind in ("item", "row") else "\n\n"
            first = block.marker[0] if block.marker else block.lines[0][0]
            out.put(sep, max(start, first - 1, out.offs[-1]))
        if block.kind == "item":
            ma, mb = block.marker
            marker = source[ma:mb]
            out.put("- ", ma) if marker in "-*+•" else out.put(marker + " ", ma)
        out.copy(text, offs, 0, len(text))
    return Reading(out.text(), tuple(out.offs))


def _joined(source: str, block: _Block, fmt: str) -> tuple[str, list[int]]:
    """A block's lines, each stripped, joined by one space (mapped to the line break it replaces)."""
    seq = _Seq()
    for n, (a, b) in enumerate(block.lines):
        line = source[a:b]
        if fmt == "markdown" and n and line.lstrip().startswith(">"):
            q = _QUOTE_PREFIX.match(line)
            a, line = a + q.end(), line[q.end():]
        lead = len(line) - len(line.lstrip())
        a, b = a + lead, a + len(line.rstrip())
        if a >= b:
            continue
        if seq.parts:
            seq.put(" ", a - 1)
        seq.copy(source, range(len(source)), a, b)
    return seq.text(), seq.offs


def _code_lines(source: str, block: _Block) -> list[tuple[int, int]]:
    """Code lines with their common indentation removed (blank lines kept inside, not at the ends)."""
    lines = [(a, b) for a, b in block.lines]
    while lines and not source[slice(*lines[0])].strip():
        lines.pop(0)
    while lines and not source[slice(*lines[-1])].strip():
        lines.pop()
    common = min((_indent(source[a:b]) for a, b in lines if source[a:b].strip()), default=0)
    out = []
    for a, b in lines:
        line = source[a:b]
        first = a + min(common, _indent(line))
        out.append((first, a + len(line.rstrip()) if line.strip() else first))
    return out


__all__ = ["Reading", "inline", "read"]
