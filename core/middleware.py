"""The one handler of application errors that a view lets through (the JSON API does)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from core.errors import ApplicationError, json_error


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return json_error(exception.message, exception.status)
        return None


# Methods whose body Django reads; a body sent without Content-Length (chunked) reads as empty.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class UnreadableRequestMiddleware:
    """Requests Django would misread, refused with a clear answer before anything parses them.

    - A body sent with ``Transfer-Encoding`` and no ``Content-Length`` (a chunked upload):
      under WSGI Django reads such a body as empty, so the photo search would answer "send
      multipart" or a CSRF 403. 411 Length Required says what to do instead. (Behind the
      proxy this never happens: nginx reads the whole body and sends its length.)
    - A NUL character in an admin query string: the admin's list filters pass it to
      PostgreSQL, which cannot store it in text (a 500). 400. The shop's own pages drop
      NULs from their queries themselves.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if request.method in _BODY_METHODS and meta.get("HTTP_TRANSFER_ENCODING") and not meta.get("CONTENT_LENGTH"):
            return _refuse(
                request,
                "Send the request body with a Content-Length header: chunked uploads are not supported.",
                411,
            )
        if request.path.startswith("/admin/") and _has_nul(request):
            return _refuse(request, "The address contains a NUL character, which no field can hold.", 400)
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "%00" in str(request.META.get("QUERY_STRING", "")):
        return True
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


def _refuse(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(message, status)
    html = render_to_string("400.html", {"message": message}, request=request)
    return HttpResponse(html, status=status)
