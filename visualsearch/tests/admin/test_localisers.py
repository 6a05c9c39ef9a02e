"""The item localisers' admin: each version with its figures; activate one, go back."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client

from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.ml.localiser import Localiser
from visualsearch.models import ItemLocaliser

pytestmark = pytest.mark.django_db

PAGE = "/admin/visualsearch/itemlocaliser/"


def _version(first_box: float, params: dict | None = None, **metrics: float) -> ItemLocaliser:
    weights = Localiser(np.zeros(2048, np.float32), 0.0).to_bytes()
    return ItemLocaliser.objects.create(
        backbone_version=MODEL_VERSION,
        weights=weights,
        metrics={"first_box_iou50": first_box, "two_item_recall": 0.5, **metrics},
        params=params or {},
        trained_on=120,
    )


def test_the_page_lists_versions_with_figures_and_switches_them(admin_client: Client) -> None:
    old = _version(0.81)
    compared = {"version": old.version, "metrics": {"first_box_iou50": 0.79, "two_item_recall": 0.64}}
    new = _version(0.86, {"compared_with": compared}, product_photo_split=0.03)
    page = admin_client.get(PAGE).content.decode()
    assert "Item localiser v" in page and "81%" in page and "86%" in page and "first box finds the item" in page.lower()
    assert "product photos cut in two" in page.lower() and "3%" in page  # the older version shows —
    # The version active when the new one was trained, measured again on the new one's scenes.
    assert "against (same scenes)" in page.lower()
    assert f"v{old.pk}: 79% · 64% · —" in page
    response = admin_client.post(PAGE, {"action": "activate", "_selected_action": [old.pk]}, follow=True)
    assert f"Photo search now finds items with Item localiser v{old.pk}" in response.content.decode()
    admin_client.post(PAGE, {"action": "activate", "_selected_action": [new.pk]})
    assert ItemLocaliser.objects.get(active=True).pk == new.pk
    admin_client.post(PAGE, {"action": "roll_back", "_selected_action": [new.pk]})
    assert ItemLocaliser.objects.get(active=True).pk == old.pk
    assert admin_client.get(f"{PAGE}add/").status_code == 403
