"""What the insights pages read: figures per day, the products reached through visual search,
the searches that found nothing, the themes of photos with nothing close, duplicate products."""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Lower, TruncDate
from django.utils import timezone

from insights.clustering import themes_cluster
from insights.conf import insights_settings
from insights.models import EventKind, SearchEvent, UnmatchedPhoto
from orders.models import OrderStatus
from shop.models import Product

# Orders that did not sell: not counted (nor their revenue).
_UNSOLD = (OrderStatus.CANCELLED, OrderStatus.REFUNDED)


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, zone),
            datetime.combine(self.end + timedelta(days=1), time.min, zone),
        )


@dataclass
class DayFigures:
    day: date
    text: int = 0
    text_empty: int = 0
    similar: int = 0
    photo: int = 0
    photo_nothing_close: int = 0
    clicks: int = 0
    bag_adds: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")

    @property
    def visual(self) -> int:
        return self.similar + self.photo

    @property
    def click_through(self) -> float | None:
        """Clicks on a result per visual search (a share: 0.25 is 25 in 100)."""
        return self.clicks / self.visual if self.visual else None


def _events(period: DateRange) -> QuerySet[SearchEvent]:
    start, end = period.bounds()
    return SearchEvent.objects.filter(at__gte=start, at__lt=end)


def insights_daily(period: DateRange) -> list[DayFigures]:
    """One row per day of the period (days with nothing included)."""
    rows = {day: DayFigures(day) for day in period.days}
    counts = (
        _events(period)
        .exclude(kind=EventKind.ORDER)
        .annotate(day=TruncDate("at"))
        .values("day", "kind")
        .annotate(n=Count("pk"), empty=Count("pk", filter=Q(results=0)), far=Count("pk", filter=Q(nothing_close=True)))
    )
    for row in counts:
        figures = rows.get(row["day"])
        if figures is None:
            continue
        kind, n = row["kind"], row["n"]
        if kind == EventKind.TEXT:
            figures.text, figures.text_empty = n, row["empty"]
        elif kind == EventKind.SIMILAR:
            figures.similar = n
        elif kind == EventKind.PHOTO:
            figures.photo, figures.photo_nothing_close = n, row["far"]
        elif kind == EventKind.CLICK:
            figures.clicks = n
        elif kind == EventKind.BAG:
            figures.bag_adds = n
    orders = (
        _events(period)
        .filter(kind=EventKind.ORDER)
        .exclude(order__status__in=_UNSOLD)
        .annotate(day=TruncDate("at"))
        .values("day")
        .annotate(n=Count("pk"), revenue=Sum("revenue"))
    )
    for sold in orders:
        if sold["day"] in rows:
            rows[sold["day"]].orders = sold["n"]
            rows[sold["day"]].revenue = sold["revenue"] or Decimal("0.00")
    return list(rows.values())


def insights_totals(days: list[DayFigures]) -> DayFigures:
    total = DayFigures(days[0].day if days else timezone.localdate())
    for d in days:
        for name in ("text", "text_empty", "similar", "photo", "photo_nothing_close", "clicks", "bag_adds", "orders"):
            setattr(total, name, getattr(total, name) + getattr(d, name))
        total.revenue += d.revenue
    return total


@dataclass
class ReachedProduct:
    product: Product
    clicks: int
    bag_adds: int


def insights_top_products(period: DateRange, limit: int = 10) -> list[ReachedProduct]:
    """The products most often reached from visual search results (clicks), with their adds
    to bag after a visual search."""
    rows = (
        _events(period)
        .filter(kind__in=(EventKind.CLICK, EventKind.BAG), product__isnull=False)
        .values("product")
        .annotate(
            clicks=Count("pk", filter=Q(kind=EventKind.CLICK)),
            bag_adds=Count("pk", filter=Q(kind=EventKind.BAG)),
        )
        .filter(clicks__gt=0)
        .order_by("-clicks", "-bag_adds", "product")[:limit]
    )
    products = Product.objects.in_bulk([row["product"] for row in rows])
    return [
        ReachedProduct(products[row["product"]], row["clicks"], row["bag_adds"])
        for row in rows
        if row["product"] in products
    ]


def insights_empty_text_searches(period: DateRange, limit: int = 20) -> list[tuple[str, int]]:
    """Text searches that found nothing, most asked first (case folded)."""
    rows = (
        _events(period)
        .filter(kind=EventKind.TEXT, results=0)
        .annotate(q=Lower("text"))
        .values("q")
        .annotate(n=Count("pk"))
        .order_by("-n", "q")[:limit]
    )
    return [(row["q"], row["n"]) for row in rows]


@dataclass
class Theme:
    count: int
    previews: list[str] = field(default_factory=list)  # data: URLs of ≤96 px JPEGs
    nearest: list[Product] = field(default_factory=list)
    centroid: np.ndarray | None = None


def _data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def unmatched_themes(period: DateRange, *, previews: int = 4, nearest: int = 3) -> list[Theme]:
    """The photos that found nothing close, grouped by look: each theme's size, a few previews
    and the catalogue's nearest products (what we have that comes closest)."""
    start, end = period.bounds()
    photos = list(
        UnmatchedPhoto.objects.filter(at__gte=start, at__lt=end).order_by("-at")[: insights_settings.THEME_MAX_PHOTOS]
    )
    if not photos:
        return []
    vectors = [np.frombuffer(bytes(p.vector or b""), dtype="<f4") for p in photos]
    dims = max(set(len(v) for v in vectors), key=[len(v) for v in vectors].count)
    kept = [(p, v) for p, v in zip(photos, vectors, strict=True) if len(v) == dims]
    matrix = np.stack([v for _p, v in kept])
    labels = themes_cluster(matrix, distance=insights_settings.THEME_DISTANCE)
    members: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels):
        members[int(label)].append(row)
    themes = []
    for label in sorted(members):
        rows = members[label]
        theme = Theme(count=len(rows), centroid=matrix[rows].mean(axis=0))
        theme.previews = [_data_url(bytes(kept[r][0].preview or b"")) for r in rows if kept[r][0].preview][:previews]
        themes.append(theme)
    _nearest_products(themes, nearest)
    return themes


def _nearest_products(themes: list[Theme], k: int) -> None:
    """Each theme's nearest products, ranked as photo search ranks a photo (the theme's mean
    vector); none where the index is not available."""
    from visualsearch.index import get_index
    from visualsearch.query.ranking import rank_photo

    try:
        index = get_index()
        if len(index) == 0:
            return
        for theme in themes:
            hits = rank_photo(index, np.asarray(theme.centroid)[None, :], None, k, {})
            by_id = Product.objects.in_bulk([h.product_id for h in hits])
            theme.nearest = [by_id[h.product_id] for h in hits if h.product_id in by_id]
    except Exception:
        return
