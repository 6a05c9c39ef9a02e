"""pytest's root conftest: the shared fixtures of ``tests.support.fixtures`` for every test
folder (core/tests, shop/tests, visualsearch/tests and tests/)."""

pytest_plugins = ["tests.support.fixtures", "tests.support.search_catalogue"]
