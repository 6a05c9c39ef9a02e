"""The API's request and response shapes (what /api/v1/openapi.json publishes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, field_validator

# Database ids: positive, within PostgreSQL's bigint.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
BagToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The bag's token, or “current” for the browser session's bag.",
    ),
]
# The keys of shop.selectors.SORTS (a test holds them equal).
Sort = Literal["relevance", "newest", "name", "-name", "price", "-price", "discount"]
Price = Annotated[str, Field(pattern=r"^\d+\.\d{2}$", examples=["799.00"])]


def without_nul(value: str) -> str:
    """Text as the database can hold it (PostgreSQL text has no NUL)."""
    return value.replace("\x00", "")


class FieldError(Schema):
    field: str = Field(description="Where: e.g. “query.page” or “body.quantity”.")
    message: str


class ErrorBody(Schema):
    message: str = Field(description="What went wrong, safe to show to a shopper.")
    status: int = Field(description="The HTTP status again.")
    fields: list[FieldError] | None = Field(None, description="With 400 for invalid input: which fields and why.")


class ErrorOut(Schema):
    """Every failure, whatever its status: ``{"error": {"message", "status"}}``."""

    error: ErrorBody


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(statuses, ErrorOut)


# --- Catalogue


class ProductFilters(Schema):
    """The storefront's filters: several values of one attribute combine with OR, attributes
    with AND."""

    q: str = Field("", max_length=100, description="Text search (names, categories, colours; typos forgiven).")
    gender: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20)
    master: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20, description="Category.")
    sub: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20, description="Sub category.")
    type: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20, description="Article type.")
    colour: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20)
    season: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20)
    usage: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=20)
    min_price: Annotated[float, Field(ge=0, lt=1e8)] | None = None
    max_price: Annotated[float, Field(ge=0, lt=1e8)] | None = None
    sale: bool = Field(False, description="Only products on sale (a compare-at price above the price).")

    @field_validator("q")
    @classmethod
    def _text(cls, value: str) -> str:
        return without_nul(value)

    @field_validator("gender", "master", "sub", "type", "colour", "season", "usage")
    @classmethod
    def _values(cls, values: list[str]) -> list[str]:
        return [without_nul(v) for v in values]


class Size(Schema):
    id: int = Field(description="The variant id: what the bag takes.")
    size: str
    stock: int
    in_stock: bool


class ProductSummary(Schema):
    id: int
    external_id: str | None
    name: str
    gender: str
    master_category: str
    sub_category: str
    article_type: str
    colour: str
    season: str
    year: int | None
    usage: str
    price: Price | None
    compare_at_price: Price | None = Field(description="On sale: the former price, above ``price``; else null.")
    discount_percent: int | None = Field(description="On sale: the discount in whole percent; else null.")
    currency: str
    in_stock: bool
    image_url: str
    url: str = Field(description="The product's page in the shop.")


class ProductDetail(ProductSummary):
    full_image_url: str
    sizes: list[Size]


class ProductPage(Schema):
    count: int = Field(description="Products matching, on all pages.")
    page: int
    pages: int
    page_size: int
    sort: str
    results: list[ProductSummary]


class FacetValue(Schema):
    value: str
    label: str
    count: int
    selected: bool


class Facet(Schema):
    param: str = Field(description="The query parameter that filters on it.")
    label: str
    values: list[FacetValue]


class Facets(Schema):
    count: int
    facets: list[Facet]


# --- Visual search


class SimilarItem(Schema):
    id: int
    external_id: str | None
    name: str
    article_type: str
    colour: str
    price: Price | None
    compare_at_price: Price | None = Field(description="On sale: the former price, above ``price``; else null.")
    discount_percent: int | None
    currency: str
    in_stock: bool
    score: float
    image_url: str
    url: str
    exact: bool = Field(
        False, description="Photo search: this is the photographed product itself (the answer's exact_match)."
    )


class SimilarOut(Schema):
    results: list[SimilarItem]
    filters: dict[str, Any] = Field(description="The restrictions the search applied.")
    model_version: str


class PhotoItemOut(Schema):
    box: list[float] = Field(description="The item's box: x0, y0, x1, y1 in 0–1 of the photo.")
    score: float | None = Field(description="How sure the item localiser is (0–1); null for a drawn or default box.")
    source: str = Field(description='"detected" by the item localiser, "drawn" by the shopper, or the "default" box.')
    close_match: bool = Field(description="False when nothing looks very close to this item.")
    exact_match: SimilarItem | None = Field(
        None, description="This item's exact match (the photographed product, judged on this item); else null."
    )
    results: list[SimilarItem]


class PhotoSearchOut(SimilarOut):
    token: str | None = Field(description="Refines this search without the photo (``q``); null when not kept.")
    token_expires_in: int | None
    box: list[float] | None = Field(description="The region searched: x0, y0, x1, y1 in 0–1.")
    close_match: bool = Field(description="False when nothing looks very close.")
    exact_match: SimilarItem | None = Field(
        None,
        description=(
            "The photographed product itself, when photo search is sure of it (its score reaches"
            " VISUALSEARCH_PHOTO_EXACT_THRESHOLD), found with every filter but in_stock: a sold-out"
            " exact match is given here (in_stock false) even when in_stock hides it from results."
            " Null when no product is that close. The selected item's (``item``)."
        ),
    )
    item: int = Field(
        0, description="Which of ``items`` the ``results``, ``box`` and ``exact_match`` are (0: the first)."
    )
    items: list[PhotoItemOut] = Field(
        default_factory=list,
        description="Every item found in the photo, most confident first, each with its own results.",
    )


class PhotoRefineIn(Schema):
    q: str = Field(min_length=1, max_length=200, description="The token of an earlier photo search.")
    item: int = Field(0, ge=0, le=99, description="Which item of the photo to rank first (0: the most confident).")
    k: int = Field(5, ge=1, le=1000)
    gender: str = Field("", max_length=50)
    master: str = Field("", max_length=50)
    sub: str = Field("", max_length=50)
    type: str = Field("", max_length=50)
    colour: str = Field("", max_length=50)
    in_stock: bool = False
    cheaper: bool = Field(False, description="Only products priced below the best match (which is left out).")
    max_price: float | None = Field(None, ge=0, lt=1e8, description="Only products priced at most this.")
    sort: Literal["look", "price", "-price"] = Field("look", description="look: best match first; price / -price.")


# --- Bag


class BagLineOut(Schema):
    id: int = Field(description="The line id: what update and remove take.")
    product_id: int
    name: str
    variant_id: int
    size: str
    quantity: int
    unit_price: Price | None
    line_total: Price
    price_was: Price | None = Field(description="The price when added, when it changed since.")
    problem: str = Field(description="Why it cannot be bought as it is; empty when it can.")
    image_url: str
    sizes: list[Size]


class BagOut(Schema):
    token: str | None = Field(description="The bag's token (token bags only).")
    count: int = Field(description="Units in the bag.")
    subtotal: Price
    currency: str
    has_problems: bool
    lines: list[BagLineOut]


class BagAddIn(Schema):
    variant_id: Id
    quantity: int = Field(1, ge=1, le=1000)


class BagCreateIn(Schema):
    lines: list[BagAddIn] = Field([], max_length=50, description="Sizes to put in the new bag at once.")


class BagLineUpdateIn(Schema):
    quantity: int = Field(ge=0, le=1000, description="0 removes the line.")
    variant_id: Id | None = Field(None, description="Another size of the same product.")


# --- Suggestions


class SuggestionOut(Schema):
    kind: Literal["type", "brand", "colour", "product"] = Field(description="What is suggested.")
    kind_label: str = Field(description="The kind, for shoppers: “Product type”, “Brand”, “Colour”, “Product”.")
    label: str = Field(description="The suggestion, as shoppers read it.")
    url: str = Field(description="The storefront page it opens (a filtered catalogue, a search or a product).")
    count: int | None = Field(description="How many products it holds (none for a product).")


class SuggestionsOut(Schema):
    query: str
    suggestions: list[SuggestionOut]
