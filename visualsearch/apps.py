from pathlib import Path
from typing import Any

from django.apps import AppConfig

# The Django settings that visualsearch.ml's ModelSettings is built from (VISUALSEARCH: the
# environment's values, config/settings/app_settings.py).
_ML_SETTINGS = frozenset({"VISUALSEARCH_WEIGHTS", "VISUALSEARCH_MODEL_DIR", "VISUALSEARCH_BATCH_SIZE", "VISUALSEARCH"})


def configure_ml() -> None:
    """Hand visualsearch.ml (which has no Django) its settings, from visualsearch.conf."""
    from visualsearch.conf import vs_settings
    from visualsearch.ml import settings as ml_settings

    ml_settings.configure(
        ml_settings.ModelSettings(
            weights=Path(vs_settings.WEIGHTS) if vs_settings.WEIGHTS else None,
            model_dir=vs_settings.MODEL_DIR,
            batch_size=vs_settings.BATCH_SIZE,
        )
    )


def _reconfigure_ml(*, setting: str, **kwargs: Any) -> None:
    """setting_changed receiver: override_settings on a model setting reaches visualsearch.ml."""
    if setting in _ML_SETTINGS:
        configure_ml()


class VisualSearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from . import metrics, receivers  # noqa: F401  (receivers: connects the product signals)

        configure_ml()
        metrics.register()
        setting_changed.connect(_reconfigure_ml, dispatch_uid="visualsearch.ml.settings")
        # The embedded default's development server loads the model now, in the background.
        from .warmup import start_dev_server_warm_up

        start_dev_server_warm_up()
