"""Site-wide error views: the JSON API answers JSON like its other errors, pages get the
site's error pages. A database that cannot be reached (down, restarting) is a 503."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import Resolver404, re_path, resolve
from django.views import csrf, defaults

from core.errors import json_error


def _is_api(request: HttpRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def api_not_found_message(request: HttpRequest) -> str:
    """The API's convention is no trailing slash (``/api/products/19/similar``); a path that
    only differs by one says so."""
    path = request.path
    if path.endswith("/") and len(path) > len("/api/"):
        try:
            match = resolve(path.rstrip("/"))
        except Resolver404:
            pass
        else:
            if match.url_name != "api_not_found":
                return f"Not found: API paths have no trailing slash; use {path.rstrip('/')}"
    return "Not found: no such API endpoint or product."


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return json_error(api_not_found_message(request), 404)
    return defaults.page_not_found(request, exception)


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Every unknown path under /api/, as a view: JSON 404 with DEBUG on too (Django's debug 404
    page is HTML and bypasses handler404), and no APPEND_SLASH redirect (a path that resolves
    is never redirected). ``api_fallback_urlpatterns`` goes last in the root URLconf."""
    return json_error(api_not_found_message(request), 404)


api_fallback_urlpatterns = [re_path(r"^api(?:/(?P<rest>.*))?$", api_not_found, name="api_not_found")]


def server_error(request: HttpRequest) -> HttpResponse:
    unavailable = isinstance(sys.exc_info()[1], OperationalError | InterfaceError)
    status = 503 if unavailable else 500
    if _is_api(request):
        message = (
            "The service is temporarily unavailable; please try again in a moment."
            if unavailable
            else "Something went wrong on our side; please try again in a moment."
        )
        return json_error(message, status)
    response = defaults.server_error(request)
    response.status_code = status
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the JSON envelope under /api/, Django's page elsewhere."""
    if _is_api(request):
        return json_error(
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header "
            "(or call with an API key and a bag token).",
            403,
        )
    return csrf.csrf_failure(request, reason=reason)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 (a malformed request, a disallowed Host, too many fields): the site's page, JSON
    under /api/. The exception's text is for the log, not for the client."""
    if _is_api(request):
        return json_error("Bad request: it could not be read.", 400)
    try:
        return render(request, "400.html", status=400)
    except Exception:  # a request too broken to render a page with (no valid host to build URLs)
        return HttpResponseBadRequest("<h1>Bad request</h1>", content_type="text/html")
