"""Deploy checks and the smaller holes of issue 12.

- `manage.py check --deploy` is clean with the production variables of docs/deploy.md, and
  warns without them (HSTS and the SSL redirect come from the environment).
- X-Forwarded-Proto is trusted only when DJANGO_BEHIND_PROXY says a proxy sets it.
- Content-Security-Policy on every page, and the pages satisfy it: every inline event
  handler is allowed by its hash, no inline script runs without the nonce.
- /media/ + 300 characters: 404, not 500. NUL in an admin list filter: 400, not 500.
- A chunked upload without Content-Length: 411 with a clear message (JSON under /api/).
- The site's 400 page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import SuspiciousOperation
from django.test import Client
from django.urls import path, re_path

import config.urls
from tests.support.servers import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DJANGO_BEHIND_PROXY": "1",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    # Real payments (checkout/checks.py fails check --deploy without a configured provider).
    "STRIPE_SECRET_KEY": "sk_live_placeholder",
    "STRIPE_WEBHOOK_SECRET": "whsec_placeholder",
    "CHECKOUT_PAYMENT_VARIANT": "stripe",
}


def _production_env(**changes: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "GUNICORN_"))}
    env.update(PRODUCTION, DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # over 2 s (a subprocess, a broker, or real images)
def test_check_deploy_is_clean_with_the_production_variables() -> None:
    done = _run(_production_env(), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in done.stdout


@pytest.mark.slow  # over 2 s (a subprocess, a broker, or real images)
def test_check_deploy_warns_without_hsts_and_the_ssl_redirect() -> None:
    env = _production_env(DJANGO_SECURE_SSL_REDIRECT=None, DJANGO_SECURE_HSTS_SECONDS=None, DJANGO_SECURE_COOKIES="0")
    done = _run(env, "manage.py", "check", "--deploy")
    output = done.stdout + done.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output, output


_SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'proxy': s.SECURE_PROXY_SSL_HEADER, 'redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS,"
    "'subdomains': s.SECURE_HSTS_INCLUDE_SUBDOMAINS, 'preload': s.SECURE_HSTS_PRELOAD,"
    "'cookies': [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE], 'ratelimit': s.CACHES['ratelimit']['BACKEND']}))"
)


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_https_settings_come_from_the_environment() -> None:
    shown = json.loads(_run(_production_env(REDIS_URL="redis://redis:6379/0"), "-c", _SHOW).stdout)
    assert shown == {
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "redirect": True,
        "hsts": 31536000,
        "subdomains": True,
        "preload": True,
        "cookies": [True, True],
        "ratelimit": "django.core.cache.backends.redis.RedisCache",
    }
    # Without a proxy that sets it, X-Forwarded-Proto is not trusted (any client could send
    # it); without Redis the counters are per process.
    shown = json.loads(
        _run(
            _production_env(DJANGO_BEHIND_PROXY=None, DJANGO_SECURE_SSL_REDIRECT=None, REDIS_URL=None), "-c", _SHOW
        ).stdout
    )
    assert shown["proxy"] is None
    assert shown["redirect"] is False
    assert shown["ratelimit"] == "django.core.cache.backends.locmem.LocMemCache"


@pytest.mark.django_db
def test_x_forwarded_proto_is_ignored_unless_behind_the_proxy(client, settings) -> None:
    settings.SECURE_HSTS_SECONDS = 3600
    assert not getattr(settings, "SECURE_PROXY_SSL_HEADER", None)  # the test settings: no proxy
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in response.headers  # not believed: plain HTTP
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response.headers["Strict-Transport-Security"] == "max-age=3600"


# --- Content-Security-Policy ---------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _sha256(source: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()}'"


@pytest.mark.django_db
def test_pages_send_a_csp_they_satisfy(client, make_product, admin_user) -> None:
    product = make_product()
    pages = ["/", f"/products/{product.pk}/", f"/products/{product.pk}/similar/", "/search/photo/", "/no-such-page/"]
    staff = Client()
    staff.force_login(admin_user)
    responses = [client.get(url) for url in pages]
    responses += [client.get("/admin/login/")]
    responses += [
        staff.get(url) for url in ("/admin/", "/admin/shop/product/", f"/admin/shop/product/{product.pk}/change/")
    ]
    for response in responses:
        assert response.status_code in (200, 404), (response.request["PATH_INFO"], response.status_code)
        policy = _policy(response)
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in policy["script-src"]
        html = response.content.decode()
        # Every inline event handler is allowed by its hash ('unsafe-hashes').
        for handler in re.findall(r'\son[a-z]+="([^"]*)"', html):
            assert "'unsafe-hashes'" in policy["script-src"]
            assert _sha256(handler) in policy["script-src"], (response.request["PATH_INFO"], handler)
        # Every inline <script> carries this response's nonce; external ones are ours.
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            if "src=" in attributes:
                src = re.search(r'src="([^"]+)"', attributes).group(1)
                assert src.startswith("/") and not src.startswith("//"), src  # same origin
            elif body.strip():
                nonce = re.search(r'nonce="([^"]+)"', attributes)
                assert nonce and f"'nonce-{nonce.group(1)}'" in policy["script-src"], attributes
        # Images: our own and data: URLs (the photo-search preview).
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', html):
            assert src.startswith(("/", "data:")), src


def _template_files() -> list[Path]:
    from django.conf import settings

    folders = [Path(folder) for engine in settings.TEMPLATES for folder in engine.get("DIRS", [])]
    # The project's own apps (a virtualenv inside the checkout holds other packages' apps: not ours).
    ours = [Path(app.path) for app in apps.get_app_configs()]
    folders += [path / "templates" for path in ours if path.is_relative_to(ROOT) and "site-packages" not in path.parts]
    return sorted(file for folder in folders if folder.is_dir() for file in folder.rglob("*.html"))


def test_every_inline_handler_and_script_in_the_templates_is_allowed_by_the_csp(settings) -> None:
    """The templates themselves, all of them (pages the test above does not open too): an
    inline event handler must be constant text whose hash is in script-src; an inline
    <script> must carry the request's nonce."""
    script_src = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"]
    files = _template_files()
    assert any(file.name == "catalogue.html" for file in files)
    for file in files:
        if "/email/" in file.as_posix():
            continue  # e-mails: no browser CSP applies
        text = file.read_text()
        for handler in re.findall(r'\son[a-z]+="([^"]*)"', text):
            assert "{" not in handler, f"{file}: an inline handler must be constant text: {handler}"
            assert _sha256(handler) in script_src, f"{file}: add {handler!r} to the CSP's inline handlers"
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", text, re.S):
            if "src=" not in attributes and body.strip():
                assert 'nonce="{{ request.csp_nonce }}"' in attributes, f"{file}: inline <script> without the nonce"


# --- Smaller holes ---------------------------------------------------------------------------


def test_very_long_media_names_are_404_not_500(client, settings) -> None:
    settings.ROOT_URLCONF = __name__  # the site's URLs with Django serving media
    for name in ("a" * 300, "x/" + "b" * 256 + ".jpg", ("c" * 200 + "/") * 30):
        response = client.get("/media/" + name)
        assert response.status_code == 404, (len(name), response.status_code)
        assert "We couldn’t find that page" in response.content.decode()
    assert client.get("/media/missing.jpg").status_code == 404


def test_media_served_by_django_still_serves_files(client, settings, tmp_path) -> None:
    settings.ROOT_URLCONF = __name__
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    response = client.get("/media/photo.jpg")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"\xff\xd8\xff"
    assert client.get("/media/../config/settings.py").status_code == 400  # SuspiciousFileOperation


@pytest.mark.django_db
def test_nul_in_an_admin_list_filter_is_400(client, admin_user) -> None:
    client.force_login(admin_user)
    for query in ("gender=Men%00", "q=a%00b", "gender%00=Men"):
        response = client.get(f"/admin/shop/product/?{query}")
        assert response.status_code == 400, query
        assert "NUL character" in response.content.decode()
    assert client.get("/admin/shop/product/?gender=Men").status_code == 200
    # The shop's own pages still just drop NULs.
    assert client.get("/?gender=Men%00").status_code == 200


def _chunked_post(client: Client, url: str):
    body = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nxx\r\n--b--\r\n'
    return client.generic(
        "POST",
        url,
        body,
        content_type="multipart/form-data; boundary=b",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )


def test_chunked_uploads_without_content_length_are_411() -> None:
    client = Client(enforce_csrf_checks=True)
    response = _chunked_post(client, "/api/search/photo")
    assert response.status_code == 411
    assert response.json() == {
        "error": {
            "message": "Send the request body with a Content-Length header: chunked uploads are not supported.",
            "status": 411,
        }
    }
    response = _chunked_post(client, "/search/photo/")
    assert response.status_code == 411  # not a CSRF 403, not "send multipart"
    assert "chunked uploads are not supported" in response.content.decode()


def test_the_site_has_a_400_page(client, settings) -> None:
    settings.ROOT_URLCONF = __name__
    response = client.get("/broken/")
    assert response.status_code == 400
    page = response.content.decode()
    assert "We couldn’t read that request" in page and "made-up detail" not in page
    assert "Content-Security-Policy" in response.headers
    response = client.get("/api/broken")
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Bad request: it could not be read.", "status": 400}}
    # A Host header not in ALLOWED_HOSTS (DisallowedHost) gets the page too, not a 500.
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and "We couldn’t read that request" in response.content.decode()


# --- This module as a URLconf: the site's URLs, Django serving media, a view that fails. ---


def _raise_bad_request(request):
    raise SuspiciousOperation("made-up detail that must not be shown")


def _media(request, name: str):
    from config.media import serve_media

    return serve_media(request, name)


urlpatterns = [
    # Before the site's own: its last pattern answers every other /api/ path with a JSON 404.
    path("broken/", _raise_bad_request),
    path("api/broken", _raise_bad_request),
    re_path(r"^media/(?P<name>.*)$", _media),
    *config.urls.urlpatterns,
]
handler400 = config.urls.handler400
handler404 = config.urls.handler404
handler500 = config.urls.handler500
