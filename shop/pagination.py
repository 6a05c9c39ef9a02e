"""Catalogue pagination that stays fast on deep pages and avoids a count per request."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class IdsFirstPaginator(Paginator):
    """Takes a page's ids first (an index-only scan, even for OFFSET 40,000), then loads
    just those rows; ``count`` can be handed in when it is known (cached)."""

    def __init__(self, object_list: QuerySet, per_page: int, *, count: int | None = None) -> None:
        super().__init__(object_list, per_page)
        if count is not None:
            self.__dict__["count"] = count  # Paginator.count is a cached_property

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        prefetch = getattr(self.object_list, "_prefetch_related_lookups", ())
        rows = self.object_list.model._default_manager.prefetch_related(*prefetch).in_bulk(ids)
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)
