"""Find similar, photo search and their JSON API: thin views over visualsearch.search."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from shop.selectors import product_get
from visualsearch import search
from visualsearch.conf import vs_settings
from visualsearch.forms import PhotoSearchForm
from visualsearch.index import get_index
from visualsearch.selectors import PHOTO_FILTERS, REFINEMENTS, refinement_on

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


@require_GET
def similar_page(request: HttpRequest, product_id: int) -> HttpResponse:
    product = product_get(product_id)
    if product is None:
        raise Http404("No such product.")
    context: dict[str, object] = {
        "product": product,
        "refinements": [(key, label, refinement_on(request.GET.get(key))) for key, (_f, label) in REFINEMENTS.items()],
    }
    try:
        context["result"] = search.similar_to_product(product, toggles=request.GET)
    except (search.NotAnalysedYet, search.SearchUnavailable) as exc:
        context["message"] = str(exc)
    return render(request, "visualsearch/similar.html", context)


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
@csrf_exempt
@require_http_methods(["GET", "POST"])
def photo_search_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _declared_too_large(request):
        form = _form_with_error(_filter_choices(), _too_large_message())
        return render(request, "visualsearch/photo_search.html", {"form": form}, status=413)
    return _photo_search_page(request)


@csrf_protect
def _photo_search_page(request: HttpRequest) -> HttpResponse:
    choices = _filter_choices()
    context: dict[str, object] = {}
    status = 200
    if request.method == "POST":
        try:
            form = PhotoSearchForm(request.POST, request.FILES, choices=choices)
        except _BAD_BODY:
            form = _form_with_error(choices, "The upload could not be read; please choose the photo again.")
            return render(request, "visualsearch/photo_search.html", {"form": form}, status=400)
        if form.is_valid():
            upload = form.cleaned_data["image"]
            try:
                search.validate_upload_size(upload.size)
                result = search.similar_to_photo(upload.read(), filters=search.explicit_filters(form.cleaned_data))
                context["result"] = result
            except search.UploadRejected as exc:
                form.add_error("image", str(exc))
                status = 400
            except search.SearchUnavailable as exc:
                form.add_error(None, str(exc))
                status = 503
        else:
            status = 400
    else:
        form = PhotoSearchForm(choices=choices)
    context["form"] = form
    return render(request, "visualsearch/photo_search.html", context, status=status)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "status": status}}, status=status)


def _api_methods(*methods: str) -> Callable[[Callable[..., JsonResponse]], Callable[..., JsonResponse]]:
    """Like require_http_methods, but a wrong method gets a JSON 405 like every API error."""

    def decorator(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
            if request.method not in methods:
                response = _error(f"Use {' or '.join(methods)} for this endpoint.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _result_json(request: HttpRequest, result: search.SimilarResult) -> JsonResponse:
    return JsonResponse(
        {
            "results": [
                {
                    "id": item.product.pk,
                    "external_id": item.product.external_id,
                    "name": item.product.name,
                    "article_type": item.product.article_type,
                    "colour": item.product.base_colour,
                    "score": round(item.score, 6),
                    "image_url": request.build_absolute_uri(item.product.card_image_url),
                    "url": request.build_absolute_uri(item.product.get_absolute_url()),
                }
                for item in result.results
            ],
            "filters": result.filters,
        }
    )


@_api_methods("GET")
def api_similar(request: HttpRequest, product_id: int) -> JsonResponse:
    try:
        k = search.clamp_k(request.GET.get("k"))
    except ValueError as exc:
        return _error(str(exc), 400)
    product = product_get(product_id)
    if product is None:
        return _error(f"No active product with id {product_id}.", 404)
    try:
        result = search.similar_to_product(product, k=k, toggles=request.GET)
    except search.NotAnalysedYet as exc:
        return _error(str(exc), 409)
    except search.SearchUnavailable as exc:
        return _error(str(exc), 503)
    return _result_json(request, result)


@csrf_exempt  # a read-only search: no session state changes, callable from any client
@_api_methods("POST")
def api_photo_search(request: HttpRequest) -> JsonResponse:
    if _declared_too_large(request):
        return _error(_too_large_message(), 413)
    try:
        upload = request.FILES.get("image")
        post = request.POST
    except _BAD_BODY:
        return _error("The request body could not be read: send multipart/form-data with the field 'image'.", 400)
    try:
        k = search.clamp_k(request.GET.get("k") or post.get("k"))
    except ValueError as exc:
        return _error(str(exc), 400)
    if upload is None:
        return _error("Send the photo as multipart/form-data in the field 'image'.", 400)
    params = {**request.GET.dict(), **post.dict()}
    try:
        search.validate_upload_size(upload.size)
        result = search.similar_to_photo(upload.read(), k=k, filters=search.explicit_filters(params), preview=False)
    except search.UploadRejected as exc:
        return _error(str(exc), 400)
    except search.SearchUnavailable as exc:
        return _error(str(exc), 503)
    return _result_json(request, result)
