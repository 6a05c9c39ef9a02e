"""visualsearch.query.errors: each refusal is an ApplicationError with its HTTP status, so the
pages show its message and the API answers it through core's one error envelope."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError, Conflict, InvalidInput, PayloadTooLarge, Unavailable
from visualsearch.query.errors import NotAnalysedYet, QueryExpired, SearchUnavailable, UploadRejected, UploadTooLarge


@pytest.mark.parametrize(
    ("error", "base", "status"),
    [
        (SearchUnavailable, Unavailable, 503),
        (NotAnalysedYet, Conflict, 409),
        (UploadRejected, InvalidInput, 400),
        (UploadTooLarge, PayloadTooLarge, 413),
        (QueryExpired, ApplicationError, 410),
    ],
)
def test_each_error_has_its_status_and_keeps_its_message(
    error: type[ApplicationError], base: type[ApplicationError], status: int
) -> None:
    assert issubclass(error, base)
    raised = error("For the shopper.")
    assert raised.status == status
    assert raised.message == str(raised) == "For the shopper."
