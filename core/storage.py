"""Private file storage: files the site keeps for a while but never serves (the admin's import
uploads while their job waits). ``storages["private"]`` (config/settings/storage.py): on the
filesystem ``PrivateFileSystemStorage`` under ``PRIVATE_MEDIA_ROOT``, which is outside
MEDIA_ROOT, so neither Django's media view nor the proxy's /media/ location can reach it; on
S3 a prefix of the bucket without public ACLs, read with signed URLs only."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


class PrivateFileSystemStorage(FileSystemStorage):
    """A filesystem storage under ``settings.PRIVATE_MEDIA_ROOT`` (read when first used) with
    no URL: asking for one is a programming error."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("base_url", None)
        super().__init__(**kwargs)

    @cached_property
    def base_location(self) -> str:
        return str(self._value_or_setting(getattr(self, "_location", None), settings.PRIVATE_MEDIA_ROOT))

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no URL.")


def private_storage() -> Storage:
    """The private storage (a callable, so that FileFields and migrations name it, not the
    backend that settings choose)."""
    return storages["private"]
