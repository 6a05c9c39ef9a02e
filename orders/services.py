"""Writes of orders: placing one (stock reserved under row locks), payment, shipping,
cancelling and releasing the stock of orders never paid."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from orders.conf import orders_settings
from orders.models import Order, OrderLine, OrderStatus
from orders.signals import order_paid, order_refund_needed, order_shipped
from shop.conf import shop_settings
from shop.models import ProductVariant
from shop.money import money_format
from shop.services import catalogue_changes_announce

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderItem:
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    address_line1: str
    city: str
    postcode: str
    country: str
    address_line2: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Unavailable:
    """One item that cannot be bought as asked."""

    product_name: str
    size: str
    wanted: int
    available: int

    def __str__(self) -> str:
        if self.available <= 0:
            return f"{self.product_name} (size {self.size}) is sold out"
        return f"{self.product_name} (size {self.size}): only {self.available} left, you asked for {self.wanted}"


class OutOfStock(Conflict):
    """Some items are sold out or short; nothing was reserved."""

    def __init__(self, items: Sequence[Unavailable]) -> None:
        self.items = list(items)
        super().__init__("Sorry, not everything is in stock any more: " + "; ".join(str(i) for i in self.items) + ".")


class PriceChanged(Conflict):
    """The total differs from the one the shopper reviewed; nothing was reserved."""

    def __init__(self, expected: Decimal, actual: Decimal) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(
            f"Prices changed while you were checking out: the total is now {money_format(actual)} "
            f"(was {money_format(expected)}). Please review your order again."
        )


class OrderStateError(Conflict):
    pass


def _order_number() -> str:
    return f"{orders_settings.NUMBER_PREFIX}-{timezone.now():%y%m%d}-{secrets.token_hex(3).upper()}"


def _merge(items: Sequence[OrderItem]) -> dict[int, int]:
    wanted: dict[int, int] = {}
    for item in items:
        if item.quantity < 1:
            raise InvalidInput("Every item needs a quantity of at least 1.")
        wanted[item.variant_id] = wanted.get(item.variant_id, 0) + item.quantity
    return wanted


def order_place(
    *,
    items: Sequence[OrderItem],
    email: str,
    address: ShippingAddress,
    shipping_method: str,
    shipping_method_name: str,
    shipping_cost: Callable[[Decimal], Decimal],
    idempotency_key: str,
    user: User | None = None,
    expected_total: Decimal | None = None,
) -> Order:
    """Place an order pending payment, reserving its stock, in one transaction.

    The variants are locked (``SELECT … FOR UPDATE``, in primary-key order so that two orders
    never wait on each other), checked and decremented under the lock: stock is never oversold
    and never negative (the CHECK constraint stands behind this). Prices are the products'
    current ones; with ``expected_total`` (what the shopper reviewed) a different total raises
    ``PriceChanged``. The same ``idempotency_key`` always gives the same single order.
    Raises ``OutOfStock`` listing every item that is sold out or short; nothing is reserved then."""
    if not items:
        raise InvalidInput("Your bag is empty.")
    if not idempotency_key:
        raise InvalidInput("A checkout submission needs an idempotency key.")
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    wanted = _merge(items)
    try:
        with transaction.atomic():
            variants = list(
                ProductVariant.objects.select_for_update(of=("self",))
                .select_related("product")
                .filter(pk__in=wanted)
                .order_by("pk")
            )
            # A concurrent submission with the same key may have committed while we waited.
            existing = Order.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
            found = {v.pk for v in variants}
            if found != set(wanted):
                raise InvalidInput("Some items of your bag no longer exist; please check your bag.")
            problems = [
                Unavailable(v.product.name, v.size, wanted[v.pk], v.stock if v.product.is_active else 0)
                for v in variants
                if not v.product.is_active or v.product.price is None or v.stock < wanted[v.pk]
            ]
            if problems:
                raise OutOfStock(problems)
            # Every product has a price here (one without is a problem above).
            prices = {v.pk: v.product.price for v in variants if v.product.price is not None}
            subtotal = sum((prices[v.pk] * wanted[v.pk] for v in variants), Decimal("0.00"))
            cost = shipping_cost(subtotal)
            total = subtotal + cost
            if expected_total is not None and total != expected_total:
                raise PriceChanged(expected_total, total)
            order = Order.objects.create(
                number=_order_number(),
                user=user if user is not None and user.is_authenticated else None,
                email=email,
                full_name=address.full_name,
                address_line1=address.address_line1,
                address_line2=address.address_line2,
                city=address.city,
                postcode=address.postcode,
                country=address.country,
                phone=address.phone,
                shipping_method=shipping_method,
                shipping_method_name=shipping_method_name,
                currency=shop_settings.CURRENCY,
                subtotal=subtotal,
                shipping_cost=cost,
                total=total,
                idempotency_key=idempotency_key,
            )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    product=v.product,
                    variant=v,
                    product_name=v.product.name,
                    size=v.size,
                    unit_price=prices[v.pk],
                    quantity=wanted[v.pk],
                    image_name=(v.product.thumbnail.name or v.product.image.name or "") if v.product.image else "",
                )
                for v in variants
            )
            for v in variants:
                ProductVariant.objects.filter(pk=v.pk).update(stock=F("stock") - wanted[v.pk])
            product_ids = sorted({v.product_id for v in variants})
            transaction.on_commit(lambda: catalogue_changes_announce(product_ids))
    except IntegrityError:
        # Two submissions with one key raced past both checks: the other one won.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return order


def _stock_return(order: Order) -> None:
    """Put the order's units back (inside the caller's transaction, the order locked)."""
    if order.stock_released:
        return
    lines = list(order.lines.exclude(variant__isnull=True).order_by("variant_id"))
    returned = [(line.variant_id, line.quantity) for line in lines if line.variant_id is not None]
    ids = [variant_id for variant_id, _quantity in returned]
    list(ProductVariant.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    for variant_id, quantity in returned:
        ProductVariant.objects.filter(pk=variant_id).update(stock=F("stock") + quantity)
    order.stock_released = True
    product_ids = sorted({line.product_id for line in lines if line.product_id})
    transaction.on_commit(lambda: catalogue_changes_announce(product_ids))


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def order_mark_paid(order_id: int) -> bool:
    """The payment succeeded: pending → paid, and the confirmation email goes out after commit.
    Returns False (and logs) when the order was no longer waiting for payment."""
    with transaction.atomic():
        order = _locked(order_id)
        if order.status == OrderStatus.PAID:
            return True
        if order.status != OrderStatus.PENDING_PAYMENT:
            logger.warning("payment received for order %s in status %s: needs staff attention", order, order.status)
            return False
        order.status = OrderStatus.PAID
        order.paid_at = timezone.now()
        order.save(update_fields=["status", "paid_at", "updated"])
        transaction.on_commit(lambda: order_paid.send(sender=Order, order_id=order.pk))
    return True


def order_flag_payment(order_id: int, problem: str) -> None:
    """A payment arrived that does not match the order: the order is not marked paid, and
    the problem is recorded for staff (the admin's "Payment problem" filter)."""
    with transaction.atomic():
        order = _locked(order_id)
        order.payment_problem = problem[:500]
        order.save(update_fields=["payment_problem", "updated"])
    logger.error("order %s: %s", order, problem)


def _order_advance(order: Order, *, status: str, to: str, refusal: str) -> Order:
    """Move a locked order from ``status`` to ``to``; OrderStateError (``refusal``, formatted
    with the order) from any other status."""
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status != status:
            raise OrderStateError(refusal.format(order=order, status=order.get_status_display().lower()))
        order.status = to
        order.save(update_fields=["status", "updated"])
    return order


def order_mark_shipped(order: Order, *, tracking_number: str = "", tracking_url: str = "") -> Order:
    """Paid → shipped, with the carrier's tracking when staff have it; the shipping e-mail is
    queued once the change is committed (``order_shipped``; it goes once, see
    order_shipping_email_send)."""
    tracking_url = tracking_url.strip()
    if tracking_url:
        try:
            URLValidator(schemes=["http", "https"])(tracking_url)
        except ValidationError:
            raise InvalidInput("The tracking link must be a web address (http or https).") from None
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status != OrderStatus.PAID:
            status = order.get_status_display().lower()
            raise OrderStateError(f"Order {order} is {status}, not paid: not shipped.")
        order.status = OrderStatus.SHIPPED
        order.shipped_at = timezone.now()
        order.tracking_number = tracking_number.strip()[:100] or order.tracking_number
        order.tracking_url = tracking_url[:500] or order.tracking_url
        order.save(update_fields=["status", "shipped_at", "tracking_number", "tracking_url", "updated"])
        order_id = order.pk
        transaction.on_commit(lambda: order_shipped.send(sender=Order, order_id=order_id))
    return order


def order_mark_delivered(order: Order) -> Order:
    return _order_advance(
        order,
        status=OrderStatus.SHIPPED,
        to=OrderStatus.DELIVERED,
        refusal="Order {order} has not been shipped: not delivered.",
    )


def order_cancel(order: Order) -> Order:
    """Cancel an order that has not shipped; its units go back to stock and a paid order's
    money goes back to the customer (``order_refund_needed``: checkout refunds the payment)."""
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
            raise OrderStateError(f"Order {order} is {order.get_status_display().lower()}: it cannot be cancelled.")
        if order.status == OrderStatus.PAID:
            order_refund_needed.send(sender=Order, order=order)
        _stock_return(order)
        order.status = OrderStatus.CANCELLED
        order.save(update_fields=["status", "stock_released", "updated"])
    return order


def order_refund(order: Order) -> Order:
    """Refund a paid, shipped or delivered order. Units of an order not shipped yet go back to
    stock; shipped goods come back to stock only when staff receive them (admin, sizes inline)."""
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status not in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            raise OrderStateError(f"Order {order} is {order.get_status_display().lower()}: nothing to refund.")
        order_refund_needed.send(sender=Order, order=order)
        if order.status == OrderStatus.PAID:
            _stock_return(order)
        order.status = OrderStatus.REFUNDED
        order.save(update_fields=["status", "stock_released", "updated"])
    return order


def orders_release_expired(*, older_than: timedelta | None = None) -> list[str]:
    """Cancel the orders still unpaid after the payment timeout and return their stock.
    Safe to run from several processes at once (rows being handled elsewhere are skipped).
    Returns the numbers of the orders released."""
    if older_than is None:
        older_than = timedelta(minutes=orders_settings.PAYMENT_TIMEOUT_MINUTES)
    cutoff = timezone.now() - older_than
    candidates = Order.objects.filter(
        status=OrderStatus.PENDING_PAYMENT, stock_released=False, created__lt=cutoff
    ).values_list("pk", flat=True)
    released: list[str] = []
    for order_id in list(candidates[:1000]):
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=order_id, status=OrderStatus.PENDING_PAYMENT, stock_released=False)
                .first()
            )
            if order is None:
                continue
            _stock_return(order)
            order.status = OrderStatus.CANCELLED
            order.save(update_fields=["status", "stock_released", "updated"])
            released.append(order.number)
    if released:
        logger.info("released the stock of %d unpaid orders: %s", len(released), ", ".join(released))
    return released


def _email_send(order: Order, *, subject: str, template: str) -> None:
    """E-mail the customer about their order: ``template``.txt and ``template``.html."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.urls import reverse

    site_url = getattr(settings, "SITE_URL", "").rstrip("/")
    context = {
        "order": order,
        "site_url": site_url,
        "lookup_url": site_url + reverse("orders:lookup"),
        "returns_url": site_url + reverse("orders:returns"),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()


def order_confirmation_send(order_id: int) -> None:
    """Email the customer their order confirmation (plain text and HTML)."""
    order = Order.objects.prefetch_related("lines").get(pk=order_id)
    _email_send(order, subject=f"Your Lookalike order {order.number}", template="orders/email/confirmation")


def order_shipping_email_send(order_id: int) -> bool:
    """E-mail the customer that their order is on its way, once: the order is locked while the
    message goes and marked sent in the same transaction, so a task run twice (a retry, a
    duplicate delivery, staff marking it again) sends nothing the second time. A failed send
    leaves it unmarked for the task's retry. Returns whether this call sent it."""
    with transaction.atomic():
        order = _locked(order_id)
        if order.shipping_email_sent_at is not None or order.status != OrderStatus.SHIPPED:
            return False
        _email_send(
            order, subject=f"Your Lookalike order {order.number} is on its way", template="orders/email/shipped"
        )
        order.shipping_email_sent_at = timezone.now()
        order.save(update_fields=["shipping_email_sent_at", "updated"])
    return True
