"""The Compare view: the guide's factor table (from the index, never hard-coded) as a grid where
every cell carries its citation, and a tally of the factors the founder ticks."""

from __future__ import annotations

from collections import Counter

from ..answer import Citation
from . import sources_panel as sp

PREFIX = "cmp"


def factor_citations(kb) -> list[Citation]:
    """One citation per factor row, numbered in table order."""
    out = []
    for n, d in enumerate(kb.factor_rows, start=1):
        m = d.metadata
        quote = m.get("quote") or d.page_content
        out.append(Citation(n=n, chunk_id=m["chunk_id"], source_id=m["source_id"], title=m["title"], section=m["section"],
                            url=m["url"], quote=quote, start=m["start"], end=m["end"], highlight=[(0, len(quote))],
                            factor=m["factor"], winner=m["winner"], node_cell=m["node_cell"], python_cell=m["python_cell"]))
    return out


def _marker(c: Citation) -> str:
    return f'<sup><a class="sa-marker" href="#{PREFIX}-{c.n}" title="{sp.esc(sp.local_location(c.url))}">[{c.n}]</a></sup>'


def grid_html(cits: list[Citation], selected: list[str] | None = None) -> str:
    """All rows; each cell ends with its [n]; the winning side's cell and ticked rows are marked."""
    if not cits:
        return sp.render_sources([], empty="The index has no factor table rows. Rebuild it: assistant ingest --rebuild")
    chosen = set(selected or [])
    rows = []
    for c in cits:
        mark = _marker(c)
        rows.append(
            f'<tr class="{"sa-ticked" if c.factor in chosen else ""}">'
            f'<th scope="row">{sp.esc(c.factor)} {mark}</th>'
            f'<td class="{"sa-win" if c.winner == "Node.js" else ""}">{sp.esc(c.node_cell)} {mark}</td>'
            f'<td class="{"sa-win" if c.winner == "Python" else ""}">{sp.esc(c.python_cell)} {mark}</td>'
            f'<td class="sa-verdict">{sp.esc(c.winner)} {mark}</td></tr>')
    cols = '<colgroup><col class="sa-c-factor"><col><col><col class="sa-c-win"></colgroup>'
    return (f'<table class="sa-factor-table sa-grid">{cols}<thead><tr><th>Factor</th><th>Node.js</th><th>Python</th><th>Win</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def tally_html(cits: list[Citation], selected: list[str] | None) -> str:
    """The tally of the ticked factors, and the rows behind it with their sources."""
    chosen = [c for c in cits if c.factor in set(selected or [])]
    if not chosen:
        return ('<div class="sa-tally sa-empty">Tick the factors that matter to your product to see how they add up. '
                "Each row's verdict is the guide's own.</div>")
    count = Counter(c.winner for c in chosen)
    node, py, tie = count.get("Node.js", 0), count.get("Python", 0), count.get("Tie", 0)
    lean = "Node.js" if node > py else "Python" if py > node else ""
    verdict = (f"Leaning <strong>{sp.esc(lean)}</strong> on the factors you ticked." if lean else
               "An even split on the factors you ticked: the guide says the team you have decides.")
    counts = (f'<div class="sa-counts"><span class="sa-count sa-node">Node.js <b>{node}</b></span>'
              f'<span class="sa-count sa-python">Python <b>{py}</b></span>'
              f'<span class="sa-count sa-tie">Tie <b>{tie}</b></span></div>')
    return (f'<div class="sa-tally"><div class="sa-tally-head">{len(chosen)} factor{"s" if len(chosen) != 1 else ""} ticked. '
            f"{verdict}</div>{counts}{sp.factor_table(chosen, marker=True)}"
            f"{sp.render_sources(chosen, heading='The rows behind this tally', anchor_prefix=PREFIX, with_tables=False)}</div>")
