"""Find sections and blocks (with character spans) in the guide, Markdown, RST and plain text.

A block is the smallest unit the chunker keeps whole when it fits: a line of the guide, a
paragraph, a list, or a fenced/literal code block. Headings become section titles and anchors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .factors import line_offsets, line_span
from .reading import read

_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+_:.])\1{2,}\s*$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_DIRECTIVE_ONLY = re.compile(r"^\s*\.\.\s+(_[^:]+:|[\w-]+::.*|\|.*)\s*$")


@dataclass
class Section:
    title: str
    anchor: str = ""
    blocks: list[tuple[int, int]] = field(default_factory=list)


def slugify(title: str) -> str:
    """GitHub/Sphinx-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\s-]", "", title.lower()).strip()
    return "#" + re.sub(r"[\s_]+", "-", slug)


def guide_sections(text: str, spec: list[dict], skip_lines: set[int]) -> list[Section]:
    """Sections from guide.toml's line ranges; each non-empty line is a block."""
    offsets = line_offsets(text)
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    sections = []
    for item in spec:
        first, last = item["lines"]
        if not (1 <= first <= last <= n_lines):
            raise ValueError(f"guide.toml section {item['title']!r} has lines {first}-{last}; the guide has {n_lines}")
        sec = Section(item["title"], slugify(item["title"]))
        for lineno in range(first, last + 1):
            if lineno in skip_lines:
                continue
            start, end = line_span(text, offsets, lineno)
            if text[start:end].strip():
                sec.blocks.append((start, end))
        if sec.blocks:
            sections.append(sec)
    return sections


def markup_sections(text: str, fmt: str) -> list[Section]:
    """Sections of a Markdown, RST or plain-text document, split at headings."""
    lines = _lines(text)
    sections: list[Section] = [Section("", "")]
    i = _skip_front_matter(text, lines) if fmt == "markdown" else 0
    para: list[tuple[int, int]] = []  # line spans of the current paragraph

    def flush():
        if para:
            start, end = para[0][0], para[-1][1]
            if _meaningful(text[start:end]):
                sections[-1].blocks.append((start, end))
            para.clear()

    while i < len(lines):
        start, end = lines[i]
        line = text[start:end]
        heading, consumed = _heading(text, lines, i, fmt)
        if heading:
            flush()
            heading = read(heading, fmt).text.strip() or heading  # "The `async` keyword" reads without quotes
            sections.append(Section(heading, slugify(heading)))
            i += consumed
            continue
        if fmt == "markdown" and _MD_FENCE.match(line):
            flush()
            fence = _MD_FENCE.match(line).group(1)
            j = i + 1
            while j < len(lines) and not text[lines[j][0]:lines[j][1]].strip().startswith(fence):
                j += 1
            j = min(j, len(lines) - 1)
            sections[-1].blocks.append((start, lines[j][1]))
            i = j + 1
            continue
        if line.strip():
            para.append((start, end))
        elif not (fmt == "rst" and para and _rst_literal_continues(text, lines, i)):
            flush()
        i += 1
    flush()
    return [s for s in sections if s.blocks]


def _lines(text: str) -> list[tuple[int, int]]:
    offsets = line_offsets(text)
    count = len(offsets) - 1 if offsets[-1] == len(text) and len(offsets) > 1 else len(offsets)
    return [line_span(text, offsets, n) for n in range(1, count + 1)]


def _skip_front_matter(text: str, lines: list[tuple[int, int]]) -> int:
    """Index of the first line after a YAML front-matter block (`---` … `---`), else 0."""
    if not lines or text[lines[0][0]:lines[0][1]].strip() != "---":
        return 0
    for j in range(1, min(len(lines), 60)):
        if text[lines[j][0]:lines[j][1]].strip() == "---":
            return j + 1
    return 0


def _heading(text: str, lines: list[tuple[int, int]], i: int, fmt: str) -> tuple[str, int]:
    """(title, lines consumed) when a heading starts at line i, else ('', 0)."""
    line = text[lines[i][0]:lines[i][1]]
    if fmt == "markdown":
        m = _MD_HEADING.match(line)
        return (m.group(2).strip(), 1) if m else ("", 0)
    if fmt != "rst":
        return "", 0
    nxt = text[lines[i + 1][0]:lines[i + 1][1]] if i + 1 < len(lines) else ""
    if _RST_ADORN.match(line) and i + 2 < len(lines):  # overline, title, underline
        title = text[lines[i + 1][0]:lines[i + 1][1]].strip()
        under = text[lines[i + 2][0]:lines[i + 2][1]]
        if title and _RST_ADORN.match(under):
            return title, 3
    if line.strip() and not line[0].isspace() and _RST_ADORN.match(nxt) and len(nxt.strip()) >= len(line.strip()):
        return line.strip(), 2
    return "", 0


def _rst_literal_continues(text: str, lines: list[tuple[int, int]], i: int) -> bool:
    """Keep an RST literal block (`::` then indented lines) together across blank lines."""
    j = i + 1
    while j < len(lines) and not text[lines[j][0]:lines[j][1]].strip():
        j += 1
    return j < len(lines) and text[lines[j][0]:lines[j][1]][:1] in (" ", "\t") and _in_literal(text, lines, i)


def _in_literal(text: str, lines: list[tuple[int, int]], i: int) -> bool:
    j = i - 1
    while j >= 0:
        line = text[lines[j][0]:lines[j][1]]
        if line.strip() and not line[:1].isspace():
            return line.rstrip().endswith("::") or line.strip().startswith(".. code-block")
        j -= 1
    return False


def _meaningful(block: str) -> bool:
    """Drop blocks that are only markup: RST labels/directives, rules, front-matter fences."""
    stripped = block.strip()
    if all(_RST_DIRECTIVE_ONLY.match(line) or not line.strip() for line in stripped.splitlines()):
        return False
    return len(re.findall(r"\w", stripped)) >= 3 and stripped not in ("---",)
