"""The wishlist page and the heart: thin views over wishlist.services and selectors. The heart
is a form (works without JavaScript: back to the page with a message); with JavaScript it
posts in place and gets JSON."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError, json_error
from shop.models import Product
from wishlist import selectors, services


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_GET
def wishlist_page(request: HttpRequest) -> HttpResponse:
    return render(request, "wishlist/wishlist.html", {"products": selectors.wishlist_products(request)})


@require_POST
def wishlist_toggle(request: HttpRequest, product_id: int) -> HttpResponse:
    change = request.POST.get("change", "")
    if change not in ("add", "remove"):
        message = "Say whether to add or remove the product."
        return json_error(message, 400) if _wants_json(request) else HttpResponse(message, status=400)
    try:
        saved = services.wishlist_set(request, product_id, change == "add")
    except ApplicationError as exc:
        if _wants_json(request):
            return json_error(exc.message, exc.status)
        messages.error(request, exc.message)
        return _back(request)
    if _wants_json(request):
        return JsonResponse({"product_id": product_id, "saved": saved, "count": selectors.wishlist_count(request)})
    name = Product.objects.filter(pk=product_id).values_list("name", flat=True).first() or "The product"
    messages.success(request, f"{name} saved to your wishlist." if saved else f"{name} removed from your wishlist.")
    return _back(request)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return redirect("wishlist:page")
