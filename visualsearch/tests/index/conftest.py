from __future__ import annotations

from collections.abc import Callable

import pytest

from shop.models import Product
from visualsearch.tests.index.support import catalogue_embed


@pytest.fixture
def catalogue(make_product: Callable[..., Product]) -> list[Product]:
    """24 real catalogue products over the common article types, embedded."""
    return catalogue_embed(make_product)
