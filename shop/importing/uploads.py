"""The checks of an admin import's uploads, before any job exists: the CSV must have the
import's columns; a zip of images is checked from its directory (path traversal, links,
encryption, member count, sizes and compression ratios: zip bombs) and extracted flat into a
folder, stopping where a member yields more than its header said. ``ImportRefused`` says why
an upload cannot be imported at all."""

from __future__ import annotations

import csv
import io
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from shop.conf import shop_settings
from shop.importing.catalogue import CSV_COLUMNS


class ImportRefused(ValueError):
    """The uploads cannot be imported at all (the message says why); no job is created."""


def import_limits() -> dict[str, int]:
    """Limits of an admin import's uploads (``shop_settings.IMPORT_<NAME>``: each overridable by
    a ``SHOP_IMPORT_<NAME>`` setting)."""
    return {
        "MAX_CSV_BYTES": shop_settings.IMPORT_MAX_CSV_BYTES,
        "MAX_ZIP_BYTES": shop_settings.IMPORT_MAX_ZIP_BYTES,
        "MAX_ZIP_MEMBERS": shop_settings.IMPORT_MAX_ZIP_MEMBERS,
        "MAX_IMAGE_BYTES": shop_settings.IMPORT_MAX_IMAGE_BYTES,
        "MAX_UNZIPPED_BYTES": shop_settings.IMPORT_MAX_UNZIPPED_BYTES,
        "MAX_RATIO": shop_settings.IMPORT_MAX_RATIO,
    }


IMAGE_SUFFIXES = (".jpg", ".jpeg")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _member_image_name(info: zipfile.ZipInfo) -> str | None:
    """The name an image member is extracted as (its base name), None for what is not an image
    we import (folders, other files, macOS resource forks). Refuses (ImportRefused) any name
    that tries to leave the folder: absolute, drive letters, ``..``, backslashes, NUL, links."""
    name = info.filename
    if "\x00" in name or "\\" in name:
        raise ImportRefused(f"The zip holds a file with an unsafe name ({name!r}): refused.")
    path = PurePosixPath(name)
    if name.startswith("/") or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ImportRefused(f"The zip holds a file outside its folder ({name!r}): refused.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ImportRefused(f"The zip holds a symbolic link ({name!r}): refused.")
    if info.is_dir() or path.parts[:1] == ("__MACOSX",):
        return None
    base = path.name
    if base.startswith(".") or not base.lower().endswith(IMAGE_SUFFIXES):
        return None
    if not _SAFE_NAME.match(base):
        return None  # no product id is named like that
    return base


def _open_zip(upload: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportRefused(f"The images file is not a zip we can read ({exc}).") from None


def import_zip_check(upload: IO[bytes]) -> dict[str, zipfile.ZipInfo]:
    """Check a zip of images from its directory, without extracting anything: returns the
    members to extract by the name they get. Refuses path traversal, links, encrypted
    members, too many members, and sizes or compression ratios past ``import_limits()``
    (zip bombs)."""
    limits = import_limits()
    archive = _open_zip(upload)
    infos = archive.infolist()
    if len(infos) > limits["MAX_ZIP_MEMBERS"]:
        raise ImportRefused(f"The zip holds {len(infos)} files; the limit is {limits['MAX_ZIP_MEMBERS']}.")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        target = _member_image_name(info)
        if target is None:
            continue
        if info.flag_bits & 0x1:
            raise ImportRefused(f"{info.filename} is encrypted: upload a zip without a password.")
        if info.file_size > limits["MAX_IMAGE_BYTES"]:
            raise ImportRefused(
                f"{info.filename} is {info.file_size / 1e6:.0f} MB uncompressed; "
                f"the limit is {limits['MAX_IMAGE_BYTES'] / 1e6:.0f} MB per image."
            )
        if info.file_size > 1024 * 1024 and info.file_size > limits["MAX_RATIO"] * max(info.compress_size, 1):
            raise ImportRefused(
                f"{info.filename} expands {info.file_size / max(info.compress_size, 1):.0f}×: "
                "not a photo (a zip bomb?), refused."
            )
        total += info.file_size
        if total > limits["MAX_UNZIPPED_BYTES"]:
            raise ImportRefused(
                f"The zip's images come to more than {limits['MAX_UNZIPPED_BYTES'] / 1e9:.1f} GB uncompressed: refused."
            )
        if target.lower() in {m.lower() for m in members}:
            raise ImportRefused(f"Two files in the zip are named {target}: keep one.")
        members[target] = info
    _archive_ratio_check(upload, total, limits)
    return members


# Below this many uncompressed bytes in all, an archive is harmless whatever its ratio.
_RATIO_FLOOR_BYTES = 8 * 1024 * 1024


def _archive_ratio_check(upload: IO[bytes], total: int, limits: dict[str, int]) -> None:
    """The compression ratio of the archive as a whole: many members each just under the
    per-member check (300 × 1 MiB of zeros in a 330 KB zip) add up to a bomb too."""
    position = upload.tell()
    archive_bytes = upload.seek(0, io.SEEK_END)
    upload.seek(position)
    if total > _RATIO_FLOOR_BYTES and total > limits["MAX_RATIO"] * max(archive_bytes, 1):
        raise ImportRefused(
            f"The zip's images expand {total / max(archive_bytes, 1):.0f}× in all "
            f"({total / 1e6:.0f} MB from {archive_bytes / 1e6:.1f} MB): not photos (a zip bomb?), refused."
        )


def import_zip_extract(upload: IO[bytes], folder: Path) -> int:
    """Extract the zip's images into ``folder`` (flat: ``folder/<name>``), checked first by
    ``import_zip_check``; while writing, a member that yields more bytes than its header
    said (a lying header) or than the limits stops the extraction. Returns the images written."""
    limits = import_limits()
    members = import_zip_check(upload)
    archive = _open_zip(upload)
    folder.mkdir(parents=True, exist_ok=True)
    written_total = 0
    for target, info in members.items():
        destination = folder / target
        if destination.resolve().parent != folder.resolve():  # belt and braces: _SAFE_NAME already
            raise ImportRefused(f"The zip holds a file outside its folder ({info.filename!r}): refused.")
        allowed = min(info.file_size, limits["MAX_IMAGE_BYTES"])
        written = 0
        try:
            with archive.open(info) as source, destination.open("wb") as out:
                while chunk := source.read(1024 * 1024):
                    written += len(chunk)
                    written_total += len(chunk)
                    if written > allowed or written_total > limits["MAX_UNZIPPED_BYTES"]:
                        raise ImportRefused(f"{info.filename} holds more than its zip header says: refused.")
                    out.write(chunk)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
            raise ImportRefused(f"{info.filename} cannot be extracted ({exc}).") from None
    return len(members)


def import_csv_check(upload: IO[bytes]) -> None:
    """The CSV must have the import's columns (``catalogue.CSV_COLUMNS``)."""
    limits = import_limits()
    size = getattr(upload, "size", None)
    if size is not None and size > limits["MAX_CSV_BYTES"]:
        raise ImportRefused(f"The CSV is {size / 1e6:.0f} MB; the limit is {limits['MAX_CSV_BYTES'] / 1e6:.0f} MB.")
    upload.seek(0)
    head = upload.read(64 * 1024)
    upload.seek(0)
    text = head.decode("utf-8-sig", errors="replace")
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise ImportRefused(f"The CSV cannot be read ({exc}).") from None
    missing = [column for column in CSV_COLUMNS if column not in [h.strip() for h in header]]
    if missing:
        raise ImportRefused(
            f"The CSV lacks the columns {', '.join(missing)}; its first line must name "
            f"{', '.join(CSV_COLUMNS)} (and optionally price)."
        )
