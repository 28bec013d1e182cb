"""The Decide view: the guide's five questions as a short form, and the cited recommendation."""

from __future__ import annotations

from ..decide import QUESTIONS, Reason, Recommendation, recommend
from ..errors import AssistantError
from . import sources_panel as sp
from .runtime import Runtime

PREFIX = "dec"


def decide(runtime: Runtime, answers: dict[str, str | None], has_pmf: bool) -> str:
    """Recommendation HTML for the form's answers (question key -> option label)."""
    if not any(answers.values()):
        return '<div class="sa-decision sa-empty">Answer at least one of the five questions.</div>'
    try:
        kb = runtime.get().kb
    except AssistantError as exc:
        return sp.error_notice(exc.problem, exc.fix)
    return render(recommend(answers, kb.docs, has_pmf=has_pmf))


def _reason(r: Reason) -> str:
    marks = "".join(f' <a class="sa-marker" href="#{PREFIX}-{n}">[{n}]</a>' for n in r.markers)
    missing = (f' <span class="sa-missing">(the guide passage “{sp.esc(", ".join(r.missing))}” is not in the index; '
               "rebuild it: assistant ingest --rebuild)</span>") if r.missing else ""
    side = f'<span class="sa-side sa-{"node" if r.side == "Node.js" else "python"}">{sp.esc(r.side)}</span> ' if r.side else ""
    return f"<li>{side}{sp.esc(r.text)}{marks}{missing}</li>"


def render(rec: Recommendation) -> str:
    pulls = [r for r in rec.reasons if r.side]
    neutral = [r for r in rec.reasons if not r.side]
    parts = [
        f'<div class="sa-decision" data-verdict="{sp.esc(rec.verdict)}">',
        f'<div class="sa-verdict-big">{sp.esc(rec.verdict)}</div>',
        f'<div class="sa-headline">{sp.esc(rec.headline)}</div>',
        f'<div class="sa-counts"><span class="sa-count sa-node">Node.js <b>{rec.node_score:g}</b></span>'
        f'<span class="sa-count sa-python">Python <b>{rec.python_score:g}</b></span></div>',
    ]
    if pulls:
        parts.append(f'<h4>Why</h4><ul class="sa-reasons">{"".join(_reason(r) for r in pulls)}</ul>')
    if rec.advice:
        parts.append(f'<h4>The guide\'s advice</h4><ul class="sa-reasons">{"".join(_reason(r) for r in rec.advice)}</ul>')
    if neutral:
        parts.append('<div class="sa-neutral">No pull either way: ' + " ".join(sp.esc(r.text) for r in neutral) + "</div>")
    parts.append(sp.render_sources(rec.citations, heading="From the guide", anchor_prefix=PREFIX))
    parts.append("</div>")
    return "".join(parts)


__all__ = ["PREFIX", "QUESTIONS", "decide", "render"]
