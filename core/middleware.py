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


# Bodies up to this size are drained when a view answered without reading them (the largest
# body the proxy passes outside the admin's import is 13 MB).
DRAIN_MAX_BYTES = 16 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024


def request_body_drain(request: HttpRequest) -> int:
    """Read and discard what is left of the request's body (at most DRAIN_MAX_BYTES by its
    Content-Length); returns the bytes read. A refusal made before the body was read (a rate
    limit's 429, a 413 from Content-Length) would otherwise leave the body on the kept-alive
    connection from the proxy, which then breaks for the next request on it (502s, other
    shoppers' too)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
    if length <= 0 or length > DRAIN_MAX_BYTES or getattr(request, "_body_drained", False):
        return 0
    if hasattr(request, "_body"):  # read already (request.body): nothing left on the socket
        return 0
    drained = 0
    try:
        while chunk := request.read(_DRAIN_CHUNK):
            drained += len(chunk)
    except Exception:  # the client went away, or the stream was consumed by a parser: done
        pass
    request._body_drained = True  # type: ignore[attr-defined]
    return drained


class RequestBodyDrainMiddleware:
    """Outermost on the request path: once the response is made, whatever the view left of
    the body is read and discarded before the response goes back (see request_body_drain)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        request_body_drain(request)
        return response
