# ruff: noqa: E402  (a research script: Django is set up before the project's imports)
"""Photo search's held-out figures by gallery size: searched among the held-out products only
(the issue's protocol: its photos were searched among its 4,000 evaluation products) and among
the whole catalogue; the seed pipeline (raw vectors, whole photo, no colour) beside the active
head's learned space (default box + whole photo, its colour weight), exact. Reads the photo
arrays ``photo_descriptors_embed.py`` saved (EXP_DATA) and the database's stored vectors.

    python scripts/experiments/photo_gallery_size.py
"""

import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
import numpy as np

from visualsearch.ml import head as head_mod
from visualsearch.ml.photo_projection import self_ranks
from visualsearch.models import SimilarityHead
from visualsearch.services import head_figures

DATA = os.environ.get("EXP_DATA", "var/experiments/photo_descriptors")


def figures(ranks: np.ndarray) -> str:
    return f"{(ranks == 0).mean():.3f} / {(ranks < 5).mean():.3f}"


def main() -> None:
    active = SimilarityHead.objects.filter(active=True).first()
    if active is None:
        sys.exit("No active head: run train_head first.")
    projection = head_mod.SimilarityModel.from_bytes(active.weights).photo
    if projection is None:
        sys.exit("The active head has no learned photo space.")
    data = head_figures.head_data_load()
    raw = head_figures.raw_matrix(data)
    held_out = np.flatnonzero(head_mod.split_of(data.ids) == "eval")
    for profile, trimmed_name, whole_name in (
        ("standard", "eval_std", "eval_std_whole"),
        ("hard", "eval_hard", "eval_hard_whole"),
    ):
        trimmed = np.load(f"{DATA}/photos_{trimmed_name}.npz")
        whole = np.load(f"{DATA}/photos_{whole_name}.npz")
        for label, rows in ((f"held-out only ({len(held_out)})", held_out), (f"all ({len(raw)})", np.arange(len(raw)))):
            position = {row: i for i, row in enumerate(rows)}
            true = np.array([position[row] for row in trimmed["rows"]])
            seed = self_ranks(whole["mac"], raw[rows], true)
            ours = self_ranks(
                projection.apply(trimmed["mac"]),
                projection.apply(raw[rows]),
                true,
                query_colours=trimmed["colour"],
                catalogue_colours=data.colours[rows],
                colour_weight=projection.colour_weight,
                variants=[(projection.apply(whole["mac"]), whole["colour"])],
            )
            print(f"{profile:8} {label:22} seed pipeline {figures(seed)} | this configuration {figures(ours)}")


if __name__ == "__main__":
    main()
