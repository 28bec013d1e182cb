"""Citations as HTML: title, section, link, the quoted text with the cited span highlighted, and a
small table when a factor-table row is cited.

Every piece of text that came from a source, an answer or a question goes through `esc()`; only
the tags written here are markup. Links are emitted only for http(s) URLs, so a source cannot
smuggle in a `javascript:` href.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from ..answer import Citation

_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.I)


def esc(text: object) -> str:
    """HTML-escape anything (quotes too, so it is safe inside attributes)."""
    return html.escape("" if text is None else str(text), quote=True)


def chat_markdown(text: str) -> str:
    """Answer/question text for the Chatbot's Markdown: markup escaped, so it shows as text; no
    Markdown links or images formed from quoted source text."""
    out = (text or "").replace("<", "&lt;").replace(">", "&gt;")  # '&' kept: an entity is text, never markup
    out = out.replace("](", "]\\(")
    return re.sub(r"!\[", r"\\![", out)


def link(url: str, label: str | None = None, line_offset: int = 0, lines: int = 1, viewable: bool = False) -> str:
    """An external link for http(s) URLs. A corpus location (the guide has no public URL) is a link
    that opens the in-app guide viewer at that line when `viewable`, else plain text."""
    if _SAFE_URL.match(url or ""):
        return (f'<a class="sa-url" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"{esc(label or url)}</a>")
    line = local_line(url, line_offset)
    if viewable and line:
        # the range lives in the href: the chat's HTML sanitizer drops data-* attributes
        return (f'<a class="sa-url sa-guide-link" href="#sa-guide-L{line}-L{line + max(1, lines) - 1}" '
                f'title="Open the guide at this line">{esc(local_location(url, line_offset))}</a>')
    return (f'<span class="sa-url sa-local" title="Location in the corpus (this source has no public URL)">'
            f"{esc(local_location(url, line_offset))}</span>")


def local_line(url: str, line_offset: int = 0) -> int | None:
    """'corpus/guide.txt#L42' -> 42 (+ line_offset); None when the location is not a line."""
    _path, _, anchor = (url or "").partition("#")
    return int(anchor[1:]) + line_offset if re.fullmatch(r"L\d+", anchor) else None


def local_location(url: str, line_offset: int = 0) -> str:
    """'corpus/guide.txt#L42' -> 'corpus/guide.txt, line 42' (plus `line_offset` lines into the passage)."""
    path, _, anchor = (url or "").partition("#")
    if re.fullmatch(r"L\d+", anchor):
        return f"{path}, line {int(anchor[1:]) + line_offset}"
    return f"{path} § {anchor}" if anchor else path


def highlighted(quote: str, spans: Iterable[tuple[int, int]]) -> str:
    """The quote escaped, with the (merged, clipped) spans wrapped in <mark>."""
    merged: list[list[int]] = []
    for s, e in sorted((max(0, int(s)), min(len(quote), int(e))) for s, e in spans):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, pos = [], 0
    for s, e in merged:
        out.append(esc(quote[pos:s]))
        out.append(f'<mark class="sa-hl">{esc(quote[s:e])}</mark>')
        pos = e
    out.append(esc(quote[pos:]))
    return "".join(out)


def factor_table(rows: Iterable[Citation | dict], marker: bool = False, cited: bool = False) -> str:
    """Factor-table rows as a small table (Factor | Node.js | Python | Win); `cited` marks them as the quoted text."""
    body = []
    for r in rows:
        get = r.get if isinstance(r, dict) else (lambda k, _r=r: getattr(_r, k))
        win = get("winner")
        cite = f' <span class="sa-marker">[{esc(get("n"))}]</span>' if marker else ""
        body.append(
            f'<tr class="{"sa-hl-row" if cited else ""}">'
            f'<th scope="row">{esc(get("factor"))}{cite}</th>'
            f'<td class="{"sa-win" if win == "Node.js" else ""}">{esc(get("node_cell"))}</td>'
            f'<td class="{"sa-win" if win == "Python" else ""}">{esc(get("python_cell"))}</td>'
            f'<td class="sa-verdict">{esc(win)}</td>'
            "</tr>")
    return ('<table class="sa-factor-table"><thead><tr><th>Factor</th><th>Node.js</th><th>Python</th><th>Win</th></tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def citation_card(c: Citation, anchor_prefix: str = "src", with_table: bool = True) -> str:
    """One cited passage; its location points at the line of the first highlighted span. A factor-table
    row is shown once, as a table (its quote is that same row as pipe-separated text)."""
    first, last = min(((s, e) for s, e in c.highlight), default=(0, 0))
    where = link(c.url, line_offset=c.quote.count(chr(10), 0, first), lines=c.quote.count(chr(10), first, last) + 1,
                 viewable=c.source_id == "guide")
    body = (f'<div class="sa-row-quote">{factor_table([c], cited=True)}</div>' if c.factor and with_table else
            f'<blockquote class="sa-quote">{highlighted(c.quote, c.highlight)}</blockquote>')
    return (f'<div class="sa-src" id="{esc(anchor_prefix)}-{c.n}" data-n="{c.n}" tabindex="-1">'
            f'<div class="sa-src-head"><span class="sa-marker">[{c.n}]</span> '
            f'<span class="sa-title">{esc(c.title)}</span>'
            f'<span class="sa-section"> · {esc(c.section)}</span></div>'
            f'<div class="sa-src-link">{where}</div>'
            f"{body}"
            "</div>")


def render_sources(citations: list[Citation], *, heading: str = "Sources", empty: str = "",
                   anchor_prefix: str = "src", with_tables: bool = True, turn: int | None = None) -> str:
    """The sources panel: one card per citation, in [n] order (`turn`: the chat turn they belong to)."""
    data = f' data-turn="{int(turn)}"' if turn is not None else ""
    if not citations:
        return f'<div class="sa-sources sa-empty"{data}>{esc(empty)}</div>'
    cards = "".join(citation_card(c, anchor_prefix, with_tables) for c in sorted(citations, key=lambda c: c.n))
    return f'<div class="sa-sources"{data}><div class="sa-sources-heading">{esc(heading)}</div>{cards}</div>'


def notice(text: str, kind: str = "warn") -> str:
    """A visible banner (fallback notice, error with its fix)."""
    if not text:
        return ""
    return f'<div class="sa-notice sa-{esc(kind)}" role="status">{esc(text)}</div>'


def error_notice(problem: str, fix: str) -> str:
    fix_html = f'<div class="sa-fix"><strong>Fix:</strong> {esc(fix)}</div>' if fix else ""
    return f'<div class="sa-notice sa-error" role="alert"><div>{esc(problem)}</div>{fix_html}</div>'
