"""The guide inside the app: it has no public URL, so a citation's "corpus/guide.txt, line 42" opens
this numbered view at that line (the page's script scrolls there and highlights the cited lines)."""

from __future__ import annotations

from pathlib import Path

from . import sources_panel as sp


def guide_html(corpus_dir: Path, title: str = "") -> str:
    """The guide's text, one element per line with the id `sa-guide-L<n>`, everything escaped."""
    path = Path(corpus_dir) / "guide.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return sp.error_notice(f"The guide {path} cannot be read ({exc.strerror}).", "Set ASSISTANT_CORPUS_DIR to the corpus folder.")
    lines = "".join(f'<div class="sa-gl" id="sa-guide-L{i}"><span class="sa-ln" aria-hidden="true">{i}</span>'
                    f'<span class="sa-gt">{sp.esc(line) or "&nbsp;"}</span></div>'
                    for i, line in enumerate(text.splitlines(), start=1))
    head = f'<div class="sa-guide-title">{sp.esc(title)} <span class="sa-local">corpus/guide.txt</span></div>' if title else ""
    return f'<div class="sa-guide">{head}<div class="sa-guide-text">{lines}</div></div>'
