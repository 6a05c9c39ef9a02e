"""The Content-Security-Policy (django-csp).

Scripts: none of our own but the admin's static files; the templates' few inline handlers
(INLINE_HANDLERS) are allowed by their hash ('unsafe-hashes' allows exactly that attribute
text, nothing else inline), and a template that needs an inline <script> uses
nonce="{{ request.csp_nonce }}". Styles: inline style attributes and <style> blocks (the
reindex dashboard's progress bar, the 500 page) are allowed: they cannot run code. Images:
ours, data: URLs (the photo-search preview) and the media host when media is elsewhere (S3,
a CDN). Forms: ours, and Stripe Checkout where Stripe takes the payments.
"""

import base64
import hashlib
from urllib.parse import urlsplit

from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES, UNSAFE_INLINE

from config.settings.base import env
from config.settings.payments import PAYMENT_VARIANTS
from config.settings.storage import MEDIA_STORAGE, MEDIA_URL


def _script_hash(source: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()}'"


# The templates' inline event handlers, each allowed by its hash (tests/test_deploy_checks.py
# fails on any handler in a template that is not listed here).
INLINE_HANDLERS = [
    "this.form.submit()",  # facet checkboxes and sort: submit on change
    "this.querySelector('button').disabled=true",  # checkout: "Place order" once
]


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


_media_origins = [
    origin
    for origin in (
        _origin(MEDIA_URL) if "://" in MEDIA_URL else None,
        _origin(env("AWS_S3_CUSTOM_DOMAIN", default=None)),
        _origin(env("AWS_S3_ENDPOINT_URL", default=None)) if MEDIA_STORAGE == "s3" else None,
    )
    if origin
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, UNSAFE_HASHES, *map(_script_hash, INLINE_HANDLERS)],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", *_media_origins, *env.list("DJANGO_CSP_IMG_SRC", default=[])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        # Forms post here; with Stripe, the payment step redirects the "Place order" post
        # on to Stripe Checkout (form-action covers a form's redirects too).
        "form-action": [
            SELF,
            *(["https://checkout.stripe.com"] if "stripe" in PAYMENT_VARIANTS else []),
            *env.list("DJANGO_CSP_FORM_ACTION", default=[]),
        ],
        "frame-ancestors": [NONE],
    },
}
