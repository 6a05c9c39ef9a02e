"""Writes of the catalogue that are more than a plain save."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from core.background import background_submit
from core.images import ImageRejected
from shop.attributes import ATTRIBUTES
from shop.models import CatalogueVersion, ImportJob, Product, ProductVariant
from shop.signals import product_images_changed, products_changed
from shop.thumbnails import thumbnail_create


def catalogue_changes_announce(product_ids: Sequence[int], *, images_changed: Sequence[int] = ()) -> None:
    """The one way product changes are announced: bump the catalogue version (the key of
    the shop's cached counts, shared by every process through the database) and send the
    shop's signals to whoever subscribed."""
    ids = sorted({int(pid) for pid in product_ids} | {int(pid) for pid in images_changed})
    if not ids:
        return
    updated = CatalogueVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        # The first version is the time in microseconds, not 1: a database emptied and filled
        # again must not meet cached counts of an earlier catalogue under the same version.
        CatalogueVersion.objects.get_or_create(pk=1, defaults={"version": time.time_ns() // 1000})
    products_changed.send(sender=Product, product_ids=ids)
    if images_changed:
        product_images_changed.send(sender=Product, product_ids=sorted({int(pid) for pid in images_changed}))


def product_image_derivatives_update(product: Product) -> None:
    """After a new image was saved: record its checksum and make its grid thumbnail."""
    image_name = product.image.name
    if not image_name:  # the same test as ``not product.image``: a FieldFile is falsy without a name
        return
    with default_storage.open(image_name, "rb") as handle:
        data = handle.read()
    old_thumbnail = product.thumbnail.name
    try:
        thumbnail = thumbnail_create(image_name, data)
    except ImageRejected:
        thumbnail = ""
    product.image_checksum = hashlib.sha256(data).hexdigest()
    product.thumbnail = thumbnail
    Product.objects.filter(pk=product.pk).update(image_checksum=product.image_checksum, thumbnail=thumbnail)
    if old_thumbnail and old_thumbnail != thumbnail:
        default_storage.delete(old_thumbnail)


def demo_prices_apply(external_ids: Sequence[str] | None = None) -> int:
    """Give imported products that have no price a deterministic demo price (shop.demo_data).
    Staff-set prices are kept. Returns how many products got one."""
    from shop.demo_data import demo_price

    products = Product.objects.filter(price__isnull=True, external_id__isnull=False)
    if external_ids is not None:
        products = products.filter(external_id__in=list(external_ids))
    changed: list[Product] = []
    for product in products.only("pk", "external_id", "article_type", "master_category").iterator(chunk_size=2000):
        product.price = demo_price(product.article_type, product.master_category, product.external_id or "")
        changed.append(product)
    with transaction.atomic():
        Product.objects.bulk_update(changed, ["price"], batch_size=2000)
        catalogue_changes_announce([p.pk for p in changed])
    return len(changed)


def demo_stock_apply(external_ids: Sequence[str] | None = None) -> int:
    """Give imported products that have no sizes yet deterministic demo sizes and stock
    (shop.demo_data). Returns how many products got sizes."""
    from shop.demo_data import demo_sizes, demo_stock

    products = Product.objects.filter(external_id__isnull=False, variants__isnull=True)
    if external_ids is not None:
        products = products.filter(external_id__in=list(external_ids))
    variants: list[ProductVariant] = []
    ids: list[int] = []
    for product in products.only("pk", "external_id", "article_type", "master_category").iterator(chunk_size=2000):
        sizes = demo_sizes(product.master_category, product.article_type)
        stock = demo_stock(product.external_id or "", sizes)
        variants += [
            ProductVariant(product_id=product.pk, size=size, sort_order=i, stock=stock[size])
            for i, size in enumerate(sizes)
        ]
        ids.append(product.pk)
    with transaction.atomic():
        ProductVariant.objects.bulk_create(variants, batch_size=5000, ignore_conflicts=True)
        catalogue_changes_announce(ids)
    return len(ids)


# --- Attribute values: one spelling per value ----------------------------------------------

logger = logging.getLogger(__name__)

# The free-text attributes staff and the import fill in (the facets shoppers filter on).
ATTRIBUTE_TEXT_FIELDS: tuple[str, ...] = tuple(a.field for a in ATTRIBUTES)


def attribute_value_clean(value: str | None) -> str:
    """Trimmed, with every run of whitespace one space: "  Navy   Blue " → "Navy Blue"."""
    return " ".join((value or "").split())


def attribute_values(field: str) -> list[str]:
    """The distinct values of an attribute in the catalogue, sorted (for the admin's choices)."""
    values = Product.objects.exclude(**{field: ""}).values_list(field, flat=True).distinct().order_by(field)
    return list(values)


class AttributeSpellings:
    """Matches attribute values case-insensitively to the catalogue's spelling of them: "men "
    → "Men" when products say "Men". Where the catalogue already spells a value several ways,
    the most used spelling wins. Values not in the catalogue yet are remembered as first
    spelled, so that one import cannot bring in "Men" and "men" either."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str, str]] = {}

    def _spellings(self, field: str) -> dict[str, str]:
        if field not in self._known:
            known: dict[str, str] = {}
            rows = Product.objects.exclude(**{field: ""}).values(field).annotate(n=Count("pk")).order_by("-n", field)
            for row in rows:
                known.setdefault(row[field].casefold(), row[field])
            self._known[field] = known
        return self._known[field]

    def existing(self, field: str, value: str | None) -> str | None:
        """The catalogue's spelling of this value, or None when it is new."""
        cleaned = attribute_value_clean(value)
        return self._spellings(field).get(cleaned.casefold()) if cleaned else None

    def has_values(self, field: str) -> bool:
        return bool(self._spellings(field))

    def canonical(self, field: str, value: str | None) -> str:
        """The value to store: cleaned, and spelled as the catalogue (or this run) spells it."""
        cleaned = attribute_value_clean(value)
        if not cleaned:
            return ""
        return self._spellings(field).setdefault(cleaned.casefold(), cleaned)

    def suggestions(self, field: str, value: str, n: int = 3) -> list[str]:
        import difflib

        spellings = self._spellings(field)
        close = difflib.get_close_matches(attribute_value_clean(value).casefold(), list(spellings), n=n, cutoff=0.6)
        return [spellings[key] for key in close]


# --- Bulk import from the admin: CSV + zip of images, run as a job -------------------------


class ImportRefused(ValueError):
    """The uploads cannot be imported at all (the message says why); no job is created."""


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, f"SHOP_IMPORT_{name}", default))


def import_limits() -> dict[str, int]:
    """Limits of an admin import's uploads (each overridable by a ``SHOP_IMPORT_<NAME>`` setting)."""
    return {
        "MAX_CSV_BYTES": _limit("MAX_CSV_BYTES", 20 * 1024 * 1024),
        "MAX_ZIP_BYTES": _limit("MAX_ZIP_BYTES", 1024 * 1024 * 1024),
        "MAX_ZIP_MEMBERS": _limit("MAX_ZIP_MEMBERS", 50_000),
        # Per image, and all images together, once uncompressed.
        "MAX_IMAGE_BYTES": _limit("MAX_IMAGE_BYTES", 20 * 1024 * 1024),
        "MAX_UNZIPPED_BYTES": _limit("MAX_UNZIPPED_BYTES", 4 * 1024 * 1024 * 1024),
        # Photos barely compress (JPEG ~1.0–1.2×); a zip bomb is hundreds to millions ×.
        "MAX_RATIO": _limit("MAX_RATIO", 100),
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
    return members


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
    """The CSV must have the import's columns (``catalogue_import.CSV_COLUMNS``)."""
    import csv
    import io

    from shop.catalogue_import import CSV_COLUMNS

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


def import_job_create(
    csv_upload: Any, zip_upload: Any | None, *, user: Any = None, compute_embeddings: bool = True
) -> ImportJob:
    """Check the uploads (refused at once with ImportRefused), keep them in storage and queue
    the job once the transaction commits."""
    import_csv_check(csv_upload)
    limits = import_limits()
    if zip_upload is not None:
        size = getattr(zip_upload, "size", None)
        if size is not None and size > limits["MAX_ZIP_BYTES"]:
            raise ImportRefused(f"The zip is {size / 1e6:.0f} MB; the limit is {limits['MAX_ZIP_BYTES'] / 1e6:.0f} MB.")
        import_zip_check(zip_upload)
        zip_upload.seek(0)
    job = ImportJob(
        requested_by=user if getattr(user, "pk", None) else None,
        csv_name=Path(getattr(csv_upload, "name", "styles.csv")).name[:255],
        zip_name=Path(getattr(zip_upload, "name", "")).name[:255] if zip_upload is not None else "",
        compute_embeddings=compute_embeddings,
    )
    with transaction.atomic():
        job.save()
        # Stored under the job's number, whatever the uploads were called.
        job.csv_file.save(f"import-{job.pk}.csv", csv_upload, save=False)
        if zip_upload is not None:
            job.images_zip.save(f"import-{job.pk}-images.zip", zip_upload, save=False)
        job.save(update_fields=["csv_file", "images_zip"])
        transaction.on_commit(lambda: import_job_dispatch(job.pk))
    return job


def import_job_dispatch(job_id: int) -> None:
    """Run the job through Celery with a broker, in this process's background thread without."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        background_submit(
            import_job_run, job_id, name=f"import #{job_id}", on_error=lambda exc: import_job_fail(job_id, exc)
        )
        return
    from shop.tasks import import_job_run_task

    try:
        import_job_run_task.delay(job_id)
    except Exception as exc:  # kombu/redis connection errors have no common base class
        logger.error("could not queue import #%s: %s", job_id, exc)
        ImportJob.objects.filter(pk=job_id, state=ImportJob.State.PENDING).update(
            state=ImportJob.State.FAILED,
            finished_at=timezone.now(),
            message=f"Not queued: the task queue is unavailable ({exc}). Upload the files again once it is back.",
        )


def import_job_fail(job_id: int, exc: BaseException) -> None:
    ImportJob.objects.filter(pk=job_id).exclude(state=ImportJob.State.DONE).update(
        state=ImportJob.State.FAILED,
        finished_at=timezone.now(),
        message=str(exc) if isinstance(exc, ImportRefused) else f"The import failed: {type(exc).__name__}: {exc}",
    )


_SKIP = re.compile(r"^skipped line (\d+) \(id (.*?)\): (.*)$", re.DOTALL)
MAX_ERRORS_KEPT = 1000


def _row_error(message: str) -> dict[str, object]:
    match = _SKIP.match(message)
    if not match:
        return {"line": None, "id": "", "reason": message}
    return {"line": int(match.group(1)), "id": match.group(2), "reason": match.group(3)}


def import_job_run(job_id: int, *, batch_size: int = 200) -> ImportJob | None:
    """Run an import job: extract its zip safely into a temporary folder next to its CSV (as
    ``styles.csv`` + ``images/``) and run ``catalogue_import`` on that folder, writing progress
    and per-row errors to the job as batches finish. Idempotent: a redelivered task runs a
    running job again (the import itself is idempotent); a finished one is left alone."""
    from shop.catalogue_import import catalogue_import, count_rows

    claimed = ImportJob.objects.filter(pk=job_id, state__in=[ImportJob.State.PENDING, ImportJob.State.RUNNING]).update(
        state=ImportJob.State.RUNNING, started_at=timezone.now(), processed=0, skipped_count=0, errors=[]
    )
    if not claimed:
        return None
    job = ImportJob.objects.get(pk=job_id)
    folder = Path(tempfile.mkdtemp(prefix=f"lookalike-import-{job_id}-"))
    try:
        with job.csv_file.open("rb") as source, (folder / "styles.csv").open("wb") as target:
            shutil.copyfileobj(source, target)
        images = folder / "images"
        images.mkdir()
        if job.images_zip:
            with job.images_zip.open("rb") as archive:
                import_zip_extract(archive, images)
        job.total = count_rows(folder)
        job.save(update_fields=["total"])
        errors: list[dict[str, object]] = []
        state = {"processed": 0, "skipped": 0, "saved_errors": 0}

        def on_skip(message: str) -> None:
            state["skipped"] += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(_row_error(message))

        def on_progress(count: int) -> None:
            state["processed"] += count
            update: dict[str, object] = {"processed": state["processed"], "skipped_count": state["skipped"]}
            if len(errors) != state["saved_errors"]:
                update["errors"] = errors
                state["saved_errors"] = len(errors)
            ImportJob.objects.filter(pk=job_id).update(**update)

        result = catalogue_import(
            folder,
            batch_size=batch_size,
            on_progress=on_progress,
            on_skip=on_skip,
            announce_images=job.compute_embeddings,
        )
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.State.DONE,
            finished_at=timezone.now(),
            processed=result.processed,
            created_count=result.created,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            skipped_count=result.skipped,
            errors=errors,
        )
    except ImportRefused as exc:
        import_job_fail(job_id, exc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _import_uploads_delete(job)
    job.refresh_from_db()
    return job


def _import_uploads_delete(job: ImportJob) -> None:
    """The uploads are not needed once the job ran (the products hold their own images)."""
    for field in (job.csv_file, job.images_zip):
        if field.name:
            try:
                default_storage.delete(field.name)
            except Exception:
                logger.warning("could not delete the upload %s of import #%s", field.name, job.pk, exc_info=True)
    ImportJob.objects.filter(pk=job.pk).update(csv_file="", images_zip="")


def import_jobs_recent(limit: int = 20) -> Iterable[ImportJob]:
    return ImportJob.objects.select_related("requested_by").defer("errors")[:limit]
