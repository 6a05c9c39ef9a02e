"""Staff pages: the insights dashboard (with CSV exports) and the duplicate products. Thin:
the figures come from insights.selectors and insights.duplicates; wrapped by the admin site
(staff only; anyone else gets the admin login) in insights.urls."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_http_methods

from insights import selectors, services
from insights.duplicates import duplicate_pairs_list
from shop.conf import shop_settings

RANGES = (7, 30, 90)
PAIRS_PER_PAGE = 40
_MAX_DAYS = 366


def _period(request: HttpRequest) -> selectors.DateRange:
    """The chosen range: ``start``/``end`` (dates), else the last ``days`` days (default 30)."""
    today = timezone.localdate()
    start = parse_date(request.GET.get("start") or "") if _is_date(request.GET.get("start")) else None
    end = parse_date(request.GET.get("end") or "") if _is_date(request.GET.get("end")) else None
    if start is None:
        try:
            days = int(request.GET.get("days") or 30)
        except ValueError:
            days = 30
        days = min(max(days, 1), _MAX_DAYS)
        end = end or today
        start = end - timedelta(days=days - 1)
    end = end or today
    if end < start:
        start, end = end, start
    start = max(start, end - timedelta(days=_MAX_DAYS - 1))
    return selectors.DateRange(start, end)


def _is_date(value: str | None) -> bool:
    try:
        return bool(value) and parse_date(value or "") is not None
    except ValueError:
        return False


def _chart_data(days: list[selectors.DayFigures]) -> dict[str, object]:
    return {
        "labels": [d.day.isoformat() for d in days],
        "text": [d.text for d in days],
        "similar": [d.similar for d in days],
        "photo": [d.photo for d in days],
        "clicks": [d.clicks for d in days],
        "click_through": [round(100 * d.click_through, 1) if d.click_through is not None else None for d in days],
        "bag_adds": [d.bag_adds for d in days],
        "orders": [d.orders for d in days],
        "revenue": [float(d.revenue) for d in days],
        "currency": shop_settings.CURRENCY,
    }


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    days = selectors.insights_daily(period)
    totals = selectors.insights_totals(days)
    context = {
        **admin.site.each_context(request),
        "title": "Insights: what visual search sells",
        "period": period,
        "ranges": RANGES,
        "days": days,
        "totals": totals,
        "has_data": totals.text + totals.visual + totals.clicks + totals.bag_adds + totals.orders > 0,
        "chart_data": _chart_data(days),
        "top_products": selectors.insights_top_products(period),
        "empty_searches": selectors.insights_empty_text_searches(period),
        "themes": selectors.unmatched_themes(period),
        "currency": shop_settings.CURRENCY,
        "query": request.GET.urlencode(),
    }
    return render(request, "insights/dashboard.html", context)


def _csv_rows(table: str, period: selectors.DateRange) -> tuple[list[str], list[list[object]]]:
    if table == "products":
        rows = selectors.insights_top_products(period, limit=200)
        return ["product id", "product", "clicks from visual search", "adds to bag after visual search"], [
            [r.product.pk, r.product.name, r.clicks, r.bag_adds] for r in rows
        ]
    if table == "empty-searches":
        return ["search", "times"], [[q, n] for q, n in selectors.insights_empty_text_searches(period, limit=1000)]
    days = selectors.insights_daily(period)
    if table == "searches":
        return ["day", "text searches", "text searches with no results", "find similar", "photo searches",
                "photo searches with nothing close"], [
            [d.day, d.text, d.text_empty, d.similar, d.photo, d.photo_nothing_close] for d in days
        ]  # fmt: skip
    if table == "conversions":
        return ["day", "visual searches", "clicks on a result", "click-through %", "adds to bag"], [
            [d.day, d.visual, d.clicks, f"{100 * d.click_through:.1f}" if d.click_through is not None else "",
             d.bag_adds] for d in days
        ]  # fmt: skip
    if table == "orders":
        return ["day", "orders after visual search", f"revenue ({shop_settings.CURRENCY})"], [
            [d.day, d.orders, d.revenue] for d in days
        ]
    raise Http404("No such table.")


@require_GET
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    period = _period(request)
    header, rows = _csv_rows(table, period)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="insights-{table}-{period.start}-{period.end}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _pair_ids(request: HttpRequest) -> tuple[int, int] | None:
    try:
        return int(request.POST.get("first", "")), int(request.POST.get("second", ""))
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
def duplicates(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        ids = _pair_ids(request)
        action = request.POST.get("action", "")
        if ids is None or ids[0] == ids[1]:
            messages.error(request, "That pair could not be read; nothing changed.")
        elif action == "distinct":
            services.duplicate_pair_mark_distinct(*ids, user=request.user)
            messages.success(request, "Marked as different products: the pair is no longer listed.")
        elif action.startswith("deactivate-"):
            target = ids[0] if action == "deactivate-first" else ids[1]
            product = services.product_deactivate(target)
            if product is None:
                messages.error(request, "That product no longer exists.")
            else:
                messages.success(request, f"“{product.name}” is no longer shown in the shop.")
        else:
            messages.error(request, "Unknown action; nothing changed.")
        number = request.GET.get("page", "")
        return HttpResponseRedirect(reverse("insights:duplicates") + (f"?page={number}" if number.isdigit() else ""))
    pairs = duplicate_pairs_list()
    page = Paginator(pairs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **admin.site.each_context(request),
        "title": "Duplicate products",
        "pairs": page.object_list,
        "page": page,
        "total": len(pairs),
        "identical": sum(1 for p in pairs if p.identical),
        "currency": shop_settings.CURRENCY,
    }
    return render(request, "insights/duplicates.html", context)
