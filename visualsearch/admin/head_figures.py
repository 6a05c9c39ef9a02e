"""The figures the similarity heads page shows: each head's held-out find-similar figures and
photo-search figures, the raw backbone's beside them, and how the active head's photo space was
chosen. Plain functions over ``SimilarityHead.metrics`` / ``params``; a figure a head was not
measured on is ``None``."""

from __future__ import annotations

from collections.abc import Sequence

from visualsearch.models import SimilarityHead

# Find similar on the held-out split (metrics["eval"] for the head, metrics["raw"] for the
# raw backbone): (key, label).
HEAD_FIGURES = (
    ("p5_type", "P@5 type"),
    ("p1_type", "P@1 type"),
    ("p5_sub", "P@5 sub category"),
    ("p5_colour", "P@5 colour"),
    ("p5_type_colour", "P@5 type∧colour"),
    ("p5_type_gender", "P@5 type∧gender"),
)
# Photo search on held-out shopper photos (metrics["photos"][profile][head or raw]).
PHOTO_FIGURES = (
    ("standard", "self_at_1", "Photo self@1"),
    ("standard", "self_at_5", "Photo self@5"),
    ("hard", "self_at_1", "Hard photo self@1"),
    ("hard", "self_at_5", "Hard photo self@5"),
)

Figures = list[tuple[str, float | None]]


def learned_photo_space(head: SimilarityHead | None) -> str:
    """How the head's photo space was chosen ("" when it has none)."""
    described = str((head.params or {}).get("photo_space", "")) if head is not None else ""
    return described if described.startswith("shrinkage") else ""


def photo_figures(head: SimilarityHead | None, which: str) -> Figures:
    """Photo search's figures of ``head`` (``which``: "head" or "raw")."""
    photos = (head.metrics.get("photos") or {}) if head is not None else {}
    return [(label, (photos.get(profile) or {}).get(which, {}).get(key)) for profile, key, label in PHOTO_FIGURES]


def head_figure_rows(heads: Sequence[SimilarityHead]) -> list[tuple[SimilarityHead, Figures]]:
    """Each head with its own figures: find similar's, then photo search's."""
    return [
        (
            head,
            [(label, head.metrics.get("eval", {}).get(key)) for key, label in HEAD_FIGURES]
            + photo_figures(head, "head"),
        )
        for head in heads
    ]


def raw_figures(heads: Sequence[SimilarityHead]) -> Figures:
    """The raw backbone's figures, as measured with the newest head (none without a head)."""
    newest = heads[0] if heads else None
    raw = newest.metrics.get("raw", {}) if newest is not None else {}
    return [(label, raw.get(key)) for key, label in HEAD_FIGURES] + photo_figures(newest, "raw")


def figures_summary(head: SimilarityHead) -> str:
    """One line for the list: each find-similar figure, the head's / the raw backbone's."""
    own, raw = head.metrics.get("eval", {}), head.metrics.get("raw", {})
    return " · ".join(f"{label} {own.get(key, 0):.3f} / {raw.get(key, 0):.3f}" for key, label in HEAD_FIGURES)
