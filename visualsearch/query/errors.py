"""What a search refuses with: each an ``ApplicationError`` whose message is for the shopper."""

from __future__ import annotations

from core.errors import ApplicationError, Conflict, InvalidInput, PayloadTooLarge, Unavailable


class SearchUnavailable(Unavailable):
    """The search cannot be answered right now; the message is for the shopper."""


class NotAnalysedYet(Conflict):
    """The product has no embedding yet."""


class UploadRejected(InvalidInput):
    """An upload we refuse; the message is for the shopper."""


class UploadTooLarge(PayloadTooLarge):
    """An upload refused from its declared size, before its body is read."""


class QueryExpired(ApplicationError):
    """A refinement's query token is unknown or expired: the shopper searches again."""

    status = 410
