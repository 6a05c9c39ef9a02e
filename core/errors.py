"""One application error base, with an HTTP status and a message for the person who sent
the request, and one JSON error envelope: ``{"error": {"message", "status"}}``.

Services raise ``ApplicationError`` subclasses; pages show ``str(exc)`` in their forms, and
the API lets them through to ``core.middleware.ApplicationErrorMiddleware``, which answers
with ``json_error``. No view maps exceptions to status codes by hand.
"""

from __future__ import annotations

from django.http import JsonResponse


class ApplicationError(Exception):
    """An error whose message is safe and useful to show to the client."""

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidInput(ApplicationError):
    status = 400


class NotFound(ApplicationError):
    status = 404


class Conflict(ApplicationError):
    status = 409


class PayloadTooLarge(ApplicationError):
    status = 413


class Unavailable(ApplicationError):
    status = 503


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "status": status}}, status=status)
