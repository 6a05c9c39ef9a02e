"""The recording benchmark times real page requests with recording on and off, and only the
"on" ones leave events in the buffer."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from insights import buffer
from lab.bench_insights import recording_cost
from tests.support.embeddings import store_vector

pytestmark = pytest.mark.django_db


def test_recording_cost_times_both_settings_and_records_only_when_on(make_product) -> None:
    products = [make_product(name=f"Grey Sock {i}") for i in range(4)]
    for i, product in enumerate(products):
        store_vector(product, seed=i)
    buffer.events_take(1_000_000)
    (figure,) = recording_cost({"find similar": [reverse("visualsearch:similar", args=[products[0].pk])]}, rounds=4)
    assert figure.requests == 4
    assert figure.off_p50_ms > 0 and figure.on_p50_ms > 0
    # Four recorded requests (the warm-up, with the default setting, records too: one more).
    assert buffer.events_waiting() == 4 + 1
    buffer.events_take(1_000_000)


def test_the_command_says_what_it_needs() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No embedded products"):
        call_command("bench_insights", rounds=2)
