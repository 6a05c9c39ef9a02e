"""Thin views: "Notify me" (POST from the product page or photo search; the same form alone
without JavaScript or after an error) and the e-mail's unsubscribe link."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from shop.selectors import product_get
from stockalerts.forms import NotifyForm
from stockalerts.selectors import SESSION_KEY, subscribed_in_session
from stockalerts.services import BAD_LINK, stock_alert_subscribe, stock_alert_unsubscribe
from stockalerts.tokens import alert_id_from_token


def _next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
def notify(request: HttpRequest, product_id: int) -> HttpResponse:
    product = product_get(product_id)
    if product is None:
        raise Http404("No such product.")
    back = _next(request, product.get_absolute_url())
    status = 200
    if request.method == "POST":
        form = NotifyForm(request.POST, product=product)
        if form.is_valid():
            variant = form.cleaned_data.get("size")
            try:
                subscribed = stock_alert_subscribe(
                    product=product,
                    email=form.cleaned_data["email"],
                    variant=variant,
                    user_id=request.user.pk if request.user.is_authenticated else None,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                remembered = subscribed_in_session(request)
                request.session[SESSION_KEY] = [product.pk, *(pk for pk in remembered if pk != product.pk)][:50]
                what = f"{product.name} in size {variant.size}" if variant else product.name
                verb = "We will" if subscribed.created else "You are already on the list: we will"
                messages.success(request, f"{verb} e-mail {subscribed.alert.email} once when {what} is back.")
                return HttpResponseRedirect(back)
        else:
            status = 400
    else:
        initial = {"email": request.user.email} if request.user.is_authenticated else {}
        form = NotifyForm(initial=initial, product=product)
    return render(request, "stockalerts/notify.html", {"product": product, "form": form, "next": back}, status=status)


@csrf_exempt  # the mail program's one-click POST (RFC 8058) has no CSRF token; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners open links); POST unsubscribes."""
    if request.method == "GET":
        if alert_id_from_token(token) is None:
            return render(request, "stockalerts/unsubscribe.html", {"error": BAD_LINK}, status=404)
        return render(request, "stockalerts/unsubscribe.html", {"token": token, "done": False})
    try:
        alert = stock_alert_unsubscribe(token)
    except ApplicationError as exc:
        return render(request, "stockalerts/unsubscribe.html", {"error": exc.message}, status=exc.status)
    return render(request, "stockalerts/unsubscribe.html", {"alert": alert, "done": True})
