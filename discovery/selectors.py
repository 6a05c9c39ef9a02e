"""Reads of discovery: the shopper's recently viewed products and "Inspired by what you
viewed" (lookalikes of them, from the vectors find similar uses)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.contrib.sessions.backends.base import SessionBase

from discovery.conf import discovery_settings
from shop.attributes import STOCK_FIELD
from shop.models import Product
from shop.selectors import product_in_stock_expression
from visualsearch.index import Hit, NotIndexed, get_index
from visualsearch.query.ranking import similar_hits

SESSION_KEY = "discovery_recent"


def recently_viewed_ids(session: SessionBase) -> list[int]:
    """The session's recently viewed product ids, most recent first (anything stored there
    that is not an id is ignored)."""
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, list):
        return []
    return [pk for pk in stored if isinstance(pk, int) and not isinstance(pk, bool)]


def recently_viewed(ids: Sequence[int], *, exclude: int | None = None, limit: int | None = None) -> list[Product]:
    """The active products of ``ids`` in that order (one query, and one for their sizes),
    without ``exclude`` (the product on the page)."""
    wanted = [pk for pk in ids if pk != exclude][: limit or discovery_settings.ROW_LENGTH]
    if not wanted:
        return []
    found = Product.objects.filter(is_active=True).prefetch_related("variants").in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


def _neighbours(viewed: Sequence[int]) -> list[list[Hit]]:
    """For each of the most recently viewed products that are in the index, its nearest
    in-stock lookalikes by find similar's own ranking, best first."""
    index = get_index()
    if len(index) == 0:
        return []
    lists = []
    for product_id in viewed[: discovery_settings.INSPIRED_SEEDS]:
        try:
            hits, _version = similar_hits(
                index, product_id, discovery_settings.INSPIRED_NEIGHBOURS, {STOCK_FIELD: True}
            )
        except NotIndexed:
            continue  # not analysed yet, or no longer searchable
        lists.append(hits)
    return lists


def inspired_by(viewed: Sequence[int], *, exclude: Collection[int] = (), limit: int | None = None) -> list[Product]:
    """Products that look like what the shopper viewed (``viewed``: most recent first): a
    round-robin of each viewed product's lookalikes (the best of each first, the most recent
    product's first), never a viewed product, only active ones in stock, at most
    DISCOVERY_INSPIRED_PER_TYPE of one article type, never one of ``exclude`` (what is in the
    bag). Empty when nothing was viewed."""
    limit = limit or discovery_settings.ROW_LENGTH
    if not viewed:
        return []
    lists = _neighbours(viewed)
    seen = {*viewed, *exclude}
    ordered: list[int] = []
    for rank in range(max((len(hits) for hits in lists), default=0)):
        for hits in lists:
            if rank < len(hits) and hits[rank].product_id not in seen:
                seen.add(hits[rank].product_id)
                ordered.append(hits[rank].product_id)
    if not ordered:
        return []
    # The index's stock is refreshed every few seconds: the database has the last word.
    rows = dict(
        (pk, article_type)
        for pk, article_type in Product.objects.filter(pk__in=ordered, is_active=True)
        .filter(product_in_stock_expression())
        .values_list("pk", "article_type")
        .order_by()
    )
    picked: list[int] = []
    per_type: dict[str, int] = {}
    for pk in ordered:
        article_type = rows.get(pk)
        if article_type is None or per_type.get(article_type, 0) >= discovery_settings.INSPIRED_PER_TYPE:
            continue
        per_type[article_type] = per_type.get(article_type, 0) + 1
        picked.append(pk)
        if len(picked) == limit:
            break
    found = Product.objects.prefetch_related("variants").in_bulk(picked)
    return [found[pk] for pk in picked if pk in found]
