"""Fuzz: many mutated images (byte flips in headers and EXIF, truncations, EXIF tags of the
wrong type) through the decoder, the photo-search page and API, and the catalogue import.
Every one is either used or refused with a message: 0 × 500, 0 unexpected exceptions, 0
orphaned files. (The real worker's share is in visualsearch/tests/test_worker.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.images import ImageRejected
from shop.importing.catalogue import catalogue_import
from shop.models import Product
from tests.support.catalogue import write_catalogue
from tests.support.embeddings import store_vector
from tests.support.mutations import mutated_images
from visualsearch.ml.preprocessing import bytes_to_model_input

# Pillow warns about each malformed TIFF tag it skips: expected here, by design.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
MUTANTS = mutated_images(120, seed=12)


def media_files(root: str) -> set[str]:
    return {
        os.path.relpath(os.path.join(folder, name), root) for folder, _dirs, names in os.walk(root) for name in names
    }


def test_the_decoder_uses_or_refuses_every_mutant() -> None:
    used = refused = 0
    for label, data in MUTANTS:
        try:
            pixels = bytes_to_model_input(data)
        except ImageRejected as exc:
            assert str(exc), label
            refused += 1
            continue
        assert pixels.shape == (224, 224, 3) and pixels.dtype == np.uint8, label
        used += 1
    print(f"decoder: {used} used, {refused} refused of {len(MUTANTS)}")
    assert used > 10 and refused > 10  # the mix really has both kinds
    assert all(label for label, _ in MUTANTS if label.startswith("intact"))


@pytest.mark.slow
@pytest.mark.django_db
def test_photo_search_page_and_api_never_answer_500(make_product, settings) -> None:
    for i in range(6):
        store_vector(make_product(name=f"Shirt {i}"), seed=i)
    before = media_files(settings.MEDIA_ROOT)
    client = Client()
    answers: dict[int, int] = {}
    for label, data in MUTANTS:
        for url in ("/search/photo/", "/api/search/photo"):
            upload = SimpleUploadedFile(f"{label}.jpg", data, content_type="image/jpeg")
            response = client.post(url, {"image": upload})
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            assert response.status_code in (200, 400), (label, url, response.status_code)
            if response.status_code == 400 and url.startswith("/api/"):
                assert response.json()["error"]["message"], label
    print(f"page + API answers: {answers}")
    assert answers.get(200, 0) > 10 and answers.get(400, 0) > 10
    assert media_files(settings.MEDIA_ROOT) == before  # nothing written


@pytest.mark.django_db
def test_import_skips_bad_files_with_reasons_and_leaves_no_orphans(tmp_path: Path, settings) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    rows = [
        {
            "id": str(90000 + n),
            "gender": "Men",
            "masterCategory": "Apparel",
            "subCategory": "Topwear",
            "articleType": "Tshirts",
            "baseColour": "Red",
            "season": "Summer",
            "year": "2012",
            "usage": "Casual",
            "productDisplayName": f"Fuzz {label}",
        }
        for n, (label, _data) in enumerate(MUTANTS)
    ]
    folder = write_catalogue(tmp_path / "catalogue", rows, copy_images=False)
    for row, (_label, data) in zip(rows, MUTANTS, strict=True):
        (folder / "images" / f"{row['id']}.jpg").write_bytes(data)
    skipped: list[str] = []
    result = catalogue_import(folder, batch_size=25, on_skip=skipped.append, announce_images=False)
    assert result.created + result.skipped == len(MUTANTS)
    assert result.created > 10 and result.skipped > 10
    assert all("unusable" in reason or "missing" in reason for reason in skipped), skipped[:5]
    referenced = {name for pair in Product.objects.values_list("image", "thumbnail") for name in pair if name}
    assert media_files(settings.MEDIA_ROOT) == referenced  # no orphaned file
