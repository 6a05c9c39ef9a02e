"""Generated shopper input (Hypothesis): NaN, infinities, huge exponents, NUL, very long
strings, numbers of every kind and several values for one field, sent to every shopper-facing
form and query parameter: the catalogue's filters, text search, the bag (add, update, remove),
each checkout step, the accounts' forms, the photo-search fields, find similar's toggles and
the search API's parameters. No answer is a 5xx, and a refused post writes nothing.

Bounded (a fixed number of examples per form, derandomized) so that it runs in the fast tier."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bag.models import BagLine
from orders.models import Order
from shop.selectors import FACETS
from tests.support.embeddings import store_vector
from tests.support.shopping import add_to_bag, checkout_to_review, priced_product, variant

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing example is printed as found
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# The values that broke something once, or could: non-finite and extreme decimals, NUL,
# ids past 64 bits, other digits, markup, very long text.
NASTY = st.sampled_from(
    [
        "NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "inf", "1e-999999999", "0E-99999999", "1E+999999999",
        "-0", "0", "-1", "1.5", "1e3", "99999999999999999999", str(2**63), "\x00", "a\x00b", "%00", "１２", "٣",
        " ", "", "x" * 70, "k" * 65, "y" * 20_000, "<script>alert(1)</script>", "../../etc/passwd", "'; --",
        "0.005", "123456789012.345", "0,5", "1_000",
    ]
)  # fmt: skip
VALUE = st.one_of(
    NASTY,
    st.text(max_size=200),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
# A field is left out, sent once, or sent several times (a list where one value is expected).
FIELD = st.one_of(st.none(), VALUE, st.lists(VALUE, min_size=2, max_size=3))


def _fields(names: list[str]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({name: FIELD for name in names}).map(
        lambda data: {k: v for k, v in data.items() if v is not None}
    )


def _counts() -> tuple[int, int, int]:
    return Order.objects.count(), BagLine.objects.count(), get_user_model().objects.count()


@pytest.fixture
def shopper(settings, make_product) -> tuple[Client, object]:
    """A shopper with one item in the bag and checkout filled in up to the review; rate
    limits and sign-in lockouts off (they would answer 429 before the forms are reached)."""
    settings.RATELIMIT_ENABLED = False
    settings.AXES_ENABLED = False
    product = priced_product(make_product, "500.00", name="Blue Shirt")
    store_vector(product, seed=1)  # find similar has something to search
    store_vector(priced_product(make_product, "700.00", name="Red Kurta"), seed=2)
    client = Client(raise_request_exception=False)
    add_to_bag(client, variant(product, "M"))
    checkout_to_review(client)
    return client, product


def _no_5xx(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"


CATALOGUE = ["q", "sort", "page", "min_price", "max_price", *FACETS]


@pytest.mark.slow  # over a second of generated requests: CI runs it with the rest
@EXAMPLES
@given(params=_fields(CATALOGUE))
def test_catalogue_and_search_parameters(shopper, params) -> None:
    client, _product = shopper
    for url in (reverse("shop:catalogue"), reverse("shop:home")):
        _no_5xx(client.get(url, params), f"GET {url} {params!r}")


@EXAMPLES
@given(data=_fields(["variant", "quantity", "next"]), line=st.one_of(st.integers(-5, 5), st.just(10**20)))
def test_bag_forms(shopper, data, line) -> None:
    client, _product = shopper
    own = BagLine.objects.values_list("pk", flat=True).first()
    line_id = (own or 1) if line == 0 else abs(line) + 1_000_000
    before = _counts()
    _no_5xx(client.post(reverse("bag:add"), data), f"bag add {data!r}")
    _no_5xx(client.post(reverse("bag:line_update", args=[line_id]), data), f"line update {data!r}")
    if line != 0:  # another bag's or no line: refused
        _no_5xx(client.post(reverse("bag:line_remove", args=[line_id]), data), f"line remove {data!r}")
        assert BagLine.objects.count() == before[1]
    assert Order.objects.count() == before[0]


DETAILS = ["email", "full_name", "address_line1", "address_line2", "city", "postcode", "country", "phone"]


@pytest.mark.slow  # over a second of generated requests: CI runs it with the rest
@EXAMPLES
@given(
    details=_fields(DETAILS),
    shipping=_fields(["method"]),
    review=_fields(["idempotency_key", "expected_total"]),
)
def test_checkout_steps(shopper, details, shipping, review) -> None:
    client, _product = shopper
    before = _counts()
    _no_5xx(client.post(reverse("checkout:details"), details), f"details {details!r}")
    _no_5xx(client.post(reverse("checkout:shipping"), shipping), f"shipping {shipping!r}")
    response = client.post(reverse("checkout:review"), review)
    _no_5xx(response, f"review {review!r}")
    assert response.status_code != 302, "a generated review post placed an order"
    assert _counts() == before
    for number in ("LA-1", "x" * 300, "%00", "a%00b"):
        for url in (f"/checkout/orders/{number}/pay/", f"/account/orders/{number}/"):
            _no_5xx(client.get(url), url)


@EXAMPLES
@given(
    login=_fields(["username", "password", "next"]),
    signup=_fields(["username", "email", "password1", "password2"]),
    reset=_fields(["email"]),
)
def test_accounts_forms(shopper, login, signup, reset) -> None:
    client, _product = shopper
    before = _counts()
    _no_5xx(client.post(reverse("accounts:login"), login), f"login {login!r}")
    response = client.post(reverse("accounts:signup"), signup)
    _no_5xx(response, f"sign up {signup!r}")
    if response.status_code != 302:
        assert _counts() == before
    _no_5xx(client.post(reverse("accounts:password_reset"), reset), f"password reset {reset!r}")


PHOTO = ["q", "box", "k", "in_stock", "gender", "master", "sub", "type", "colour", "season", "usage", "year"]


@pytest.mark.slow  # over a second of generated requests: CI runs it with the rest
@EXAMPLES
@given(fields=_fields(PHOTO))
def test_photo_search_fields_and_find_similar_toggles(shopper, fields) -> None:
    client, product = shopper
    before = _counts()
    _no_5xx(client.post(reverse("visualsearch:photo_search"), fields), f"photo search {fields!r}")
    _no_5xx(client.get(reverse("visualsearch:photo_search"), fields), f"photo search GET {fields!r}")
    _no_5xx(client.post(reverse("visualsearch:api_photo_search"), fields), f"photo API {fields!r}")
    _no_5xx(client.get(reverse("visualsearch:similar", args=[product.pk]), fields), f"similar {fields!r}")
    _no_5xx(client.get(reverse("visualsearch:api_similar", args=[product.pk]), fields), f"similar API {fields!r}")
    assert _counts() == before


def test_the_generated_values_include_the_cases_that_once_answered_500() -> None:
    """The strategy really sends what broke before (so a pass means something)."""
    seen: set[str] = set()
    collect: Callable[[str], None] = seen.add

    @settings(max_examples=300, derandomize=True, database=None)
    @given(NASTY)
    def draw(value: str) -> None:
        collect(value)

    draw()
    assert {"NaN", "sNaN", "1e-999999999", "0E-99999999", "k" * 65, "a\x00b", "1.5"} <= seen
