"""``python manage.py train_head [--no-activate] [--epochs N] [--photos N]``

Trains a similarity head on the stored vectors and the products' labels
(``visualsearch.services.head_training.head_train``: training products outside the fixed evaluation
split, epochs and colour weight picked on a validation part), and photo search's learned
space on ``--photos`` photo-like copies of training products (default
VISUALSEARCH_HEAD_PHOTO_PAIRS; 0: none), prints its held-out figures next to the raw
backbone's and the active head's, and activates it only if it beats the active one.
``--rollback`` goes back to the previously active head instead.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from visualsearch.ml.head import HeadParams
from visualsearch.services import head_training, heads

FIGURES = ("p5_type", "p1_type", "p5_sub", "p5_colour", "p5_type_colour", "p5_type_gender")


class Command(BaseCommand):
    help = "Train a similarity head (find similar) and activate it if it beats the active one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-activate", action="store_true", help="Store the head without activating it.")
        parser.add_argument("--epochs", type=int, help="Training epochs (default VISUALSEARCH_HEAD_EPOCHS).")
        parser.add_argument("--rollback", action="store_true", help="Activate the previously active head instead.")
        parser.add_argument(
            "--photos",
            type=int,
            help="Training photos for photo search's learned space (default VISUALSEARCH_HEAD_PHOTO_PAIRS; 0: none).",
        )

    def handle(
        self,
        *args: object,
        no_activate: bool,
        epochs: int | None,
        rollback: bool,
        photos: int | None = None,
        **options: object,
    ) -> None:
        if rollback:
            head = heads.head_rollback()
            self.stdout.write(f"Active now: {head.version if head else 'raw vectors (no head)'}")
            return
        params = HeadParams(epochs=epochs) if epochs else None
        if photos is not None and photos < 0:
            raise CommandError("--photos must be 0 or more.")
        try:
            result = head_training.head_train(
                activate=not no_activate,
                params=params,
                photo_count=photos,
                on_progress=lambda m: self.stdout.write(f"# {m}"),
            )
        except head_training.NotEnoughLabels as exc:
            raise CommandError(str(exc)) from None
        row = result.head
        metrics = row.metrics
        self.stdout.write(f"{'figure':<16}{'raw':>8}{'baseline':>10}{'new':>8}")
        for name in FIGURES:
            self.stdout.write(
                f"{name:<16}{metrics['raw'].get(name, 0):>8.3f}{metrics['baseline'].get(name, 0):>10.3f}"
                f"{metrics['eval'].get(name, 0):>8.3f}"
            )
        for profile, figures in (metrics.get("photos") or {}).items():
            for name in ("self_at_1", "strict_self_at_1", "self_at_5", "strict_self_at_5"):
                what = name.replace("strict_", "").replace("_at_", "@") + (", strict" if "strict" in name else "")
                label = f"photo {what} ({profile}, {figures['raw'].get('photos', 0)} photos)"
                self.stdout.write(f"{label:<44}{figures['raw'].get(name, 0):>8.3f}{figures['head'].get(name, 0):>8.3f}")
        if twins := metrics.get("twins"):
            self.stdout.write(
                f"same-picture twins: {twins['products']} products in {twins['groups']} groups "
                "(photo figures count a twin as the product; strict: only the product)"
            )
        if row.params.get("photo_space"):
            self.stdout.write(f"photo search space: {row.params['photo_space']}")
        self.stdout.write(
            f"head v{row.pk}: {row.training_seconds:.0f} s, {row.size_bytes / 1e6:.1f} MB, "
            f"epoch {row.params.get('epoch')}, colour weight {row.params.get('colour_weight')}; {result.reason}; "
            + ("reused" if result.reused else "activated" if result.activated else "not activated")
        )
