// Used by tests/support/tap_targets.py: page.evaluate(this, minimum).
(minimum) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]:not([tabindex="-1"])';
  const small = [];
  const inlineText = (el) => {
    if (el.tagName !== 'A') return false;
    const block = el.closest('p, li, dd, h1, h2, h3, small, figcaption, .note, .help');
    if (!block) return false;
    const text = block.textContent.replace(/\s+/g, ' ').trim();
    const own = el.textContent.replace(/\s+/g, ' ').trim();
    return text.length > own.length + 3;  // other words around it: a link in a sentence
  };
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (el.closest('[hidden], details:not([open]) > :not(summary)')) continue;
    if (el.closest('.skip-link')) continue;  // off screen until focused
    let box = el.getBoundingClientRect();
    // An input hidden under its label (opacity 0): the label is what is pressed.
    // A checkbox or radio in its label, or an input hidden under it: the label is pressed too.
    const pressedThroughLabel = ['checkbox', 'radio', 'file'].includes(el.type) || style.opacity === '0' || box.width <= 1 || box.height <= 1;
    if (pressedThroughLabel && el.labels && el.labels.length) {
      const label = el.labels[0].getBoundingClientRect();
      if (label.width * label.height > box.width * box.height) box = label;
    }
    if (box.width === 0 && box.height === 0) continue;
    if (inlineText(el)) continue;
    if (box.width + 0.5 < minimum || box.height + 0.5 < minimum) {
      const name = (el.getAttribute('aria-label') || el.textContent || el.name || el.type || '').replace(/\s+/g, ' ').trim();
      small.push({tag: el.tagName.toLowerCase(), name: name.slice(0, 40), cls: (el.className || '').toString().slice(0, 40),
                  width: Math.round(box.width), height: Math.round(box.height)});
    }
  }
  return small;
}
