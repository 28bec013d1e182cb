"""Look and feel: a Gradio theme with bundled fonts (nothing fetched from the network), the CSS for
the sources panel, the factor grid, the decision card and the phone layout, and the page script
that makes [n] markers and guide locations clickable.

Colours are chosen for WCAG AA (contrast of every text >= 4.5:1; tests/test_ui_browser.py measures
it in Chromium): subdued text is gray-600, the primary button indigo-600, labels gray-700.
"""

from __future__ import annotations

CSS = """
.gradio-container { max-width: 1440px !important; margin: 0 auto; }
.gradio-container .sidebar-parent:has(#sa-sidebar.open) { padding-left: 270px !important; }  /* push, not cover (a phone: the list covers the page until closed) */
#sa-sidebar .sa-side-title { font-size: 1.1rem; margin: 0 0 .3rem; }
#sa-toolbar { align-items: flex-end; }
#sa-toolbar > button { max-height: 2.6rem; margin-bottom: .35rem; }
#sa-header h1 { font-size: 1.5rem; margin: 0; }
#sa-header p { margin: .2rem 0 0; color: #4b5563; }
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
.sa-section { font-weight: 400; color: #374151; }
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
#sa-input textarea::placeholder { color: #4b5563; opacity: 1; }
#sa-tabs button[role="tab"][aria-selected="true"] { color: #4338ca; }
#sa-counter { font-size: .8rem; color: #4b5563; text-align: right; margin-top: -.4rem; }
#sa-counter .sa-over { color: #991b1b; font-weight: 600; }
#sa-history label { font-size: .85rem; }
#sa-owner { font-size: .8rem; color: #4b5563; }
.sa-marker { color: #4338ca; }
#sa-chatbot a[href^="#sa-cite-"] { color: #4338ca; font-weight: 600; text-decoration: none; white-space: nowrap; }
#sa-chatbot a[href^="#sa-cite-"]:hover, #sa-chatbot a[href^="#sa-cite-"]:focus { text-decoration: underline; }
.sa-src.sa-target { outline: 3px solid #4338ca; outline-offset: 2px; background: #eef2ff; }
.sa-src.sa-target .sa-hl, .sa-src.sa-target .sa-hl-row > * { background: #fcd34d; }
.sa-hl-row > * { background: #fef3c7; color: #1f2937; }
a.sa-guide-link { color: #4338ca; font-family: var(--font-mono); }
.sa-guide-text { font-family: var(--font-mono); font-size: .82rem; line-height: 1.45; max-height: 70vh; overflow-y: auto;
                 border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .4rem 0; }
.sa-gl { display: flex; gap: .6rem; padding: 0 .6rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.sa-ln { flex: 0 0 2.6rem; text-align: right; color: #4b5563; user-select: none; }
.sa-gl.sa-target-line { background: #fde68a; color: #1f2937; }
.sa-guide-title { font-weight: 600; margin-bottom: .4rem; }
.sa-msg-sources { margin-top: .5rem; }
.sa-msg-sources summary { cursor: pointer; font-weight: 600; color: #3730a3; }
.sa-msg-sources .sa-sources { margin-top: .4rem; }
.sa-grid { table-layout: fixed; }
.sa-grid th, .sa-grid td { overflow-wrap: break-word; hyphens: auto; }
@media (min-width: 768px) { .sa-msg-sources { display: none !important; } }
@media (max-width: 767px) {
  .gradio-container { padding: 0 6px !important; }
  #sa-sources-col { display: none !important; }
  #sa-header h1 { font-size: 1.25rem; }
  #sa-chatbot { height: min(62vh, 520px) !important; }
  .sa-factor-table { font-size: .72rem; }
  .sa-factor-table th, .sa-factor-table td { padding: .2rem .25rem; }
  .sa-grid td sup { display: none; }  /* on a phone the row's [n] is shown once, after the factor */
  .sa-grid col.sa-c-factor { width: 29%; } .sa-grid col.sa-c-win { width: 18%; }
}
"""

HEAD = """<script>
(() => {
  if (window.__saWired) return;
  window.__saWired = true;
  const phone = () => window.matchMedia('(max-width: 767px)').matches;
  const later = (find, act) => {  // the element may appear after a server round trip or a tab switch
    const t0 = Date.now();
    const step = () => { const el = find(); if (el) act(el); else if (Date.now() - t0 < 8000) setTimeout(step, 100); };
    step();
  };
  const flash = (card) => {
    document.querySelectorAll('.sa-src.sa-target').forEach(e => e.classList.remove('sa-target'));
    card.classList.add('sa-target');
    const d = card.closest('details'); if (d) d.open = true;
    const mark = card.querySelector('mark, .sa-hl-row') || card;
    card.scrollIntoView({block: 'start'});
    mark.scrollIntoView({block: 'nearest'});
    card.focus({preventScroll: true});
  };
  const showCite = (t, n, bot) => {
    if (phone()) { later(() => document.getElementById(`msg-t${t}-${n}`), flash); return; }
    const here = () => document.getElementById(`src-t${t}-${n}`);
    if (!here() && bot) bot.click();  // selecting that answer brings its sources into the panel
    later(here, flash);
  };
  const openGuide = (line, lines) => {
    const tab = [...document.querySelectorAll('button[role="tab"]')].find(b => b.textContent.trim() === 'Guide');
    if (tab) tab.click();
    later(() => { const el = document.getElementById('sa-guide-L' + line); return el && el.offsetParent ? el : null; }, (el) => {
      document.querySelectorAll('.sa-gl.sa-target-line').forEach(e => e.classList.remove('sa-target-line'));
      for (let i = 0; i < lines; i++) { const e = document.getElementById('sa-guide-L' + (line + i)); if (e) e.classList.add('sa-target-line'); }
      el.scrollIntoView({block: 'center'});
    });
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href^="#sa-cite-"], a.sa-guide-link');
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const g = a.getAttribute('href').match(/^#sa-guide-L(\\d+)-L(\\d+)$/);
    if (g) { openGuide(+g[1], +g[2] - +g[1] + 1); return; }
    const m = a.getAttribute('href').match(/^#sa-cite-t(\\d+)-(\\d+)$/);
    if (m) showCite(m[1], m[2], a.closest('[data-testid="bot"]'));
  }, true);
  // the conversation list starts closed (a phone would be covered by it); open it on a wide screen
  if (!phone()) later(() => document.querySelector('#sa-sidebar:not(.open) .toggle-button'), (b) => b.click());
})();
</script>"""

COUNTER_JS = """(text) => {
  const n = (text || '').length, max = %d;
  return `<span class="${n > max ? 'sa-over' : ''}" aria-live="polite">${n.toLocaleString('en')} / ${max.toLocaleString('en')} characters</span>`;
}"""


def theme():
    import gradio as gr

    return gr.themes.Soft(primary_hue="indigo", secondary_hue="emerald",
                          font=(gr.themes.LocalFont("IBM Plex Sans"), "ui-sans-serif", "system-ui", "sans-serif")).set(
        body_text_color_subdued="*neutral_600", block_label_text_color="*neutral_700", block_info_text_color="*neutral_600",
        block_title_text_color="*neutral_800", input_placeholder_color="*neutral_600",
        button_primary_background_fill="*primary_600", button_primary_background_fill_hover="*primary_700",
        button_primary_text_color="white", checkbox_label_background_fill_selected="*primary_600",
        checkbox_label_border_color_selected="*primary_600")
