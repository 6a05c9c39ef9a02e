"""The figures the similarity heads page shows: each head's held-out find-similar figures and
photo-search figures, the raw backbone's beside them, and how the active head's photo space was
chosen. Plain functions over ``SimilarityHead.metrics`` / ``params``; a figure a head was not
measured on is ``None``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shop.models import Product
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
# self@k counts a same-picture twin as the photographed product; "strict" only the product.
PHOTO_FIGURES = (
    ("standard", "self_at_1", "Photo self@1"),
    ("standard", "strict_self_at_1", "Photo self@1 strict"),
    ("standard", "self_at_5", "Photo self@5"),
    ("standard", "strict_self_at_5", "Photo self@5 strict"),
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


# --- in plain words ---------------------------------------------------------------------------


def _of_five(value: float | None) -> str:
    return "—" if value is None else f"{5 * value:.1f}"


def _in_100(value: float | None) -> str:
    return "—" if value is None else f"{round(100 * value)}"


def plain_sentences(now: dict, was: dict | None, photo_now: dict, photo_was: dict | None) -> list[str]:
    """The figures as a shop owner reads them: lookalikes of the same kind out of 5, photos
    finding the product out of 100; "(was …)" with the figures they replace, when given."""

    def was_of_five(key: str) -> str:
        return f" (was {_of_five(was.get(key))})" if was and was.get(key) is not None else ""

    def was_in_100(key: str) -> str:
        return f" (was {_in_100(photo_was.get(key))})" if photo_was and photo_was.get(key) is not None else ""

    lines = []
    if now.get("p5_type") is not None:
        same_kind = _of_five(now["p5_type"])
        lines.append(f"Of 5 lookalikes, {same_kind} are the same kind of product{was_of_five('p5_type')}.")
    if now.get("p5_type_colour") is not None:
        lines.append(
            f"Of 5 lookalikes, {_of_five(now['p5_type_colour'])} are the same kind in the same colour"
            f"{was_of_five('p5_type_colour')}."
        )
    if now.get("p1_type") is not None:
        lines.append(
            f"The first lookalike is the same kind of product {_in_100(now['p1_type'])} times in 100"
            + (f" (was {_in_100(was.get('p1_type'))})" if was and was.get("p1_type") is not None else "")
            + "."
        )
    if photo_now.get("self_at_1") is not None:
        lines.append(
            f"A shopper's photo finds the product first {_in_100(photo_now['self_at_1'])} times in 100"
            f"{was_in_100('self_at_1')}, and among its 5 results {_in_100(photo_now.get('self_at_5'))} times"
            f"{was_in_100('self_at_5')}."
        )
    return lines


def head_photo(head: SimilarityHead | None, which: str = "head") -> dict:
    """The head's photo figures on the standard shopper photos ({} when not measured)."""
    if head is None:
        return {}
    return dict(((head.metrics.get("photos") or {}).get("standard") or {}).get(which) or {})


def head_sentences(head: SimilarityHead) -> list[str]:
    """A head's figures against what it was measured against when trained (the head then
    active, or the raw backbone)."""
    metrics = head.metrics or {}
    was = metrics.get("baseline") or metrics.get("raw")
    photo_was = metrics.get("baseline_photo") or head_photo(head, "raw")
    return plain_sentences(metrics.get("eval") or {}, was, head_photo(head), photo_was)


def serving_sentences(active: SimilarityHead | None, newest: SimilarityHead | None) -> list[str]:
    """What find similar and photo search do now: the active head against the raw backbone,
    or the raw backbone alone (as measured with the newest head)."""
    if active is not None:
        return plain_sentences(
            active.metrics.get("eval") or {},
            active.metrics.get("raw"),
            head_photo(active),
            head_photo(active, "raw"),
        )
    if newest is not None:
        return plain_sentences(newest.metrics.get("raw") or {}, None, head_photo(newest, "raw"), None)
    return []


@dataclass
class ExampleRow:
    """One held-out product with its 5 lookalikes before (the head then active, or the raw
    backbone) and after (the new head); ``same`` marks a lookalike of the same kind."""

    product: Product
    before: list[tuple[Product, bool]]
    after: list[tuple[Product, bool]]

    @property
    def same_before(self) -> int:
        return sum(same for _, same in self.before)

    @property
    def same_after(self) -> int:
        return sum(same for _, same in self.after)


def example_product_ids(head: SimilarityHead | None) -> set[int]:
    ids: set[int] = set()
    for example in (head.metrics.get("examples") or []) if head is not None else []:
        ids.update([example["product"], *example["before"], *example["after"]])
    return ids


def example_rows(head: SimilarityHead | None, products: Mapping[int, Product]) -> list[ExampleRow]:
    """The head's before/after examples with their products (``products``: by id); an example
    whose product is gone is left out, a lookalike that is gone too."""
    rows = []
    for example in (head.metrics.get("examples") or []) if head is not None else []:
        product = products.get(example["product"])
        if product is None:
            continue

        def found(ids: list[int], kind: str = product.article_type) -> list[tuple[Product, bool]]:
            return [(products[i], products[i].article_type == kind) for i in ids if i in products]

        rows.append(ExampleRow(product, found(example["before"]), found(example["after"])))
    return rows
