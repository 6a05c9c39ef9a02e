"""Bag pages: thin views over bag.services and bag.selectors."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from bag import selectors, services
from bag.forms import BagLineForm
from bag.signals import bag_line_added
from core.errors import ApplicationError


def _back(request: HttpRequest, fallback: str = "bag:detail") -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return redirect(fallback)


def bag_detail(request: HttpRequest) -> HttpResponse:
    summary = selectors.bag_summary(services.bag_for_request(request))
    return render(request, "bag/bag.html", {"bag": summary})


@require_POST
def bag_add(request: HttpRequest) -> HttpResponse:
    form = BagLineForm(request.POST, variant_required=True)
    if not form.is_valid():
        messages.error(request, form.message)
        return _back(request)
    bag = services.bag_for_request(request, create=True)
    try:
        added = form.cleaned_data["quantity"]
        line = services.bag_add(bag, form.cleaned_data["variant"], added)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(request)
    bag_line_added.send(sender=None, request=request, product_id=line.variant.product_id, quantity=added)
    messages.success(request, f"Added {line.variant.product.name} (size {line.variant.size}) to your bag.")
    return _back(request)


@require_POST
def bag_line_update(request: HttpRequest, line_id: int) -> HttpResponse:
    bag = services.bag_for_request(request)
    if bag is None:
        return redirect("bag:detail")
    form = BagLineForm(request.POST, variant_required=False)
    if not form.is_valid():
        messages.error(request, form.message)
        return redirect("bag:detail")
    try:
        services.bag_line_update(
            bag, line_id, quantity=form.cleaned_data["quantity"], variant_id=form.cleaned_data["variant"]
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your bag was updated.")
    return redirect("bag:detail")


@require_POST
def bag_line_remove(request: HttpRequest, line_id: int) -> HttpResponse:
    bag = services.bag_for_request(request)
    if bag is not None:
        try:
            services.bag_line_remove(bag, line_id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Removed from your bag.")
    return redirect("bag:detail")
