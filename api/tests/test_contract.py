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
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25
STATEFUL_EXAMPLES = 15


# The site as its WSGI server runs it (middleware included), in this process.
SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
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


def test_stateful_search_similar_bag(catalogue, fake_model: None, make_key, in_test_transaction: None) -> None:
    """Sequences that follow the schema's links (api/links.py): list → product → similar → a
    bag holding its first size → add, change, remove lines; each answer checked as above. The
    run must reach the end of the chain: a bag made from a product's own size, a line changed."""
    _, key = make_key(scope_read=True, scope_bag=True)
    seen: set[tuple[str, str, int]] = set()

    class Workflow(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case) -> dict:
            return {"headers": {"X-API-Key": key}}

        def after_call(self, response, case) -> None:
            seen.add((case.method.upper(), case.operation.path, response.status_code))
            if case.operation.path == "/api/v1/bags" and response.status_code == 201 and response.json()["lines"]:
                seen.add(("a bag made with a product's size",))

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert ("GET", "/api/v1/products/{product_id}/similar", 200) in seen
    assert ("a bag made with a product's size",) in seen
