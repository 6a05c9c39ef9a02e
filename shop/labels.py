"""What shoppers read: display names for the catalogue's attributes and for the raw dataset
values they hold ("Tshirts" → "T-shirts", "Sub category" → "Category"). The database keeps
the dataset's values (filters, URLs and the JSON API use them); only pages translate them,
through the ``shop_labels`` template filters or these functions."""

from __future__ import annotations

# Attribute (query-string parameter) → the name shoppers read. shop.attributes keeps the
# staff-side names; these are the storefront's.
ATTRIBUTE_LABELS: dict[str, str] = {
    "gender": "Gender",
    "master": "Department",
    "sub": "Category",
    "type": "Product type",
    "colour": "Colour",
    "usage": "Occasion",
    "season": "Season",
}

# Facets kept out of the shopper's sidebar (the parameter still filters when given).
HIDDEN_FACETS: frozenset[str] = frozenset({"season"})

# Dataset value → shopper's name, where they differ, one map per attribute (query-string
# parameter): the same word can be a category and a colour ("Skin": skin care, and a skin-tone
# colour). Values not listed show as they are.
ARTICLE_TYPE_LABELS: dict[str, str] = {
    "Tshirts": "T-shirts",
    "Lounge Tshirts": "Lounge T-shirts",
    "Innerwear Vests": "Vests",
    "Night suits": "Night suits",
    "Key chain": "Key chains",
    "Mens Grooming Kit": "Men’s grooming kits",
    "Bra": "Bras",
    "Trunk": "Trunks",
    "Hat": "Hats",
    "Ring": "Rings",
    "Bangle": "Bangles",
    "Pendant": "Pendants",
    "Bracelet": "Bracelets",
    "Robe": "Robes",
    "Compact": "Compacts",
    "Headband": "Headbands",
    "Lipstick": "Lipsticks",
    "Deodorant": "Deodorants",
    "Ties and Cufflinks": "Ties & cufflinks",
    "Salwar and Dupatta": "Salwar & dupatta",
    "Foundation and Primer": "Foundation & primer",
    "Highlighter and Blush": "Highlighter & blush",
    "Kajal and Eyeliner": "Kajal & eyeliner",
    "Perfume and Body Mist": "Perfume & body mist",
    "Body Wash and Scrub": "Body wash & scrub",
    "Face Scrub and Exfoliator": "Face scrub & exfoliator",
    "Face Serum and Gel": "Face serum & gel",
    "Face Wash and Cleanser": "Face wash & cleanser",
    "Mask and Peel": "Masks & peels",
}
SUB_CATEGORY_LABELS: dict[str, str] = {
    "Apparel Set": "Sets",
    "Dress": "Dresses",
    "Sandal": "Sandals",
    "Saree": "Sarees",
    "Eyes": "Eye makeup",
    "Lips": "Lip makeup",
    "Nails": "Nail care",
    "Skin": "Skin care",
    "Loungewear and Nightwear": "Loungewear & nightwear",
    "Bath and Body": "Bath & body",
    "Topwear": "Tops & shirts",
    "Bottomwear": "Trousers, jeans & skirts",
}
COLOUR_LABELS: dict[str, str] = {"Grey Melange": "Grey marl", "NA": "Other"}
USAGE_LABELS: dict[str, str] = {"Smart Casual": "Smart casual", "NA": "Other"}
VALUE_LABELS: dict[str, dict[str, str]] = {
    "type": ARTICLE_TYPE_LABELS,
    "sub": SUB_CATEGORY_LABELS,
    "colour": COLOUR_LABELS,
    "usage": USAGE_LABELS,
}

GENDER_AUDIENCE: dict[str, str] = {"Men": "men", "Women": "women", "Boys": "boys", "Girls": "girls"}


def attribute_label(param: str, default: str = "") -> str:
    """The shopper's name of the attribute behind this query-string parameter."""
    return ATTRIBUTE_LABELS.get(param, default or param.replace("_", " ").capitalize())


# Without an attribute (pass it), a value is looked up in these maps in turn: cards and pages
# name a product's type and colour; sub categories ("Skin" → "Skin care") need "sub".
_UNQUALIFIED_ORDER = ("type", "colour", "usage")


def value_label(value: object, attribute: str = "") -> str:
    """The shopper's name of a dataset value of this attribute (its query-string parameter:
    "type", "sub", "colour"...): ("Tshirts", "type") → "T-shirts"; ("Skin", "colour") → "Skin";
    ("Skin", "sub") → "Skin care"."""
    text = "" if value is None else str(value)
    if attribute:
        return VALUE_LABELS.get(attribute, {}).get(text, text)
    for name in _UNQUALIFIED_ORDER:
        if text in VALUE_LABELS[name]:
            return VALUE_LABELS[name][text]
    return text


def more_like_heading(article_type: str, gender: str) -> str:
    """ "More T-shirts for men" (no audience for unisex products)."""
    audience = GENDER_AUDIENCE.get(gender)
    kind = value_label(article_type, "type")
    return f"More {kind} for {audience}" if audience else f"More {kind}"
