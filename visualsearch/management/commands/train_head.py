"""``python manage.py train_head [--no-activate] [--epochs N]``

Trains a similarity head on the stored vectors and the products' labels
(``visualsearch.services.heads.head_train``: training products outside the fixed evaluation
split, epochs and colour weight picked on a validation part), prints its held-out figures
next to the raw backbone's and the active head's, and activates it only if it beats the
active one. ``--rollback`` goes back to the previously active head instead.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from visualsearch.ml.head import HeadParams
from visualsearch.services import heads

FIGURES = ("p5_type", "p1_type", "p5_sub", "p5_colour", "p5_type_colour", "p5_type_gender")


class Command(BaseCommand):
    help = "Train a similarity head (find similar) and activate it if it beats the active one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-activate", action="store_true", help="Store the head without activating it.")
        parser.add_argument("--epochs", type=int, help="Training epochs (default VISUALSEARCH_HEAD_EPOCHS).")
        parser.add_argument("--rollback", action="store_true", help="Activate the previously active head instead.")

    def handle(self, *args: object, no_activate: bool, epochs: int | None, rollback: bool, **options: object) -> None:
        if rollback:
            head = heads.head_rollback()
            self.stdout.write(f"Active now: {head.version if head else 'raw vectors (no head)'}")
            return
        params = HeadParams(epochs=epochs) if epochs else None
        try:
            result = heads.head_train(
                activate=not no_activate, params=params, on_progress=lambda m: self.stdout.write(f"# {m}")
            )
        except heads.NotEnoughLabels as exc:
            raise CommandError(str(exc)) from None
        row = result.head
        metrics = row.metrics
        self.stdout.write(f"{'figure':<16}{'raw':>8}{'baseline':>10}{'new':>8}")
        for name in FIGURES:
            self.stdout.write(
                f"{name:<16}{metrics['raw'].get(name, 0):>8.3f}{metrics['baseline'].get(name, 0):>10.3f}"
                f"{metrics['eval'].get(name, 0):>8.3f}"
            )
        self.stdout.write(
            f"head v{row.pk}: {row.training_seconds:.0f} s, {row.size_bytes / 1e6:.1f} MB, "
            f"epoch {row.params.get('epoch')}, colour weight {row.params.get('colour_weight')}; {result.reason}; "
            + ("activated" if result.activated else "not activated")
        )
