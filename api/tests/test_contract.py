"""The API's contract, fuzzed from its own live schema (schemathesis + Hypothesis): every
operation, with generated valid and invalid input, answers no 5xx, only statuses its schema
documents, in the documented content type and shape. Then stateful runs follow the schema's
links (create a bag → add a size → change → remove; find similar → add to bag).

A bounded number of examples per operation keeps the whole module well under a minute."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30


SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """Requests go through the WSGI handler, which closes the database connection when each
    ends: kept open here (as Django's test client does) so the test's transaction survives."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_operation_keeps_its_contract(
    operation, catalogue, fake_model: None, make_key, in_test_transaction: None
) -> None:
    _, key = make_key(scope_read=True, scope_bag=True)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    def keeps_contract(case) -> None:
        case.call_and_validate(checks=CHECKS, headers={"X-API-Key": key})

    keeps_contract()
