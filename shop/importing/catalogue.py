"""Import a catalogue folder in the Fashion Product Images layout.

    PATH/styles.csv        id,gender,masterCategory,subCategory,articleType,baseColour,
                           season,year,usage,productDisplayName
    PATH/images/<id>.jpg

An optional ``images`` column names a product's more photos (shown after the main one, in
this order, and embedded for photo search): file names in ``PATH/images/`` separated by
``;`` (``1163-back.jpg;1163-detail.jpg``). When the file has the column, it is the truth
for each row: a changed list replaces the product's more images, an empty cell removes them;
without the column they are left alone.

Rows are read with the csv module, checked, and written in batches (bulk_create /
bulk_update inside one transaction per batch). A bad row is skipped with a one-line reason;
it never stops the import. Re-running is idempotent: unchanged rows are left alone (the
image is compared by sha256), changed rows are updated.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction

from core.images import ImageRejected
from shop.models import Product, ProductImage
from shop.services import ATTRIBUTE_TEXT_FIELDS, AttributeSpellings, catalogue_changes_announce
from shop.thumbnails import image_validate, thumbnail_create, thumbnail_needed

CSV_COLUMNS = (
    "id",
    "gender",
    "masterCategory",
    "subCategory",
    "articleType",
    "baseColour",
    "season",
    "year",
    "usage",
    "productDisplayName",
)
# CSV column → Product field, for the plain text attributes.
TEXT_FIELDS = {
    "gender": "gender",
    "masterCategory": "master_category",
    "subCategory": "sub_category",
    "articleType": "article_type",
    "baseColour": "base_colour",
    "season": "season",
    "usage": "usage",
    "productDisplayName": "name",
}
# The optional column of more photos, and the most one row may name.
IMAGES_COLUMN = "images"
MAX_EXTRA_IMAGES = 12
REQUIRED = ("id", "gender", "masterCategory", "subCategory", "articleType", "productDisplayName")
ATTRIBUTE_FIELDS = (*TEXT_FIELDS.values(), "year")


class RowError(ValueError):
    """A row that cannot be imported; the message is the one-line reason."""


@dataclass
class CatalogueRow:
    line: int
    external_id: str
    attributes: dict[str, object]
    image_path: Path
    # The more photos (the ``images`` column), None when the file has no such column.
    extra_image_paths: list[Path] | None = None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    seconds: float = 0.0
    skip_reasons: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped


def _max_length(field_name: str) -> int:
    model_field = Product._meta.get_field(field_name)
    if not isinstance(model_field, models.Field) or model_field.max_length is None:
        raise TypeError(f"Product.{field_name} is not a text field with a max_length")
    return model_field.max_length


def parse_row(raw: dict[str, str | None], line: int, images_dir: Path) -> CatalogueRow:
    """Check one csv.DictReader row and turn it into product attributes."""
    if None in raw or any(raw.get(column) is None for column in CSV_COLUMNS):
        raise RowError("malformed line: wrong number of fields")
    values = {key: (value or "").strip() for key, value in raw.items() if key is not None}
    for column in REQUIRED:
        if not values[column]:
            raise RowError(f"empty {column}")
    external_id = values["id"]
    if not external_id.isdigit():
        raise RowError(f"id {external_id!r} is not a number")
    attributes: dict[str, object] = {}
    for column, field_name in TEXT_FIELDS.items():
        value = values[column]
        if len(value) > _max_length(field_name):
            raise RowError(f"{column} longer than {_max_length(field_name)} characters")
        attributes[field_name] = value
    year_text = values["year"]
    try:
        year = int(float(year_text)) if year_text else None
    except ValueError:
        raise RowError(f"year {year_text!r} is not a number") from None
    attributes["year"] = year
    if year is not None and not 1900 <= year <= 2100:
        raise RowError(f"year {year_text!r} is out of range")
    # An optional price column: when the file has one, it is the product's price.
    price_text = values.get("price", "")
    if price_text:
        attributes["price"] = _money("price", price_text)
    # An optional compare_at_price column (a sale's former price): when the file has one, a
    # row sets it, and an empty cell ends the sale.
    if "compare_at_price" in values:
        compare_text = values["compare_at_price"]
        attributes["compare_at_price"] = _money("compare_at_price", compare_text) if compare_text else None
        problem = sale_problem(attributes.get("price"), attributes["compare_at_price"]) if price_text else None
        if problem:
            raise RowError(problem)
    extras = None
    if IMAGES_COLUMN in values:
        extras = [images_dir / name for name in extra_image_names(values[IMAGES_COLUMN])]
    return CatalogueRow(line, external_id, attributes, images_dir / f"{external_id}.jpg", extras)


def extra_image_names(cell: str) -> list[str]:
    """The ``images`` cell's file names, in order (RowError for a name that leaves the images
    folder, a repeated name, or too many)."""
    names = [name.strip() for name in cell.split(";") if name.strip()]
    for name in names:
        if "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
            raise RowError(f"images: {name!r} is not a file name in the images folder")
    if len(set(names)) != len(names):
        raise RowError("images: a file is named twice")
    if len(names) > MAX_EXTRA_IMAGES:
        raise RowError(f"images: {len(names)} files, at most {MAX_EXTRA_IMAGES}")
    return names


def _money(column: str, text: str) -> Decimal:
    try:
        amount = Decimal(text.replace(",", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise RowError(f"{column} {text!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e8"):
        raise RowError(f"{column} {text!r} is out of range")
    return amount


def sale_problem(price: object, compare_at: object) -> str | None:
    """Why a price and a compare-at price cannot go together (the model's constraint), or None."""
    if compare_at is None:
        return None
    if price is None:
        return f"compare_at_price {compare_at} needs a price"
    assert isinstance(price, Decimal) and isinstance(compare_at, Decimal)
    if compare_at <= price:
        return f"compare_at_price {compare_at} is not above the price {price}"
    return None


def read_rows(
    path: Path, *, ids: set[str] | None = None, limit: int | None = None
) -> Iterator[CatalogueRow | tuple[int, str, str]]:
    """Yield parsed rows, or (line, id, reason) for rows that cannot be parsed.

    Lines are numbered where each row starts (a quoted field may span several lines). An
    id seen again replaces the earlier row, which is reported as skipped. A UTF-8
    byte-order mark (spreadsheet exports) is read as such."""
    styles = path / "styles.csv"
    images_dir = path / "images"
    yielded = 0
    first_line: dict[str, int] = {}
    with styles.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in CSV_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{styles} lacks the columns {', '.join(missing)}")
        while True:
            start = reader.line_num + 1
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield (start, "?", f"malformed line: {exc}")
                continue
            external_id = (raw.get("id") or "").strip()
            if ids is not None and external_id not in ids:
                continue
            if limit is not None and yielded >= limit:
                return
            yielded += 1
            if external_id in first_line:
                yield (first_line[external_id], external_id, f"duplicate id: replaced by line {start}")
            if external_id:
                first_line[external_id] = start
            try:
                yield parse_row(raw, start, images_dir)
            except RowError as exc:
                yield (start, external_id or "?", str(exc))


def count_rows(path: Path, *, ids: set[str] | None = None, limit: int | None = None) -> int:
    """How many rows an import will look at (for the progress bar)."""
    if ids is not None:
        total = len(ids)
    else:
        with (path / "styles.csv").open("rb") as handle:
            total = max(sum(1 for _ in handle) - 1, 0)
    return min(total, limit) if limit is not None else total


def _batched(rows: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _PreparedImage:
    data: bytes
    checksum: str
    size: tuple[int, int]


@dataclass
class _Prepared:
    row: CatalogueRow
    data: bytes
    checksum: str
    size: tuple[int, int]
    extras: list[_PreparedImage] | None = None  # None: the file has no images column

    @property
    def extra_checksums(self) -> list[str]:
        return [extra.checksum for extra in self.extras or []]


def _prepare_image(path: Path, what: str) -> _PreparedImage:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RowError(f"{what} {path.name} is missing") from None
    except OSError as exc:
        raise RowError(f"{what} {path.name} cannot be read ({exc.strerror})") from None
    try:
        size = image_validate(data)
    except ImageRejected as exc:
        raise RowError(f"{what} {path.name} is unusable: {exc}") from None
    return _PreparedImage(data, hashlib.sha256(data).hexdigest(), size)


def _prepare(row: CatalogueRow) -> _Prepared:
    main = _prepare_image(row.image_path, "image")
    extras = None
    if row.extra_image_paths is not None:
        extras = [_prepare_image(path, "image (images column)") for path in row.extra_image_paths]
    return _Prepared(row, main.data, main.checksum, main.size, extras)


def _store_image(prepared: _Prepared | _PreparedImage, saved_files: list[str], stem: str) -> tuple[str, str]:
    """Save the image (and its thumbnail when it is large) through the storage API. Each
    file goes on ``saved_files`` (the batch's cleanup list) as soon as it exists, before
    anything else that can fail."""
    name = default_storage.save(f"products/{stem}.jpg", ContentFile(prepared.data))
    saved_files.append(name)
    thumb = thumbnail_create(name, prepared.data) if thumbnail_needed(prepared.size) else ""
    if thumb:
        saved_files.append(thumb)
    return name, thumb


def _store_extra_images(prepared: _Prepared, saved_files: list[str]) -> list[ProductImage]:
    """The row's more images saved to storage, as unsaved ``ProductImage`` rows (no product yet)."""
    images = []
    for position, extra in enumerate(prepared.extras or [], start=1):
        name, thumb = _store_image(extra, saved_files, f"{prepared.row.external_id}-{position}")
        images.append(ProductImage(image=name, thumbnail=thumb, image_checksum=extra.checksum, position=position))
    return images


def _import_batch(batch: list, result: ImportResult, report_skip: Callable[[str], None], announce_images: bool) -> None:
    prepared: list[_Prepared] = []
    for item in batch:
        if isinstance(item, tuple):
            line, external_id, reason = item
            _skip(result, report_skip, line, external_id, reason)
            continue
        try:
            prepared.append(_prepare(item))
        except RowError as exc:
            _skip(result, report_skip, item.line, item.external_id, str(exc))
    # The same id twice in one file: the later row wins.
    by_id = {p.row.external_id: p for p in prepared}
    existing = {p.external_id: p for p in Product.objects.filter(external_id__in=by_id)}
    current_extras: dict[int, list[ProductImage]] = {}
    for image in ProductImage.objects.filter(product__in=list(existing.values())).order_by("position", "pk"):
        current_extras.setdefault(image.product_id, []).append(image)
    new_extras: dict[str, list[ProductImage]] = {}  # external id → its more images, replacing any

    to_create: list[Product] = []
    to_update: list[Product] = []
    image_changed: list[Product] = []
    update_fields: set[str] = set()
    saved_files: list[str] = []
    replaced_files: list[str] = []
    try:
        for external_id, item in list(by_id.items()):
            product = existing.get(external_id)
            attributes = item.row.attributes
            problem = sale_problem(
                attributes.get("price", product.price if product else None),
                attributes.get("compare_at_price", product.compare_at_price if product else None),
            )
            if problem:
                _skip(result, report_skip, item.row.line, external_id, problem)
                continue
            if product is None:
                name, thumb = _store_image(item, saved_files, external_id)
                if item.extras:
                    new_extras[external_id] = _store_extra_images(item, saved_files)
                to_create.append(
                    Product(
                        external_id=external_id,
                        image=name,
                        thumbnail=thumb,
                        image_checksum=item.checksum,
                        **item.row.attributes,
                    )
                )
                continue
            changed = [f for f in item.row.attributes if getattr(product, f) != item.row.attributes[f]]
            for field_name in changed:
                setattr(product, field_name, item.row.attributes[field_name])
            if product.image_checksum != item.checksum:
                replaced_files += [n for n in (product.image.name, product.thumbnail.name) if n]
                name, thumb = _store_image(item, saved_files, external_id)
                product.image, product.thumbnail, product.image_checksum = name, thumb, item.checksum
                changed += ["image", "thumbnail", "image_checksum"]
                image_changed.append(product)
            old_extras = current_extras.get(product.pk, [])
            if item.extras is not None and item.extra_checksums != [i.image_checksum for i in old_extras]:
                new_extras[external_id] = _store_extra_images(item, saved_files)
                replaced_files += [n for i in old_extras for n in (i.image.name, i.thumbnail.name) if n]
                if product not in image_changed:
                    image_changed.append(product)
                changed.append("updated")
            if changed:
                update_fields.update(changed)
                to_update.append(product)
            else:
                result.unchanged += 1

        with transaction.atomic():
            created = Product.objects.bulk_create(to_create)
            if to_update:
                update_fields.add("updated")
                Product.objects.bulk_update(to_update, sorted(update_fields))
            if new_extras:
                owners = {p.external_id: p for p in [*created, *to_update]}
                ProductImage.objects.filter(product__in=[owners[e] for e in new_extras if e in existing]).delete()
                for external_id, images in new_extras.items():
                    for image in images:
                        image.product = owners[external_id]
                ProductImage.objects.bulk_create([image for images in new_extras.values() for image in images])
            # One announcement per batch: subscribers (visual search) queue one task for it.
            catalogue_changes_announce(
                [p.pk for p in created] + [p.pk for p in to_update],
                images_changed=[p.pk for p in created] + [p.pk for p in image_changed] if announce_images else [],
            )
    except BaseException:
        # Nothing of this batch reached the database: remove the files it wrote.
        for name in saved_files:
            default_storage.delete(name)
        raise
    for name in replaced_files:
        transaction.on_commit(partial(default_storage.delete, name))
    result.created += len(to_create)
    result.updated += len(to_update)


def _skip(result: ImportResult, report: Callable[[str], None], line: int, external_id: str, reason: str) -> None:
    message = f"skipped line {line} (id {external_id}): {reason}"
    result.skipped += 1
    if len(result.skip_reasons) < 1000:
        result.skip_reasons.append(message)
    report(message)


def _spelled(item: CatalogueRow | tuple[int, str, str], spellings: AttributeSpellings) -> CatalogueRow | tuple:
    """Attribute values as the catalogue spells them: whitespace collapsed, and matched
    case-insensitively to an existing value ("men " → "Men"), as in the admin's form."""
    if isinstance(item, CatalogueRow):
        for field_name in ATTRIBUTE_TEXT_FIELDS:
            if field_name in item.attributes:
                item.attributes[field_name] = spellings.canonical(field_name, str(item.attributes[field_name]))
    return item


def catalogue_import(
    path: Path,
    *,
    ids: set[str] | None = None,
    limit: int | None = None,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] = lambda n: None,
    on_skip: Callable[[str], None] = lambda message: None,
    announce_images: bool = True,
) -> ImportResult:
    """Import (or update) the products of ``path``; see the module docstring.

    With ``announce_images`` (the default) each batch's new and re-imaged products are
    announced as such (visual search then queues one embedding task per batch); without it
    they are announced as changed only, and ``reindex --missing`` embeds them later."""
    started = time.perf_counter()
    if not (path / "styles.csv").is_file():
        raise FileNotFoundError(f"{path / 'styles.csv'} not found: PATH must hold styles.csv and images/")
    result = ImportResult()
    spellings = AttributeSpellings()
    rows = (_spelled(item, spellings) for item in read_rows(path, ids=ids, limit=limit))
    for batch in _batched(rows, batch_size):
        _import_batch(batch, result, on_skip, announce_images)
        on_progress(len(batch))
    result.seconds = time.perf_counter() - started
    return result
