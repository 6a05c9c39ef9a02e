"""``python manage.py train_localiser [--scenes N] [--validation-scenes N] [--no-activate] [--rollback]``

Trains a new item localiser version on generated scenes of training products
(``visualsearch.services.localisers.localiser_train``), with a progress bar; it becomes
active when it finds items at least as well as the active one, both measured on the same
validation scenes and product photos. ``--rollback`` goes one
version back instead.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from visualsearch.ml.localiser_training import TrainingOptions
from visualsearch.ml.weights import WeightsNotFound
from visualsearch.services import localisers


class Command(BaseCommand):
    help = "Train the item localiser (what finds the items in a shopper's photo) and activate it if it is better."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenes", type=int, default=TrainingOptions.scenes, help="Training scenes to generate.")
        parser.add_argument(
            "--validation-scenes",
            type=int,
            default=TrainingOptions.validation_scenes,
            help="Scenes of validation products that pick the thresholds and give the figures.",
        )
        parser.add_argument("--no-activate", action="store_true", help="Store the new version without activating it.")
        parser.add_argument("--rollback", action="store_true", help="Go back to the previously active version.")

    def handle(
        self, *args: Any, scenes: int, validation_scenes: int, no_activate: bool, rollback: bool, **options: Any
    ) -> None:
        if rollback:
            row = localisers.localiser_rollback()
            self.stdout.write(
                f"Active now: {row}" if row else "No localiser active now: photo search trims uniform borders."
            )
            return
        if scenes < 10 or validation_scenes < 4:
            raise CommandError("--scenes must be at least 10 and --validation-scenes at least 4.")
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=stage, unit="scene", disable=options["verbosity"] == 0)
            bar.update(done - bar.n)

        try:
            outcome = localisers.localiser_train(
                TrainingOptions(scenes=scenes, validation_scenes=validation_scenes),
                progress=progress,
                activate=not no_activate,
            )
        except (localisers.NotEnoughProducts, WeightsNotFound) as exc:
            raise CommandError(str(exc)) from None
        finally:
            for bar in bars.values():
                bar.close()
        row = outcome.localiser
        figures = ", ".join(f"{key} {value:.3f}" for key, value in sorted(row.metrics.items()))
        self.stdout.write(f"{row} trained in {row.training_seconds:.0f} s on {row.trained_on} training products.")
        self.stdout.write(f"Validation scenes: {figures}")
        compared = row.params.get("compared_with")
        if compared:
            theirs = ", ".join(f"{key} {value:.3f}" for key, value in sorted(compared["metrics"].items()))
            self.stdout.write(f"The active {compared['version']} on the same scenes: {theirs}")
        self.stdout.write(("Activated: " if outcome.activated else "Not activated: ") + outcome.reason)
