"""Find similar, photo search and their JSON API: thin views over visualsearch.query."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ApplicationError, InvalidInput, NotFound, json_error
from core.ratelimit import ratelimit
from shop import labels
from shop.attributes import SEARCHABLE_ATTRIBUTES
from shop.conf import shop_settings
from shop.models import Product
from shop.selectors import product_get
from visualsearch.conf import vs_settings
from visualsearch.forms import PhotoSearchForm
from visualsearch.index import get_index
from visualsearch.query.errors import QueryExpired, UploadRejected, UploadTooLarge
from visualsearch.query.params import clamp_k, explicit_filters
from visualsearch.query.photo import FULL_BOX, Box, parse_box, parse_item, validate_upload_size
from visualsearch.query.pricing import (
    CHEAPER_LABEL,
    CHEAPER_PARAM,
    LOOK,
    MAX_PRICE_PARAM,
    MIN_PRICE_PARAM,
    SORT_PARAM,
    SORTS,
    PriceRule,
    price_rule,
)
from visualsearch.query.similar import SimilarResult, similar_to_photo, similar_to_product
from visualsearch.selectors import (
    IN_STOCK_LABEL,
    IN_STOCK_PARAM,
    PHOTO_FILTERS,
    REFINEMENTS,
    SimilarProduct,
    refinement_on,
)
from visualsearch.signals import visual_search_answered

# Errors Django raises while parsing a malformed or abusive request body.
_BAD_BODY = (MultiPartParserError, BadRequest, SuspiciousOperation)

# Multipart overhead allowed on top of the photo itself.
_FORM_OVERHEAD = 64 * 1024


def _declared_too_large(request: HttpRequest) -> bool:
    """Refuse oversize uploads from the Content-Length header, before reading the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > vs_settings.MAX_UPLOAD_BYTES + _FORM_OVERHEAD


def _too_large_message() -> str:
    return f"The photo is too large; the limit is {vs_settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB."


# The find-similar page's checkboxes: "same …" for each searchable attribute, then stock.
_REFINEMENT_LABELS = [*((key, label) for key, (_field, label) in REFINEMENTS.items()), (IN_STOCK_PARAM, IN_STOCK_LABEL)]


def _page_toggles(request: HttpRequest) -> dict[str, str]:
    """The find-similar page's toggles. "In stock only" is on for shoppers until they switch it
    off: the page's form says it was submitted (``refined``), a first visit does not."""
    toggles = request.GET.dict()
    if "refined" not in toggles:
        toggles.setdefault(IN_STOCK_PARAM, "on")
    return toggles


def refinement_label(param: str, value: str) -> str:
    """A refinement named with the product's own value: "Only Women", "Same colour (Navy Blue)",
    "Same product type (T-shirts)" (display names from shop.labels)."""
    shown = labels.value_label(value, param)
    if param == "gender":
        return f"Only {shown}"
    return f"Same {labels.attribute_label(param).lower()} ({shown})"


def _refinement_labels(product: Product) -> list[tuple[str, str]]:
    """The find-similar page's toggles and their labels: one per attribute the product has a
    value of, then "in stock only"."""
    named = [
        (a.refinement_param, refinement_label(a.param, getattr(product, a.field)))
        for a in SEARCHABLE_ATTRIBUTES
        if a.refinement_param in REFINEMENTS and getattr(product, a.field, None)
    ]
    return [*named, *((key, label) for key, label in _REFINEMENT_LABELS if key not in REFINEMENTS)]


@require_GET
def similar_page(request: HttpRequest, product_id: int) -> HttpResponse:
    product = product_get(product_id, with_sizes=False)  # the query product: no sizes shown
    if product is None:
        raise Http404("No such product.")
    toggles = _page_toggles(request)
    cheaper = refinement_on(toggles.get(CHEAPER_PARAM))
    context: dict[str, object] = {
        "product": product,
        "refinements": [(key, label, refinement_on(toggles.get(key))) for key, label in _refinement_labels(product)],
        "cheaper": (CHEAPER_PARAM, CHEAPER_LABEL, cheaper) if product.price is not None else None,
        "sorts": SORTS.items(),
        "sort": toggles.get("sort") if toggles.get("sort") in SORTS else LOOK,
    }
    try:
        rule = _page_price_rule(toggles)
        context["result"] = result = similar_to_product(product, toggles=toggles, price=rule)
        visual_search_answered.send(sender=None, request=request, kind="similar", product_id=product.pk, result=result)
    except ApplicationError as exc:
        context["message"] = exc.message
    return render(request, "visualsearch/similar.html", context)


def _page_price_rule(params: dict[str, str]) -> PriceRule | None:
    """The page's price rule: "Similar, but cheaper" and the sort (only those: the page has no
    price bounds). None when neither is asked."""
    rule = price_rule({key: params[key] for key in (CHEAPER_PARAM, "sort") if key in params})
    return rule if rule.restricts or rule.sort != LOOK else None


def _filter_choices() -> dict[str, list[str]]:
    """Values the photo search can be restricted to: those of the searchable products, from
    the index in memory (no database query)."""
    values = get_index().filter_values()
    return {param: values[field_name] for param, field_name in PHOTO_FILTERS.items()}


def _form_with_error(choices: dict[str, list[str]], message: str) -> PhotoSearchForm:
    """An empty form showing one error, for an upload refused before it was read (an
    unbound form has no cleaned_data, which add_error needs)."""
    form = PhotoSearchForm(choices=choices)
    form.full_clean()
    form.cleaned_data = {}
    form.add_error(None, message)
    return form


# The CSRF check reads the whole body (it looks for the token in the form), so it runs
# after the Content-Length check: an oversize upload is refused before it is read.
@ratelimit("photo_search", methods=("POST",))
@csrf_exempt
@require_http_methods(["GET", "POST"])
def photo_search_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _declared_too_large(request):
        form = _form_with_error(_filter_choices(), _too_large_message())
        return render(request, "visualsearch/photo_search.html", {"form": form}, status=413)
    return _photo_search_page(request)


def _box_style(box: Box | None) -> str:
    """The searched region drawn over the preview (percentages of the photo)."""
    if box is None or box == FULL_BOX:
        return ""
    x0, y0, x1, y1 = (100 * v for v in box)
    return f"left:{x0:.2f}%;top:{y0:.2f}%;width:{x1 - x0:.2f}%;height:{y1 - y0:.2f}%"


def _item_rows(result: SimilarResult, request: HttpRequest) -> list[dict[str, object]]:
    """The items found in the photo, for the page: each one's outline (percentages), the link
    that shows its results (the token, the current refinements and price rule, ``item``), its
    label, its results and its exact match (with where "Notify me" comes back to); the selected
    one first, then the others most confident first. Empty for a photo searched as one region
    (a drawn or default box): the page shows one grid as before."""
    if len(result.items) < 2 and not (result.items and result.items[0].source == "detected"):
        return []
    query = request.GET.copy() if request.method == "GET" else QueryDict(mutable=True)
    if request.method == "POST":
        for name in (*PHOTO_FILTERS, IN_STOCK_PARAM, CHEAPER_PARAM, MAX_PRICE_PARAM, MIN_PRICE_PARAM, SORT_PARAM):
            if request.POST.get(name):
                query[name] = request.POST[name]
    query["q"] = result.token
    rows = []
    for number, entry in enumerate(result.items):
        query["item"] = str(number)
        rows.append(
            {
                "number": number + 1,
                "style": _box_style(entry.box) or "left:0;top:0;width:100%;height:100%",
                "url": f"?{query.urlencode()}#results" if result.token else "",
                # Where "Notify me" on this item's exact match comes back to.
                "path": f"{reverse('visualsearch:photo_search')}?{query.urlencode()}" if result.token else "",
                "exact_id": f"item-{number + 1}-exact",
                "selected": number == result.selected_item,
                "item": entry,
            }
        )
    return sorted(rows, key=lambda row: not row["selected"])


@csrf_protect
def _photo_search_page(request: HttpRequest) -> HttpResponse:
    """Search by photo. A POST searches an uploaded photo (its ``box``, by default the photo
    with uniform borders trimmed); a GET with ``q`` (the token the results carry) re-ranks
    that search with other filters, without the photo and without the model."""
    choices = _filter_choices()
    context: dict[str, object] = {}
    status = 200
    if request.method == "POST":
        try:
            form = PhotoSearchForm(request.POST, request.FILES, choices=choices)
        except _BAD_BODY:
            form = _form_with_error(choices, "The upload could not be read; please choose the photo again.")
            return render(request, "visualsearch/photo_search.html", {"form": form}, status=400)
    elif request.GET.get("q"):
        form = PhotoSearchForm(request.GET, choices=choices)
    else:
        form = PhotoSearchForm(choices=choices)
    if form.is_bound:
        if form.is_valid():
            upload = form.cleaned_data["image"]
            filters = explicit_filters(form.cleaned_data)
            rule = form.price_rule()
            try:
                if upload:
                    validate_upload_size(upload.size)
                    result = similar_to_photo(upload.read(), box=form.cleaned_data["box"], filters=filters, price=rule)
                    visual_search_answered.send(
                        sender=None, request=request, kind="photo", product_id=None, result=result
                    )
                else:
                    result = similar_to_photo(
                        token=form.cleaned_data["q"], filters=filters, item=form.cleaned_data.get("item"), price=rule
                    )
                context["result"] = result
                context["box_style"] = _box_style(result.box)
                context["item_rows"] = _item_rows(result, request)
                context["refine_url"] = _refine_url(result, form)
            except QueryExpired as exc:
                context["expired"] = exc.message
                status = exc.status
            except ApplicationError as exc:
                form.add_error("image" if isinstance(exc, UploadRejected) else None, exc.message)
                status = exc.status
        else:
            status = 400
    context["form"] = form
    return render(request, "visualsearch/photo_search.html", context, status=status)


def _refine_url(result: SimilarResult, form: PhotoSearchForm) -> str:
    """This search again without the photo (its token, filters and item): where "Notify me"
    on the exact match comes back to."""
    if not result.token:
        return ""
    params = {"q": result.token}
    if result.selected_item:
        params["item"] = str(result.selected_item)
    params |= {key: str(form.cleaned_data[key]) for key in PHOTO_FILTERS if form.cleaned_data.get(key)}
    if refinement_on(form.cleaned_data.get(IN_STOCK_PARAM)):
        params[IN_STOCK_PARAM] = "on"
    return f"{reverse('visualsearch:photo_search')}?{urlencode(params)}"


def _api_methods(*methods: str) -> Callable[[Callable[..., JsonResponse]], Callable[..., JsonResponse]]:
    """Like require_http_methods, but a wrong method gets a JSON 405 like every API error."""

    def decorator(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
            if request.method not in methods:
                response = json_error(f"Use {' or '.join(methods)} for this endpoint.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _products_json(request: HttpRequest, results: list[SimilarProduct]) -> list[dict[str, object]]:
    return [
        {
            "id": item.product.pk,
            "external_id": item.product.external_id,
            "name": item.product.name,
            "article_type": item.product.article_type,
            "colour": item.product.base_colour,
            "price": str(item.product.price) if item.product.price is not None else None,
            "currency": shop_settings.CURRENCY,
            "in_stock": item.product.in_stock,
            "score": round(item.score, 6),
            "image_url": request.build_absolute_uri(item.product.card_image_url),
            "url": request.build_absolute_uri(item.product.get_absolute_url()),
        }
        for item in results
    ]


def _exact_json(request: HttpRequest, exact: SimilarProduct | None) -> dict[str, object] | None:
    return _products_json(request, [exact])[0] if exact is not None else None


def _result_json(request: HttpRequest, result: SimilarResult, *, photo: bool = False) -> JsonResponse:
    extra: dict[str, object] = {}
    if photo:
        # The token refines this search (``q``) without the photo until it expires; the
        # box is the region searched; close_match is False when nothing looks very close.
        # ``exact_match``: the photographed product itself when photo search is sure of it (as
        # in /api/v1/), else null. ``items``: every item found in the photo, most confident
        # first, each with its box, the localiser's score (null for a drawn or default box),
        # its exact match and its own results; ``results`` are the selected item's (``item``,
        # default the first).
        extra = {
            "token": result.token or None,
            "token_expires_in": int(vs_settings.QUERY_TOKEN_SECONDS) if result.token else None,
            "box": list(result.box) if result.box is not None else None,
            "close_match": result.close_match,
            "exact_match": _exact_json(request, result.exact_match),
            "item": result.selected_item,
            "items": [
                {
                    "box": list(entry.box),
                    "score": entry.score,
                    "source": entry.source,
                    "close_match": entry.close_match,
                    "exact_match": _exact_json(request, entry.exact_match),
                    "results": _products_json(request, entry.results),
                }
                for entry in result.items
            ],
        }
    return JsonResponse(
        {
            **extra,
            "results": _products_json(request, result.results),
            "filters": result.filters,
            "model_version": result.model_version,
        }
    )


def _api_price_rule(params: Mapping[str, object]) -> PriceRule | None:
    """``cheaper``, ``max_price``, ``min_price`` and ``sort`` (InvalidInput when malformed)."""
    rule = price_rule(params)
    return rule if rule.restricts or rule.sort != LOOK else None


# API views raise core.errors.ApplicationError subclasses (bad k, unknown product, refused
# upload, search unavailable); core.middleware.ApplicationErrorMiddleware answers them as JSON.


@ratelimit("similar_api", methods=("GET",))
@_api_methods("GET")
def api_similar(request: HttpRequest, product_id: int) -> JsonResponse:
    k = clamp_k(request.GET.get("k"))
    product = product_get(product_id, with_sizes=False)  # the query product: no sizes shown
    if product is None:
        raise NotFound(f"No active product with id {product_id}.")
    result = similar_to_product(product, k=k, toggles=request.GET, price=_api_price_rule(request.GET))
    visual_search_answered.send(sender=None, request=request, kind="similar", product_id=product.pk, result=result)
    return _result_json(request, result)


@ratelimit("photo_search", methods=("POST",))
@csrf_exempt  # a read-only search: no session state changes, callable from any client
@_api_methods("POST")
def api_photo_search(request: HttpRequest) -> JsonResponse:
    if _declared_too_large(request):
        raise UploadTooLarge(_too_large_message())
    try:
        upload = request.FILES.get("image")
        post = request.POST
    except _BAD_BODY:
        raise InvalidInput(
            "The request body could not be read: send multipart/form-data with the field 'image'."
        ) from None
    k = clamp_k(request.GET.get("k") or post.get("k"))
    params = {**request.GET.dict(), **post.dict()}
    token = str(params.get("q") or "")
    if upload is None and not token:
        raise InvalidInput(
            "Send the photo as multipart/form-data in the field 'image', or the token of an earlier search as 'q'."
        )
    box = parse_box(params.get("box"))
    filters = explicit_filters(params)
    item = parse_item(params.get("item"))
    rule = _api_price_rule(params)
    if upload is not None:
        validate_upload_size(upload.size)
        result = similar_to_photo(upload.read(), box=box, k=k, filters=filters, preview=False, item=item, price=rule)
        visual_search_answered.send(sender=None, request=request, kind="photo", product_id=None, result=result)
    else:
        result = similar_to_photo(token=token, k=k, filters=filters, preview=False, item=item, price=rule)
    return _result_json(request, result, photo=True)
