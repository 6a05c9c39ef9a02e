"""Orders' public pages: a guest looks up an order by number and e-mail, and the returns
policy. Thin views over orders.selectors."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from orders.conf import orders_settings
from orders.forms import OrderLookupForm
from orders.models import Order
from orders.selectors import order_lookup as order_lookup_select

# The orders a visitor has looked up in this session (numbers, the latest last): the detail
# page shows only these, so its URL is worth nothing to anyone else.
LOOKED_UP_SESSION_KEY = "orders_looked_up"
NOT_FOUND = (
    "We could not find an order with that number and e-mail address. Check both against your "
    "confirmation e-mail and try again."
)


def order_lookup(request: HttpRequest) -> HttpResponse:
    form = OrderLookupForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            order = order_lookup_select(form.cleaned_data["number"], form.cleaned_data["email"])
            if order is not None:
                seen = [n for n in request.session.get(LOOKED_UP_SESSION_KEY, []) if n != order.number]
                request.session[LOOKED_UP_SESSION_KEY] = [*seen[-9:], order.number]
                return redirect("orders:lookup_detail", number=order.number)
            error = NOT_FOUND  # the same answer for an unknown number and a wrong e-mail
        else:
            status = 400
    return render(request, "orders/lookup.html", {"form": form, "error": error}, status=status)


def order_lookup_detail(request: HttpRequest, number: str) -> HttpResponse:
    if number not in request.session.get(LOOKED_UP_SESSION_KEY, []):
        return redirect("orders:lookup")
    order = Order.objects.filter(number=number).prefetch_related("lines").first()
    if order is None:
        raise Http404("No such order.")
    return render(request, "orders/lookup_detail.html", {"order": order})


def returns(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/returns.html", {"support_email": orders_settings.SUPPORT_EMAIL})
