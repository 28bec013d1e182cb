"""An axe-style colour-contrast computation run in the page (WCAG 2 relative luminance).

For every visible text node (and every empty input's placeholder): the text colour, blended over
the element's effective background (the stack of ancestor backgrounds, translucent layers blended,
gradients checked at each of their colours, the worst kept), and the ratio (L1 + 0.05) / (L2 + 0.05).
"""

CONTRAST_JS = r"""
() => {
  const parse = (c) => { const m = /rgba?\(([^)]+)\)/.exec(c || ''); if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const colorsIn = (s) => (s.match(/rgba?\([^)]+\)/g) || []).map(parse);
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const blend = (top, bottom) => { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backgrounds = (el) => {  // every possible effective background (several when a gradient is in the stack)
    const stack = [];
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      const grad = cs.backgroundImage.includes('gradient') ? colorsIn(cs.backgroundImage) : [];
      const c = parse(cs.backgroundColor);
      if (grad.length) { stack.push(grad); if (grad.every(g => g[3] >= 1)) break; }
      if (c && c[3] > 0) { stack.push([c]); if (c[3] >= 1) break; }
    }
    let out = [[255, 255, 255, 1]];
    for (const layer of stack.reverse()) out = out.flatMap(bg => layer.map(l => blend(l, bg)));
    return out;
  };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= +getComputedStyle(e).opacity; return o; };
  const visible = (el) => { const cs = getComputedStyle(el); const r = el.getBoundingClientRect();
    return cs.visibility !== 'hidden' && cs.display !== 'none' && r.width > 0 && r.height > 0
      && r.right > 0 && r.left < document.documentElement.clientWidth && opacity(el) > 0.05 && !el.closest('[disabled], [aria-hidden="true"]'); };
  const results = []; const seen = new Set();
  const check = (el, text, fgCss) => {
    const fg = parse(fgCss); if (!fg) return;
    const alpha = fg[3] * opacity(el);
    const worst = Math.min(...backgrounds(el).map(bg => ratio(blend([fg[0], fg[1], fg[2], alpha], bg), bg)));
    results.push({text: text.trim().slice(0, 60), ratio: Math.round(worst * 100) / 100, color: fgCss,
                  where: (el.id ? '#' + el.id : el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''))});
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement; if (!el || !n.textContent.trim() || seen.has(el)) continue;
    if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TITLE'].includes(el.tagName) || el.closest('svg')) continue;
    seen.add(el); if (visible(el)) check(el, n.textContent, getComputedStyle(el).color);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (!el.value && el.placeholder && visible(el)) check(el, 'placeholder: ' + el.placeholder, getComputedStyle(el, '::placeholder').color);
  }
  return results;
}
"""
