"""Account pages: sign up (then "check your email"; the e-mailed link activates the account),
order history and order detail (Django's auth views do log in, log out and password reset, with
this project's templates)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.forms import SignUpForm
from accounts.services import user_activate, user_sign_up
from orders.selectors import order_get_for_user, order_list_for_user


def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:orders")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        target = request.POST.get("next", "")
        user_sign_up(
            form,
            site_url=request.build_absolute_uri("/").rstrip("/"),
            next_url=target if _safe(request, target) else "",
        )
        return redirect("accounts:signup_done")
    return render(request, "registration/signup.html", {"form": form, "next": request.GET.get("next", "")})


def sign_up_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_done.html")


def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = user_activate(uidb64, token)
    if user is None:
        return render(request, "registration/activation_invalid.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
    target = request.GET.get("next", "")
    return redirect(target if _safe(request, target) else "shop:catalogue")


def _safe(request: HttpRequest, target: str) -> bool:
    return bool(target) and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    )


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/orders.html", {"orders": order_list_for_user(request.user)})


def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """404 unless the order is the logged-in customer's own (anonymous visitors included)."""
    order = order_get_for_user(request.user, number)
    if order is None:
        raise Http404("No such order.")
    return render(request, "accounts/order_detail.html", {"order": order})
