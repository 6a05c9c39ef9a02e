"""Local media served by Django (DEBUG, or DJANGO_SERVE_MEDIA=1 on a single host).

Production serves media from the proxy (deploy/nginx/nginx.conf) or S3. Where Django does
serve it, a name the filesystem cannot hold (a path component over 255 bytes, a NUL: the
operating system answers ENAMETOOLONG / ValueError, which django.views.static.serve lets
through as a 500) is simply not found.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBase
from django.views.static import serve

# POSIX limits: NAME_MAX for one path component, PATH_MAX for the whole path.
_NAME_MAX = 255
_PATH_MAX = 4096


def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    encoded = path.encode("utf-8", "surrogateescape")
    if (
        "\x00" in path
        or len(os.fsencode(str(settings.MEDIA_ROOT))) + len(encoded) + 1 >= _PATH_MAX
        or any(len(part) > _NAME_MAX for part in encoded.split(b"/"))
    ):
        raise Http404("No such file.")
    try:
        return serve(request, path, document_root=settings.MEDIA_ROOT)
    except OSError as exc:  # any other name the filesystem refuses to look up
        raise Http404("No such file.") from exc
