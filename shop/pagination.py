"""Catalogue pagination that stays fast on deep pages and avoids a count per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class IdsFirstPaginator(Paginator):
    """Takes a page's ids first (an index-only scan, even for OFFSET 40,000), then loads
    just those rows; ``count`` can be handed in when it is known (cached)."""

    if TYPE_CHECKING:
        # Paginator's hook that makes the Page; django-stubs does not declare it.
        def _get_page(self, object_list: list[Any], number: int, paginator: Paginator[Any]) -> Page[Any]: ...

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, count: int | None = None) -> None:
        super().__init__(object_list, per_page)
        # The same object as ``object_list``, typed as the queryset it is (the base class
        # only knows it as something sliceable).
        self.queryset = object_list
        if count is not None:
            self.__dict__["count"] = count  # Paginator.count is a cached_property

    def page(self, number: int | str) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.queryset.values_list("pk", flat=True)[bottom:top])
        prefetch = getattr(self.queryset, "_prefetch_related_lookups", ())
        rows = self.queryset.model._default_manager.prefetch_related(*prefetch).in_bulk(ids)
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)
