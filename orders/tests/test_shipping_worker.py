"""The shipping e-mail through a REAL Celery worker process (Redis broker of this run's own,
the PostgreSQL test database, the worker's e-mail written to files): staff mark the order
shipped, the worker sends one e-mail; the task delivered again (a retry, a duplicate) sends
nothing more."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from django.db import connection

from orders.models import Order
from orders.services import OrderItem, order_mark_paid, order_mark_shipped
from orders.tasks import order_shipping_email
from tests.support.servers import Worker, database_url, leased_redis_db, publishing_to, start_worker
from tests.support.shopping import place_directly, priced_product, variant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-mail")


@pytest.fixture(scope="module")
def shop_worker(
    django_db_setup: None, mail_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Worker, str]]:
    """A worker on the "shop" queue (the orders' tasks), writing its e-mail to ``mail_dir``."""
    if connection.vendor != "postgresql":
        pytest.fail("the worker process must share the test database: set DATABASE_URL to PostgreSQL", pytrace=False)
    base = os.environ.get("REDIS_URL", "")
    if not base:
        pytest.fail("REDIS_URL is not set: the real-worker tests need Redis", pytrace=False)
    with leased_redis_db(base) as broker:
        worker = start_worker(
            database_url(connection.settings_dict),
            broker,
            queues="shop",
            log_dir=tmp_path_factory.mktemp("worker"),
            EMAIL_URL=f"filemail:///{mail_dir}",
        )
        try:
            worker.wait_ready(timeout=120)
            yield worker, broker
        finally:
            worker.stop()
            worker.kill()


def _messages(mail_dir: Path) -> list[Message]:
    """Every e-mail the worker wrote (the file backend puts several in one file, each
    followed by a line of dashes)."""
    found = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(message_from_bytes(chunk))
    return found


def _wait(what: str, predicate, worker: Worker, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if not worker.alive():
            pytest.fail(f"the worker exited waiting for {what}:\n{worker.log()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log()[-4000:]}")
        time.sleep(0.3)


def test_staff_mark_shipped_and_the_worker_sends_one_email(
    shop_worker: tuple[Worker, str], mail_dir: Path, make_product
) -> None:
    worker, broker = shop_worker
    product = priced_product(make_product, "250.00", {"M": 3}, name="Worker Tee")
    order = place_directly([OrderItem(variant(product, "M").pk, 1)], "worker-ship")
    with publishing_to(broker):
        order_mark_paid(order.pk)  # the confirmation goes through the worker too
        _wait("the confirmation e-mail", lambda: len(_messages(mail_dir)) == 1, worker)
        order_mark_shipped(Order.objects.get(pk=order.pk), tracking_number="AWB-77")
        _wait(
            "the shipping e-mail",
            lambda: Order.objects.get(pk=order.pk).shipping_email_sent_at is not None,
            worker,
        )
        # The same task delivered twice more: the worker answers "not sent" both times.
        assert order_shipping_email.delay(order.pk).get(timeout=60) is False
        assert order_shipping_email.delay(order.pk).get(timeout=60) is False
    messages = _messages(mail_dir)
    subjects = sorted(m["Subject"] for m in messages)  # one file per message, named in no useful order
    assert subjects == [f"Your Lookalike order {order.number}", f"Your Lookalike order {order.number} is on its way"]
    (shipped,) = (m for m in messages if m["Subject"].endswith("is on its way"))
    assert shipped["To"] == "a@example.com"
    text = next(part for part in shipped.walk() if part.get_content_type() == "text/plain")
    assert "AWB-77" in text.get_payload(decode=True).decode()
    assert worker.log().count("orders.tasks.order_shipping_email") >= 3  # three runs, one e-mail
