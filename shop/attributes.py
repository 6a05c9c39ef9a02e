"""The product attributes shoppers filter on, listed once: the catalogue's facets, the
"find similar" refinements, the photo-search filters, the search index's filter fields,
their forms and templates all come from ``ATTRIBUTES``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    field: str  # Product field
    param: str  # query-string parameter
    label: str  # what shoppers read
    # Whether visual search can restrict results to a value of it (refinements, filters).
    searchable: bool = True

    @property
    def refinement_param(self) -> str:
        """The "find similar" toggle that keeps the product's own value."""
        return f"same_{self.param}"

    @property
    def refinement_label(self) -> str:
        return f"Same {self.label.lower()}"


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("gender", "gender", "Gender"),
    Attribute("master_category", "master", "Category"),
    Attribute("sub_category", "sub", "Sub category"),
    Attribute("article_type", "type", "Article type"),
    Attribute("base_colour", "colour", "Colour"),
    Attribute("season", "season", "Season", searchable=False),
    Attribute("usage", "usage", "Usage", searchable=False),
)
SEARCHABLE_ATTRIBUTES: tuple[Attribute, ...] = tuple(a for a in ATTRIBUTES if a.searchable)
# Product fields a similarity search can be restricted to.
SEARCHABLE_FIELDS: tuple[str, ...] = tuple(a.field for a in SEARCHABLE_ATTRIBUTES)
# Whether any size of the product has stock: not a column (it is read from the sizes), but a
# search can be restricted to it like an attribute ("in stock only").
STOCK_FIELD = "in_stock"
