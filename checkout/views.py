"""Checkout pages, in order: details → shipping → review (place the order) → payment →
thanks (or payment failed). Thin views over checkout.services."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from payments import PaymentError, RedirectNeeded

from bag.models import Bag
from bag.services import bag_for_request
from checkout import selectors, services
from checkout.forms import DetailsForm, ReviewForm, ShippingForm
from core.errors import ApplicationError
from orders.models import Order, OrderStatus
from orders.signals import order_placed

logger = logging.getLogger(__name__)

STALE_REVIEW = "This page is out of date: please check your order below and place it again."


def _bag_or_redirect(request: HttpRequest) -> tuple[Bag | None, HttpResponse | None]:
    bag = bag_for_request(request)
    quote = services.checkout_quote(bag, services.checkout_state(request.session))
    if quote.bag.is_empty:
        messages.info(request, "Your bag is empty: add something first.")
        return bag, redirect("bag:detail")
    return bag, None


def _summary(bag: Bag | None, request: HttpRequest) -> selectors.CheckoutSummary:
    """The order summary beside the step: the bag as checkout_quote prices it now."""
    return selectors.checkout_summary_from_quote(services.checkout_quote(bag, services.checkout_state(request.session)))


def details(request: HttpRequest) -> HttpResponse:
    bag, away = _bag_or_redirect(request)
    if away:
        return away
    state = services.checkout_state(request.session)
    initial = {**state}
    if request.user.is_authenticated and not initial.get("email"):
        initial["email"] = request.user.email
    form = DetailsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.checkout_details_save(request.session, email=data["email"], address=data)
        return redirect("checkout:shipping")
    return render(request, "checkout/details.html", {"form": form, "step": 1, "summary": _summary(bag, request)})


def shipping(request: HttpRequest) -> HttpResponse:
    bag, away = _bag_or_redirect(request)
    if away:
        return away
    state = services.checkout_state(request.session)
    if not state.get("email"):
        return redirect("checkout:details")
    quote = services.checkout_quote(bag, state)
    methods = services.shipping_methods()
    form = ShippingForm(
        request.POST or None,
        initial={"method": state.get("shipping", "standard")},
        methods=[(m.code, m.name) for m in methods.values()],
    )
    if request.method == "POST" and form.is_valid():
        services.checkout_shipping_save(request.session, form.cleaned_data["method"])
        return redirect("checkout:review")
    options = [(m, m.cost(quote.bag.subtotal)) for m in methods.values()]
    chosen = state.get("shipping", "standard")
    return render(
        request,
        "checkout/shipping.html",
        {
            "form": form,
            "options": options,
            "chosen": chosen,
            "quote": quote,
            "step": 2,
            "summary": selectors.checkout_summary_from_quote(quote),
        },
    )


def review(request: HttpRequest) -> HttpResponse:
    bag = bag_for_request(request)
    state = services.checkout_state(request.session)
    error = ""
    status = 200
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if not form.is_valid():  # not what the review page sends: a stale or forged post
            error, status = STALE_REVIEW, 400
        else:
            try:
                order = services.checkout_place(
                    bag=bag,
                    session=request.session,
                    user=request.user,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    expected_total=form.cleaned_data["expected_total"],
                )
            except ApplicationError as exc:  # OutOfStock, PriceChanged and the checkout's own refusals
                error, status = exc.message, exc.status
            else:
                order_placed.send(sender=Order, order=order, request=request)
                return redirect("checkout:payment", number=order.number)
        state = services.checkout_state(request.session)
    quote = services.checkout_quote(bag, state)
    if quote.bag.is_empty and not error:
        messages.info(request, "Your bag is empty: add something first.")
        return redirect("bag:detail")
    if not state.get("email"):
        return redirect("checkout:details")
    if quote.shipping is None:
        return redirect("checkout:shipping")
    context = {
        "quote": quote,
        "state": state,
        "error": error,
        "idempotency_key": services.checkout_idempotency_key(request.session),
        "step": 3,
        "summary": selectors.checkout_summary_from_quote(quote),
    }
    return render(request, "checkout/review.html", context, status=status)


def _order(request: HttpRequest, number: str):
    order = services.checkout_order_for_session(request.session, request.user, number)
    if order is None:
        raise Http404("No such order.")
    return order


def payment(request: HttpRequest, number: str) -> HttpResponse:
    order = _order(request, number)
    if order.status == OrderStatus.PAID:
        return redirect("checkout:thanks", number=order.number)
    try:
        pay = services.payment_for_order(order)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("checkout:payment_failed", number=order.number)
    try:
        form = pay.get_form(data=request.POST or None)
    except RedirectNeeded as to:
        return redirect(str(to))
    except PaymentError:  # the provider could not be reached or refused: nothing was charged
        logger.exception("payment provider error for order %s", order)
        messages.error(request, "The payment service did not answer. Nothing was charged: please try again.")
        return redirect("checkout:payment_failed", number=order.number)
    context = {
        "order": order,
        "payment": pay,
        "form": form,
        "step": 4,
        "summary": selectors.checkout_summary_from_order(order),
    }
    return render(request, "checkout/payment.html", context)


def thanks(request: HttpRequest, number: str) -> HttpResponse:
    order = _order(request, number)
    services.payment_refresh(order)  # back from the provider's page: ask the provider
    return render(request, "checkout/thanks.html", {"order": order})


def payment_failed(request: HttpRequest, number: str) -> HttpResponse:
    order = _order(request, number)
    if order.status == OrderStatus.PAID:
        return redirect("checkout:thanks", number=order.number)
    return render(request, "checkout/payment_failed.html", {"order": order})
