"""The attributes of a test product: the ``make_product`` fixture's defaults and the staff
"add product" form."""

from __future__ import annotations

# A red men's T-shirt for summer: what a made-up product is unless a test says otherwise.
PRODUCT_ATTRIBUTES: dict[str, str] = {
    "gender": "Men",
    "master_category": "Apparel",
    "sub_category": "Topwear",
    "article_type": "Tshirts",
    "base_colour": "Red",
    "season": "Summer",
    "usage": "Casual",
}


def admin_product_form(image: object, **overrides: object) -> dict[str, object]:
    """The admin's "add product" form, filled in, with ``image`` as the upload."""
    data: dict[str, object] = {
        "name": "Staff Added Red Tshirt",
        "external_id": "",
        "price": "499.00",
        "is_active": "on",
        "image": image,
        **PRODUCT_ATTRIBUTES,
        "year": "2024",
        # The sizes inline (shop.admin.ProductVariantInline): none.
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        # The more images inline (shop.admin.ProductImageInline): none.
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data
