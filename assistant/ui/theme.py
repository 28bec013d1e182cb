"""Look and feel: a Gradio theme with bundled fonts (nothing fetched from the network) and the CSS
for the sources panel, the factor grid and the decision card."""

from __future__ import annotations

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#sa-header h1 { font-size: 1.5rem; margin: 0; }
#sa-header p { margin: .2rem 0 0; color: var(--body-text-color-subdued); }
#sa-status { font-size: .85rem; color: var(--body-text-color-subdued); }
#sa-status details { display: inline; }
#sa-status summary { display: inline; cursor: pointer; text-decoration: underline dotted; }
#sa-status ul { margin: .3rem 0 0 1rem; }
.sa-status-line b { color: var(--body-text-color); }
.sa-sources { display: flex; flex-direction: column; gap: .6rem; }
.sa-sources-heading { font-weight: 600; font-size: .95rem; }
.sa-empty { color: var(--body-text-color-subdued); font-size: .9rem; padding: .5rem 0; }
.sa-src { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .6rem .75rem;
          background: var(--background-fill-secondary); }
.sa-src-head { font-weight: 600; font-size: .9rem; }
.sa-section { font-weight: 400; color: var(--body-text-color-subdued); }
.sa-src-link { font-size: .8rem; margin: .15rem 0 .35rem; overflow-wrap: anywhere; }
.sa-local { color: var(--body-text-color-subdued); font-family: var(--font-mono); }
.sa-quote { margin: .3rem 0 0; padding: .4rem .6rem; border-left: 3px solid var(--color-accent);
            white-space: pre-wrap; font-size: .85rem; max-height: 16rem; overflow-y: auto; }
.sa-hl { background: #fde68a; color: #1f2937; padding: 0 .1rem; border-radius: 3px; }
.sa-marker { color: var(--color-accent); font-weight: 600; text-decoration: none; white-space: nowrap; }
.sa-factor-table { border-collapse: collapse; width: 100%; font-size: .82rem; margin: .3rem 0; }
.sa-factor-table th, .sa-factor-table td { border: 1px solid var(--border-color-primary); padding: .3rem .45rem;
                                           text-align: left; vertical-align: top; }
.sa-factor-table thead th { background: var(--background-fill-secondary); }
.sa-win { background: rgba(16, 185, 129, .14); }
.sa-verdict { font-weight: 600; white-space: nowrap; }
.sa-grid tr.sa-ticked th { background: rgba(99, 102, 241, .12); }
.sa-notice { border-radius: 8px; padding: .5rem .75rem; font-size: .9rem; margin: .25rem 0; }
.sa-warn { background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; }
.sa-error { background: #fee2e2; color: #7f1d1d; border: 1px solid #ef4444; }
.sa-info { background: #e0e7ff; color: #1e1b4b; border: 1px solid #6366f1; }
.sa-counts { display: flex; gap: .5rem; margin: .4rem 0; flex-wrap: wrap; }
.sa-count { border-radius: 999px; padding: .15rem .7rem; font-size: .85rem; border: 1px solid var(--border-color-primary); }
.sa-node { background: rgba(16, 185, 129, .12); }
.sa-python { background: rgba(59, 130, 246, .12); }
.sa-tie { background: rgba(107, 114, 128, .12); }
.sa-side { border-radius: 6px; padding: 0 .35rem; font-size: .8rem; font-weight: 600; }
.sa-decision { display: flex; flex-direction: column; gap: .35rem; }
.sa-verdict-big { font-size: 1.8rem; font-weight: 700; }
.sa-headline { font-size: 1.05rem; }
.sa-reasons { margin: 0 0 .4rem 1.1rem; }
.sa-neutral, .sa-missing { color: var(--body-text-color-subdued); font-size: .85rem; }
#sa-examples .gallery-item, #sa-examples button { font-size: .85rem; }
"""


def theme():
    import gradio as gr

    return gr.themes.Soft(primary_hue="indigo", secondary_hue="emerald",
                          font=(gr.themes.LocalFont("IBM Plex Sans"), "ui-sans-serif", "system-ui", "sans-serif"))
