"""Tap targets on a page, measured in the browser (Playwright): every visible control a finger
presses (links, buttons, inputs, selects, summaries, labels of hidden inputs) that is smaller
than 44 × 44 CSS px. Links inside running text (a sentence in a paragraph) are the one
exception, as in WCAG 2.5.5's "inline" rule: they are as tall as the text around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MINIMUM = 44

# One element per control: what it is, its text, its box. Hidden controls (display:none, no box,
# visibility:hidden, an input laid over its label with opacity 0 that the label's box covers)
# are measured through what the finger actually presses.
_SMALL_TARGETS_JS = (Path(__file__).with_suffix(".js")).read_text().split("\n", 1)[1]


def small_tap_targets(page: Any, minimum: int = MINIMUM) -> list[dict[str, Any]]:
    """The controls on ``page`` smaller than ``minimum`` × ``minimum`` CSS px."""
    return page.evaluate(_SMALL_TARGETS_JS, minimum)
