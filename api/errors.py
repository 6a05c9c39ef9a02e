"""Every failure of /api/v1/ in the one envelope (``core.errors.json_error``): application
errors, invalid input (400 with the fields), authentication (401), throttling (429 with
Retry-After), 404s and ninja's own HTTP errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from core.errors import ApplicationError, json_error


def _field_name(location: Any) -> str:
    parts = [str(part) for part in location if part not in ("", None)]
    return ".".join(parts)


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [{"field": _field_name(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
    message = f"Invalid input: {summary}." if summary else "Invalid input."
    return JsonResponse({"error": {"message": message, "status": 400, "fields": fields}}, status=400)


def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return json_error(exc.message, exc.status)


def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return json_error("Authentication required: send a valid key in the X-API-Key header.", 401)


def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = int(exc.wait) if exc.wait else 60
    response = json_error(f"Too many requests; please try again in {wait} second{'s' if wait != 1 else ''}.", 429)
    response["Retry-After"] = str(wait)
    return response


def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return json_error("Not found.", 404)


def _unreadable_body(request: HttpRequest, exc: Exception) -> HttpResponse:
    return json_error("The request body could not be read: send multipart/form-data or JSON as documented.", 400)


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return json_error(str(exc.message), exc.status_code)


HANDLERS: dict[type[Exception], Callable[[HttpRequest, Any], HttpResponse]] = {
    ValidationError: _validation_error,
    ApplicationError: _application_error,
    AuthenticationError: _authentication_error,
    Throttled: _throttled,
    Http404: _not_found,
    HttpError: _http_error,
    # A multipart body Django cannot parse (ninja reads the upload before the view runs).
    MultiPartParserError: _unreadable_body,
    BadRequest: _unreadable_body,
    SuspiciousOperation: _unreadable_body,
}


def install_error_handlers(api: NinjaAPI) -> None:
    for exception, handler in HANDLERS.items():
        api.add_exception_handler(exception, handler)
