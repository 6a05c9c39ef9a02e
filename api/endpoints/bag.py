"""The bag: by token (``POST /bags`` makes one: mobile apps, other storefronts) or, for the
shop's own pages, ``current`` (the browser session's bag; writes need the CSRF token).
Checkout stays in the web pages."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.middleware.csrf import get_token
from ninja import Router, Status
from ninja.utils import check_csrf

from api import links, presenters
from api.schemas import BagAddIn, BagCreateIn, BagLineUpdateIn, BagOut, BagToken, Id, errors
from api.security import Limit, caller
from api.services import Forbidden, api_bag_create, api_bag_get
from bag import selectors as bag_selectors
from bag import services as bag_services
from bag.models import Bag
from core.errors import NotFound

router = Router(tags=["bag"])

CURRENT = "current"


def _session_bag(request: HttpRequest, *, create: bool) -> Bag | None:
    """The browser session's bag. Writes are checked like the shop's forms (CSRF); reading it
    sets the CSRF cookie."""
    if caller(request).key is not None:
        raise Forbidden("Keyed clients use bags by token: create one with POST /api/v1/bags.")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        get_token(request)  # sets the csrftoken cookie that the writes then send back
    elif check_csrf(request) is not None:
        raise Forbidden("CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header.")
    return bag_services.bag_for_request(request, create=create)


def _bag(request: HttpRequest, token: str, *, create: bool = False) -> tuple[Bag | None, str | None]:
    if token == CURRENT:
        return _session_bag(request, create=create), None
    return api_bag_get(token), token


def _answer(request: HttpRequest, bag: Bag | None, token: str | None) -> dict[str, Any]:
    return presenters.bag(request, bag_selectors.bag_summary(bag), token)


@router.post(
    "/bags",
    response={201: BagOut, **errors(400, 401, 403, 404, 409, 429)},
    throttle=[Limit("bag")],
    summary="Create a bag (its token comes once, in the answer)",
    openapi_extra=links.BAG_CREATED,
)
def bag_create(request: HttpRequest, body: BagCreateIn | None = None) -> Status[dict[str, Any]]:
    """A new bag, with ``lines`` in it when given (all or none: one refused line, e.g. sold out
    (409), creates no bag)."""
    with transaction.atomic():
        bag, token = api_bag_create(caller(request).key)
        for line in body.lines if body else []:
            bag_services.bag_add(bag, line.variant_id, line.quantity)
    return Status(201, _answer(request, bag, token))


@router.get(
    "/bags/{token}",
    response={200: BagOut, **errors(400, 401, 403, 404, 429)},
    throttle=[Limit("bag")],
    summary="The bag: lines at today's prices, problems, subtotal",
)
def bag_get(request: HttpRequest, token: BagToken) -> dict[str, Any]:
    bag, held = _bag(request, token)
    return _answer(request, bag, held)


@router.post(
    "/bags/{token}/lines",
    response={201: BagOut, **errors(400, 401, 403, 404, 409, 429)},
    throttle=[Limit("bag")],
    summary="Add units of one size",
    openapi_extra=links.LINE_ADDED,
)
def bag_line_add(request: HttpRequest, body: BagAddIn, token: BagToken) -> Status[dict[str, Any]]:
    """409: sold out, more than in stock, or no longer sold. 404: no such size."""
    bag, held = _bag(request, token, create=True)
    assert bag is not None
    bag_services.bag_add(bag, body.variant_id, body.quantity)
    return Status(201, _answer(request, bag, held))


@router.patch(
    "/bags/{token}/lines/{line_id}",
    response={200: BagOut, **errors(400, 401, 403, 404, 409, 429)},
    throttle=[Limit("bag")],
    summary="Change a line's quantity (0 removes it) or size",
)
def bag_line_update(
    request: HttpRequest,
    body: BagLineUpdateIn,
    token: BagToken,
    line_id: Id,
) -> dict[str, Any]:
    bag, held = _bag(request, token)
    if bag is None:
        raise NotFound("That item is not in your bag any more.")
    bag_services.bag_line_update(bag, line_id, quantity=body.quantity, variant_id=body.variant_id)
    return _answer(request, bag, held)


@router.delete(
    "/bags/{token}/lines/{line_id}",
    response={200: BagOut, **errors(400, 401, 403, 404, 429)},
    throttle=[Limit("bag")],
    summary="Remove a line",
)
def bag_line_remove(
    request: HttpRequest,
    token: BagToken,
    line_id: Id,
) -> dict[str, Any]:
    bag, held = _bag(request, token)
    if bag is None:
        raise NotFound("That item is not in your bag any more.")
    bag_services.bag_line_remove(bag, line_id)
    return _answer(request, bag, held)
