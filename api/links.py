"""OpenAPI links between the operations: how an answer's values feed the next call (search →
product → similar → a bag with its first size → change → remove). Clients and the stateful
contract tests follow them."""

from __future__ import annotations

from typing import Any


def _links(status: int, **links: dict[str, Any]) -> dict[str, Any]:
    # ninja keys responses by int: the same key merges the links into the documented answer.
    return {"responses": {status: {"links": links}}}


def _to(operation_id: str, description: str, **fields: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, **fields}


_FIRST_RESULT = {"product_id": "$response.body#/results/0/id"}

PRODUCTS_LISTED = _links(
    200,
    FirstProduct=_to("api_endpoints_catalogue_product_detail", "The first product.", parameters=_FIRST_RESULT),
    SimilarToFirst=_to(
        "api_endpoints_search_product_similar", "Products like the first one.", parameters=_FIRST_RESULT
    ),
)
SIMILAR_FOUND = _links(
    200,
    MostSimilar=_to("api_endpoints_catalogue_product_detail", "The closest product.", parameters=_FIRST_RESULT),
)
PHOTO_SEARCHED = _links(
    200,
    BestMatch=_to("api_endpoints_catalogue_product_detail", "The best match.", parameters=_FIRST_RESULT),
    SimilarToBestMatch=_to(
        "api_endpoints_search_product_similar", "Products like the best match.", parameters=_FIRST_RESULT
    ),
    Refine=_to(
        "api_endpoints_search_photo_refine",
        "The same search with other filters, without the photo.",
        parameters={"q": "$response.body#/token"},
    ),
)
PRODUCT_READ = _links(
    200,
    BagWithFirstSize=_to(
        "api_endpoints_bag_bag_create",
        "A new bag holding the product's first size.",
        requestBody={"lines": [{"variant_id": "$response.body#/sizes/0/id", "quantity": 1}]},
    ),
    Similar=_to(
        "api_endpoints_search_product_similar",
        "Products like this one.",
        parameters={"product_id": "$response.body#/id"},
    ),
)
_THIS_BAG = {"token": "$response.body#/token"}
_FIRST_LINE = {"token": "$request.path.token", "line_id": "$response.body#/lines/0/id"}
BAG_CREATED = _links(
    201,
    TheBag=_to("api_endpoints_bag_bag_get", "The new bag.", parameters=_THIS_BAG),
    AddToIt=_to("api_endpoints_bag_bag_line_add", "Add a size to it.", parameters=_THIS_BAG),
    ChangeFirstLine=_to(
        "api_endpoints_bag_bag_line_update",
        "Change its first line.",
        parameters={"token": "$response.body#/token", "line_id": "$response.body#/lines/0/id"},
    ),
)
LINE_ADDED = _links(
    201,
    ChangeIt=_to("api_endpoints_bag_bag_line_update", "Change the line.", parameters=_FIRST_LINE),
    RemoveIt=_to("api_endpoints_bag_bag_line_remove", "Remove the line.", parameters=_FIRST_LINE),
    TheBag=_to("api_endpoints_bag_bag_get", "The bag.", parameters={"token": "$request.path.token"}),
)
