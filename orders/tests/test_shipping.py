"""Shipping an order (orders.services.order_mark_shipped, the admin's action and change form)
and the shipping e-mail: queued once the change is committed, sent once however often the
task runs (orders.services.order_shipping_email_send). The real worker's side is in
test_shipping_worker.py."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse

from core.errors import InvalidInput
from orders.models import Order, OrderStatus
from orders.services import (
    OrderItem,
    OrderStateError,
    order_mark_paid,
    order_mark_shipped,
    order_shipping_email_send,
)
from orders.tasks import order_shipping_email
from tests.support.shopping import place_directly, priced_product, variant


@pytest.fixture
def paid_order(make_product, django_capture_on_commit_callbacks) -> Order:
    product = priced_product(make_product, "250.00", {"M": 3}, name="Parcel Tee")
    order = place_directly([OrderItem(variant(product, "M").pk, 2)], "ship")
    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order.pk)
    mail.outbox.clear()  # the confirmation
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db
def test_marking_shipped_records_tracking_and_emails_the_customer_once(
    paid_order: Order, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = order_mark_shipped(paid_order, tracking_number=" DL123 ", tracking_url="https://track.example/DL123")
    assert (order.status, order.tracking_number, order.tracking_url) == (
        OrderStatus.SHIPPED,
        "DL123",
        "https://track.example/DL123",
    )
    assert order.shipped_at is not None
    (message,) = mail.outbox  # the task ran in-process (the tests' eager Celery)
    assert message.to == ["a@example.com"]
    assert message.subject == f"Your Lookalike order {paid_order.number} is on its way"
    assert "DL123" in message.body and "https://track.example/DL123" in message.body
    assert "2 × Parcel Tee (size M)" in message.body
    assert "/orders/lookup/" in message.body and "/returns/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and 'href="https://track.example/DL123"' in str(html)
    assert Order.objects.get(pk=order.pk).shipping_email_sent_at is not None
    # The task again (a retry, a duplicate delivery): nothing more is sent.
    assert order_shipping_email.delay(order.pk).get() is False
    assert order_shipping_email_send(order.pk) is False
    assert len(mail.outbox) == 1
    # Marking it shipped again is refused: it is not paid any more.
    with pytest.raises(OrderStateError, match="shipped, not paid"):
        order_mark_shipped(order)


@pytest.mark.django_db
def test_a_tracking_link_must_be_a_web_address(paid_order: Order) -> None:
    with pytest.raises(InvalidInput, match="must be a web address"):
        order_mark_shipped(paid_order, tracking_url="javascript:alert(1)")
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID


@pytest.mark.django_db
def test_no_shipping_email_for_an_order_that_is_not_shipped(paid_order: Order) -> None:
    assert order_shipping_email_send(paid_order.pk) is False
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_failed_send_is_not_marked_sent_so_the_retry_sends_it(
    paid_order: Order, settings, django_capture_on_commit_callbacks
) -> None:
    order_mark_shipped(paid_order)  # on_commit not run: no task yet
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    with pytest.raises(OSError):
        order_shipping_email_send(paid_order.pk)
    assert Order.objects.get(pk=paid_order.pk).shipping_email_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert order_shipping_email_send(paid_order.pk) is True
    assert len(mail.outbox) == 1


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("staff", "s@example.com", "pw-12345-abc"))
    return client


@pytest.mark.django_db
def test_the_admin_action_ships_and_emails(paid_order: Order, staff_client, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "mark_shipped", "_selected_action": [paid_order.pk]},
            follow=True,
        )
    assert "1 order(s) marked shipped." in response.content.decode()
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.SHIPPED
    assert len(mail.outbox) == 1 and "on its way" in mail.outbox[0].subject


def _change_form(order: Order, **fields: object) -> dict[str, object]:
    return {
        "full_name": order.full_name,
        "address_line1": order.address_line1,
        "address_line2": order.address_line2,
        "city": "Mysuru",
        "postcode": order.postcode,
        "country": order.country,
        "phone": order.phone,
        "tracking_number": "",
        "tracking_url": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-id": str(order.lines.get().pk),
        "lines-0-order": str(order.pk),
        **fields,
    }


@pytest.mark.django_db
def test_the_change_form_takes_tracking_and_marks_a_paid_order_shipped(
    paid_order: Order, staff_client, django_capture_on_commit_callbacks
) -> None:
    url = reverse("admin:orders_order_change", args=[paid_order.pk])
    page = staff_client.get(url).content.decode()
    assert "Mark shipped and e-mail the customer" in page
    # Tracking (and a corrected address) saved without shipping: no e-mail, still paid.
    response = staff_client.post(url, _change_form(paid_order, tracking_number="AWB-1", city="Mysuru"))
    assert response.status_code == 302, response.content.decode()[:3000]
    order = Order.objects.get(pk=paid_order.pk)
    assert (order.status, order.tracking_number, order.city) == (OrderStatus.PAID, "AWB-1", "Mysuru")
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url,
            _change_form(
                paid_order, tracking_number="AWB-1", tracking_url="https://track.example/AWB-1", mark_shipped="on"
            ),
        )
    assert response.status_code == 302
    order = Order.objects.get(pk=paid_order.pk)
    assert order.status == OrderStatus.SHIPPED and order.tracking_url == "https://track.example/AWB-1"
    (message,) = mail.outbox
    assert "AWB-1" in message.body
    assert LogEntry.objects.filter(object_id=str(order.pk)).exists()
    # Shipped: the form no longer offers to ship it; the e-mail is not sent twice.
    assert "Mark shipped and e-mail the customer" not in staff_client.get(url).content.decode()
    assert len(mail.outbox) == 1
