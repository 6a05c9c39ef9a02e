"""Account pages: sign up, order history and order detail (Django's auth views do log in,
log out and password reset, with this project's templates)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.forms import SignUpForm
from accounts.services import user_sign_up
from orders.selectors import order_get_for_user, order_list_for_user


def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:orders")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_sign_up(form)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
            return redirect(target)
        return redirect("shop:catalogue")
    return render(request, "registration/signup.html", {"form": form, "next": request.GET.get("next", "")})


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/orders.html", {"orders": order_list_for_user(request.user)})


def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """404 unless the order is the logged-in customer's own (anonymous visitors included)."""
    order = order_get_for_user(request.user, number)
    if order is None:
        raise Http404("No such order.")
    return render(request, "accounts/order_detail.html", {"order": order})
