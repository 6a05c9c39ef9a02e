"""Back-in-stock e-mails through a REAL Celery worker (two processes, Redis broker, the
PostgreSQL test database, a file outbox): a restock sends each waiting shopper exactly one
e-mail, however many stock changes arrive at once and however often the task runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from django.db import connection

from shop.models import ProductVariant
from shop.services import catalogue_changes_announce
from stockalerts.models import StockAlert
from stockalerts.services import stock_alert_subscribe
from stockalerts.tasks import stock_alerts_send
from tests.support.servers import Worker, database_url, leased_redis_db, publishing_to, start_worker
from tests.support.shopping import priced_product, variant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    if connection.vendor != "postgresql":
        pytest.fail("the worker must share the test database: set DATABASE_URL to PostgreSQL", pytrace=False)
    try:
        with leased_redis_db(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0") as url:
            yield url
    except LookupError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def mail_worker(
    django_db_setup: None, broker: str, outbox: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """Two worker processes (prefork), so that two tasks really run at once; mail to files."""
    worker = start_worker(
        database_url(connection.settings_dict),
        broker,
        queues="shop",  # where CELERY_TASK_ROUTES sends stockalerts.tasks
        concurrency=2,
        log_dir=tmp_path_factory.mktemp("worker"),
        EMAIL_URL=f"filemail:///{outbox}",
        SITE_URL="https://shop.example",
    )
    try:
        worker.wait_ready(timeout=120)
        yield worker
    finally:
        worker.stop()
        worker.kill()


def sent(outbox: Path) -> list:
    """Every message the worker wrote (the file backend appends messages separated by a line of dashes)."""
    messages = []
    for path in sorted(outbox.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(message_from_bytes(chunk.strip()))
    return messages


def wait_for_mail(outbox: Path, count: int, worker: Worker, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sent(outbox)
        if len(messages) >= count:
            return messages
        time.sleep(0.3)
    pytest.fail(f"{len(sent(outbox))} of {count} e-mails after {timeout} s; worker log:\n{worker.log()[-4000:]}")


def test_a_restock_sends_each_shopper_exactly_one_mail(make_product, mail_worker: Worker, broker, outbox) -> None:
    product = priced_product(make_product, sizes={"S": 0, "M": 0}, name="Concurrent Restock Tee")
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        stock_alert_subscribe(product=product, email=email)
    stock_alert_subscribe(product=product, email="m@example.com", variant=variant(product, "M"))
    with publishing_to(broker):
        ProductVariant.objects.filter(product=product, size="S").update(stock=4)
        # The restock announced (which queues the task after commit), and the same task queued
        # five more times from threads at once: a retry storm and concurrent restocks.
        catalogue_changes_announce([product.pk])
        threads = [threading.Thread(target=stock_alerts_send.delay, args=([product.pk],)) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        messages = wait_for_mail(outbox, 3, mail_worker)
        time.sleep(3)  # let every queued task finish: none may send again
    messages = sent(outbox)
    assert sorted(m["To"] for m in messages) == ["a@example.com", "b@example.com", "c@example.com"]
    assert all(m["Subject"] == "Back in stock: Concurrent Restock Tee" for m in messages)
    # (a long header is folded over lines: compare it unfolded)
    unsubscribe = ["".join(m["List-Unsubscribe"].split()) for m in messages]
    assert all(u.startswith("<https://shop.example/notify/unsubscribe/") for u in unsubscribe), unsubscribe
    assert all(
        u.strip("<>") in m.get_payload()[0].get_payload(decode=True).decode()
        for u, m in zip(unsubscribe, messages, strict=True)
    )
    statuses = dict(StockAlert.objects.values_list("email", "status"))
    assert statuses == {
        "a@example.com": "notified",
        "b@example.com": "notified",
        "c@example.com": "notified",
        "m@example.com": "waiting",  # size M is still sold out
    }
    log = mail_worker.log()
    assert "stockalerts.tasks.stock_alerts_send" in log and "succeeded" in log
