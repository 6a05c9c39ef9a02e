"""Writes of the bag: find or make the request's bag, add, change, remove, merge on login."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, overload

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from bag.conf import bag_settings
from bag.models import Bag, BagLine
from core.errors import Conflict, InvalidInput, NotFound
from shop.models import ProductVariant

SESSION_KEY = "bag_id"


@overload
def bag_for_request(request: HttpRequest, *, create: Literal[True]) -> Bag: ...


@overload
def bag_for_request(request: HttpRequest, *, create: bool = False) -> Bag | None: ...


def bag_for_request(request: HttpRequest, *, create: bool = False) -> Bag | None:
    """The request's bag: the customer's own, or the one the anonymous session points at.
    With ``create`` a missing bag is made (and remembered in the session)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        bag = Bag.objects.filter(user=user).first()
        if bag is None and create:
            try:
                with transaction.atomic():
                    bag = Bag.objects.create(user=user)
            except IntegrityError:  # two first adds at once
                bag = Bag.objects.get(user=user)
        return bag
    bag_id = request.session.get(SESSION_KEY)
    bag = Bag.objects.filter(pk=bag_id, user__isnull=True).first() if bag_id else None
    if bag is None and create:
        bag = Bag.objects.create()
        request.session[SESSION_KEY] = bag.pk
    return bag


def _max_quantity() -> int:
    return int(bag_settings.MAX_QUANTITY_PER_LINE)


def _variant(variant_id: int | str) -> ProductVariant:
    try:
        variant = ProductVariant.objects.select_related("product").get(pk=int(variant_id))
    except (ProductVariant.DoesNotExist, ValueError, TypeError):
        raise NotFound("That size does not exist.") from None
    if not variant.product.is_active or variant.product.price is None:
        raise Conflict(f"{variant.product.name} is no longer available.")
    return variant


def bag_add(bag: Bag, variant_id: int | str, quantity: int = 1) -> BagLine:
    """Add units of one size; a size already in the bag gets more units. Refuses sold-out
    sizes and more units than are in stock."""
    if quantity < 1:
        raise InvalidInput("Choose at least one.")
    variant = _variant(variant_id)
    if variant.stock < 1:
        raise Conflict(f"{variant.product.name} in size {variant.size} is sold out.")
    with transaction.atomic():
        line = BagLine.objects.select_for_update().filter(bag=bag, variant=variant).first()
        new_quantity = (line.quantity if line else 0) + quantity
        if new_quantity > min(variant.stock, _max_quantity()):
            limit = min(variant.stock, _max_quantity())
            raise Conflict(f"Only {limit} of {variant.product.name} in size {variant.size} can go in your bag.")
        if line is None:
            line = BagLine.objects.create(
                bag=bag, variant=variant, quantity=new_quantity, price_when_added=variant.product.price
            )
        else:
            line.quantity = new_quantity
            line.save(update_fields=["quantity"])
        bag.save(update_fields=["updated"])
    return line


def _line(bag: Bag, line_id: int | str) -> BagLine:
    try:
        return BagLine.objects.select_related("variant__product").get(pk=int(line_id), bag=bag)
    except (BagLine.DoesNotExist, ValueError, TypeError):
        raise NotFound("That item is not in your bag any more.") from None


def bag_line_update(
    bag: Bag, line_id: int | str, *, quantity: int, variant_id: int | str | None = None
) -> BagLine | None:
    """Change a line's quantity (0 removes it) and/or size (another size of the same product;
    if that size is already in the bag the two lines become one)."""
    line = _line(bag, line_id)
    if quantity < 0 or quantity > _max_quantity():
        raise InvalidInput(f"Choose a quantity between 0 and {_max_quantity()}.")
    if quantity == 0:
        line.delete()
        return None
    with transaction.atomic():
        if variant_id is not None and int(variant_id) != line.variant_id:
            variant = _variant(variant_id)
            if variant.product_id != line.variant.product_id:
                raise InvalidInput("Choose a size of the same product.")
            other = BagLine.objects.select_for_update().filter(bag=bag, variant=variant).first()
            if other is not None:
                quantity = min(quantity + other.quantity, _max_quantity())
                other.delete()
            line.variant = variant
        else:
            variant = line.variant
        if quantity > variant.stock:
            raise Conflict(
                f"Only {variant.stock} of {variant.product.name} in size {variant.size} left."
                if variant.stock
                else f"{variant.product.name} in size {variant.size} is sold out."
            )
        line.quantity = quantity
        line.save(update_fields=["quantity", "variant"])
    return line


def bag_line_remove(bag: Bag, line_id: int | str) -> None:
    _line(bag, line_id).delete()


def bag_merge(source: Bag, target: Bag) -> None:
    """Move the lines of ``source`` (the anonymous session bag) into ``target`` (the customer's
    bag); the same size in both adds up (up to the per-line maximum). ``source`` is deleted."""
    if source.pk == target.pk:
        return
    with transaction.atomic():
        existing = {line.variant_id: line for line in BagLine.objects.select_for_update().filter(bag=target)}
        for line in source.lines.all():
            mine = existing.get(line.variant_id)
            if mine is None:
                BagLine.objects.create(
                    bag=target,
                    variant_id=line.variant_id,
                    quantity=line.quantity,
                    price_when_added=line.price_when_added,
                )
            else:
                mine.quantity = min(mine.quantity + line.quantity, _max_quantity())
                mine.save(update_fields=["quantity"])
        source.delete()


def bag_login_merge(request: HttpRequest, user: User) -> None:
    """On login: the session's anonymous bag joins the customer's bag."""
    bag_id = request.session.pop(SESSION_KEY, None)
    if not bag_id:
        return
    source = Bag.objects.filter(pk=bag_id, user__isnull=True).first()
    if source is None:
        return
    target = Bag.objects.filter(user=user).first()
    if target is None:
        source.user = user
        source.save(update_fields=["user", "updated"])
        return
    bag_merge(source, target)


def bag_clear(bag: Bag) -> None:
    bag.lines.all().delete()


def bags_prune_abandoned(*, days: int | None = None) -> int:
    """Delete anonymous bags untouched for ``days`` (default BAG_ANONYMOUS_BAG_DAYS): their
    sessions have expired or been abandoned. Customers' bags are kept. Returns how many bags."""
    cutoff = timezone.now() - timedelta(days=bag_settings.ANONYMOUS_BAG_DAYS if days is None else days)
    _, per_model = Bag.objects.filter(user__isnull=True, updated__lt=cutoff).delete()
    return per_model.get("bag.Bag", 0)
