from pathlib import Path
from typing import Any

from django.apps import AppConfig

# The Django settings that visualsearch.ml's ModelSettings is built from (VISUALSEARCH: the
# environment's values, config/settings/app_settings.py).
_ML_SETTINGS = frozenset(
    {
        "VISUALSEARCH_WEIGHTS",
        "VISUALSEARCH_MODEL_DIR",
        "VISUALSEARCH_BATCH_SIZE",
        "VISUALSEARCH_ENGINE",
        "VISUALSEARCH_ENGINE_THREADS",
        "VISUALSEARCH_ENGINE_SPINNING",
        "VISUALSEARCH",
    }
)


def configure_ml() -> None:
    """Hand visualsearch.ml (which has no Django) its settings, from visualsearch.conf."""
    from visualsearch.conf import vs_settings
    from visualsearch.ml import settings as ml_settings

    ml_settings.configure(
        ml_settings.ModelSettings(
            weights=Path(vs_settings.WEIGHTS) if vs_settings.WEIGHTS else None,
            model_dir=vs_settings.MODEL_DIR,
            batch_size=vs_settings.BATCH_SIZE,
            engine=vs_settings.ENGINE,
            threads=vs_settings.ENGINE_THREADS,
            spinning=vs_settings.ENGINE_SPINNING,
        )
    )


def _reconfigure_ml(*, setting: str, **kwargs: Any) -> None:
    """setting_changed receiver: override_settings on a model setting reaches visualsearch.ml."""
    if setting in _ML_SETTINGS:
        configure_ml()


def configure_query_embedder() -> None:
    """Choose photo search's query embedder once, from VISUALSEARCH_QUERY_IN_PROCESS: the
    model in this process (the embedded default), or the worker's "query" queue (production).
    The worker-backed one lives with the tasks, so the read path never imports them."""
    from visualsearch.conf import vs_settings
    from visualsearch.query.embedding import InProcessQueryEmbedder, query_embedder_install

    if vs_settings.QUERY_IN_PROCESS:
        query_embedder_install(InProcessQueryEmbedder())
    else:
        from visualsearch.tasks import WorkerQueryEmbedder

        query_embedder_install(WorkerQueryEmbedder())


def install_task_queue() -> None:
    """The services send their work to these tasks (the services never import the tasks)."""
    from visualsearch.services.task_queue import task_queue_install
    from visualsearch.tasks import CeleryTaskQueue

    task_queue_install(CeleryTaskQueue())


def _rechoose_query_embedder(*, setting: str, **kwargs: Any) -> None:
    """setting_changed receiver: overriding VISUALSEARCH_QUERY_IN_PROCESS chooses again."""
    if setting == "VISUALSEARCH_QUERY_IN_PROCESS":
        configure_query_embedder()


class VisualSearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from . import metrics, receivers  # noqa: F401  (receivers: connects the product signals)

        configure_ml()
        install_task_queue()
        configure_query_embedder()
        metrics.register()
        setting_changed.connect(_reconfigure_ml, dispatch_uid="visualsearch.ml.settings")
        setting_changed.connect(_rechoose_query_embedder, dispatch_uid="visualsearch.query.embedder")
        # The embedded default's development server loads the model now, in the background.
        from .warmup import start_dev_server_warm_up

        start_dev_server_warm_up()
