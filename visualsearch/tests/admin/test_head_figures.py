"""The similarity heads page's figures (visualsearch.admin.head_figures), on heads not saved:
no database, no model."""

from __future__ import annotations

from visualsearch.admin.head_figures import (
    HEAD_FIGURES,
    PHOTO_FIGURES,
    figures_summary,
    head_figure_rows,
    learned_photo_space,
    photo_figures,
    raw_figures,
)
from visualsearch.models import SimilarityHead

MEASURED = SimilarityHead(
    metrics={
        "eval": {"p5_type": 0.8, "p5_colour": 0.6},
        "raw": {"p5_type": 0.5, "p5_colour": 0.4},
        "photos": {"standard": {"head": {"self_at_1": 0.9}, "raw": {"self_at_1": 0.3, "self_at_5": 0.5}}},
    },
    params={"photo_space": "shrinkage 0.25, 600 dims"},
)
BARE = SimilarityHead(metrics={}, params={"photo_space": "not used: the raw vectors do as well"})


def test_each_head_gets_find_similar_then_photo_figures_none_where_not_measured() -> None:
    ((head, figures),) = head_figure_rows([MEASURED])
    assert head is MEASURED
    assert [label for label, _ in figures] == [label for _, label in HEAD_FIGURES] + [
        label for *_, label in PHOTO_FIGURES
    ]
    values = dict(figures)
    assert (values["P@5 type"], values["P@5 colour"], values["P@1 type"]) == (0.8, 0.6, None)
    assert (values["Photo self@1"], values["Photo self@5"], values["Hard photo self@1"]) == (0.9, None, None)
    assert head_figure_rows([]) == []


def test_the_raw_backbone_figures_come_from_the_newest_head() -> None:
    values = dict(raw_figures([MEASURED, BARE]))
    assert (values["P@5 type"], values["Photo self@1"], values["Photo self@5"]) == (0.5, 0.3, 0.5)
    assert all(value is None for _, value in raw_figures([]))
    assert all(value is None for _, value in raw_figures([BARE, MEASURED]))


def test_photo_figures_and_the_learned_space() -> None:
    assert photo_figures(None, "head") == [(label, None) for *_, label in PHOTO_FIGURES]
    assert dict(photo_figures(MEASURED, "raw"))["Photo self@5"] == 0.5
    assert learned_photo_space(MEASURED) == "shrinkage 0.25, 600 dims"
    assert learned_photo_space(BARE) == ""  # not learned: the raw vectors serve photo search
    assert learned_photo_space(None) == ""


def test_the_one_line_summary_shows_head_over_raw() -> None:
    line = figures_summary(MEASURED)
    assert line.startswith("P@5 type 0.800 / 0.500 · P@1 type 0.000 / 0.000 ·")
    assert "P@5 colour 0.600 / 0.400" in line and line.count(" · ") == len(HEAD_FIGURES) - 1
