"""Refusals never leave a body half-read (issue 19, section 4): a rate limit's 429 (or a 413
from Content-Length) is decided before the upload is read; whatever the view left of the body
is then read and discarded before the answer goes back, so the proxy's kept-alive connection
to gunicorn stays in step. (Left on the connection, those bytes broke the next request on it:
502s for the attacker and for other shoppers. tests/test_proxy.py floods the real stack.)"""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.handlers.wsgi import WSGIHandler

BODY = b'--b\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n\r\n' + b"Z" * 300_000


def _post(path: str, body: bytes = BODY, **extra: str) -> tuple[str, io.BytesIO]:
    stream = io.BytesIO(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "203.0.113.77",
        "CONTENT_TYPE": "multipart/form-data; boundary=b",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": stream,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **extra,
    }
    statuses: list[str] = []
    response = WSGIHandler()(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(response)
    response.close()
    return statuses[0], stream


@pytest.fixture
def limited(settings):
    settings.RATELIMIT_ENABLED = True
    settings.RATELIMITS = {**settings.RATELIMITS, "photo_search": "1/m"}
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/search/photo", "/search/photo/"])
def test_a_rate_limited_upload_is_read_to_its_end_before_the_429(limited, path) -> None:
    _post(path)  # the one allowed
    status, stream = _post(path)
    assert status.startswith("429")
    assert stream.tell() == len(BODY)


@pytest.mark.django_db
def test_an_upload_refused_from_its_content_length_is_drained_too(settings) -> None:
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 100_000
    status, stream = _post("/api/search/photo")
    assert status.startswith("413")
    assert stream.tell() == len(BODY)


@pytest.mark.django_db
def test_bodies_past_the_drain_bound_are_left_to_the_server(settings) -> None:
    from core.middleware import DRAIN_MAX_BYTES

    huge = b"x" * (DRAIN_MAX_BYTES + 1)
    status, stream = _post("/api/search/photo", huge)
    assert status.startswith("413")
    assert stream.tell() == 0  # not read into this process: gunicorn discards or closes
