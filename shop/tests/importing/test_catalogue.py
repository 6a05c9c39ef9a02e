"""import_catalogue on real catalogue rows: counts, idempotence, updates, bad rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from shop.importing.catalogue import catalogue_import
from shop.models import Product
from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.images import image_bytes

pytestmark = pytest.mark.django_db


def _run(path: Path, *args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_catalogue", str(path), "--no-embeddings", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.mark.slow  # over 2 s (a subprocess, a broker, or real images)
def test_import_creates_products_with_their_attributes_and_images(small_catalogue: Path) -> None:
    output = _run(small_catalogue)
    assert "40 created, 0 updated, 0 unchanged, 0 skipped" in output
    assert Product.objects.count() == 40
    with (small_catalogue / "styles.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    product = Product.objects.get(external_id=row["id"])
    assert product.name == row["productDisplayName"]
    assert (product.gender, product.master_category, product.sub_category, product.article_type) == (
        row["gender"],
        row["masterCategory"],
        row["subCategory"],
        row["articleType"],
    )
    assert product.base_colour == row["baseColour"]
    assert product.year == (int(float(row["year"])) if row["year"] else None)
    assert product.is_active
    with default_storage.open(product.image.name) as stored:
        assert stored.read() == (small_catalogue / "images" / f"{row['id']}.jpg").read_bytes()
    assert len(product.image_checksum) == 64


def test_second_run_changes_nothing(small_catalogue: Path) -> None:
    _run(small_catalogue)
    before = {p.external_id: (p.updated, p.image.name) for p in Product.objects.all()}
    output = _run(small_catalogue)
    assert "0 created, 0 updated, 40 unchanged, 0 skipped" in output
    assert Product.objects.count() == 40
    assert {p.external_id: (p.updated, p.image.name) for p in Product.objects.all()} == before


def test_changed_rows_are_updated(tmp_path: Path) -> None:
    rows = catalogue_rows(6)
    folder = write_catalogue(tmp_path / "cat", rows)
    _run(folder)
    rows[0] = {**rows[0], "productDisplayName": "Renamed Product", "baseColour": "Purple"}
    write_catalogue(folder, rows, copy_images=False)
    (folder / "images" / f"{rows[1]['id']}.jpg").write_bytes(image_bytes((10, 200, 10)))
    output = _run(folder)
    assert "0 created, 2 updated, 4 unchanged" in output
    renamed = Product.objects.get(external_id=rows[0]["id"])
    assert (renamed.name, renamed.base_colour) == ("Renamed Product", "Purple")
    reimaged = Product.objects.get(external_id=rows[1]["id"])
    with default_storage.open(reimaged.image.name) as stored:
        assert stored.read() == image_bytes((10, 200, 10))


def test_bad_rows_are_skipped_with_a_reason_and_counted(tmp_path: Path) -> None:
    rows = catalogue_rows(5)
    folder = write_catalogue(tmp_path / "cat", rows)
    text = (folder / "styles.csv").read_text()
    bad = [
        "999001,Men,Apparel,Topwear,Shirts,Blue,Summer,2012,Casual,",  # empty name
        "999002,Men,Apparel,Topwear,Shirts,Blue,Summer,2012,Casual,No Image Shirt",  # image missing
        "999003,Men,Apparel,Topwear,Shirts,Blue,Summer,2012,Casual,Broken Image Shirt",  # unreadable image
        "999004,Men,Apparel,Topwear",  # malformed: too few fields
        "999005,Men,Apparel,Topwear,Shirts,Blue,Summer,20x2,Casual,Odd Year",  # bad year
    ]
    (folder / "styles.csv").write_text(text + "\n".join(bad) + "\n")
    (folder / "images" / "999003.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "images" / "999005.jpg").write_bytes(image_bytes())
    output = _run(folder)
    assert "5 created, 0 updated, 0 unchanged, 5 skipped" in output
    assert "empty productDisplayName" in output
    assert "image 999002.jpg is missing" in output
    assert "image 999003.jpg is unusable" in output
    assert "malformed line" in output
    assert "year '20x2' is not a number" in output
    assert Product.objects.count() == 5


def test_limit_and_ids(tmp_path: Path, small_catalogue: Path) -> None:
    _run(small_catalogue, "--limit", "7")
    assert Product.objects.count() == 7
    with (small_catalogue / "styles.csv").open(newline="") as handle:
        ids = [row["id"] for row in csv.DictReader(handle)][20:23]
    id_file = tmp_path / "ids.txt"
    id_file.write_text("\n".join(ids) + "\n")
    _run(small_catalogue, "--ids", str(id_file))
    assert Product.objects.count() == 10
    assert set(ids) <= set(Product.objects.values_list("external_id", flat=True))


def test_a_failing_batch_leaves_no_half_written_product(small_catalogue: Path, monkeypatch, settings, tmp_path) -> None:
    """A crash while writing a batch rolls the whole batch back and removes its files."""
    from shop.importing import catalogue as module

    settings.MEDIA_ROOT = str(tmp_path / "media")

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash after the rows were written")

    monkeypatch.setattr(module, "catalogue_changes_announce", explode)
    with pytest.raises(RuntimeError):
        catalogue_import(small_catalogue, batch_size=15, announce_images=False)
    assert Product.objects.count() == 0
    assert default_storage.listdir("products")[1] == []


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"has no styles\.csv"):
        call_command("import_catalogue", str(tmp_path / "nowhere"))
