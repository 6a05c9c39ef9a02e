"""The model package's settings: one frozen ``ModelSettings``, configured once per process.

``visualsearch.ml`` knows nothing of Django: the Django app builds a ``ModelSettings`` from
its own settings and calls ``configure()`` at start-up (``VisualSearchConfig.ready``).
Used on its own (a script, a notebook), the package runs on the defaults below.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

# The repository's var/models: where the Django project keeps the weights by default too.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "var" / "models"
# The inference engines ("auto": ONNX Runtime when its export passed, else TensorFlow).
ENGINES = ("auto", "onnx", "tensorflow")


@dataclass(frozen=True)
class ModelSettings:
    """What the model needs to know.

    ``weights``: an explicit weights file to load (None: ``model_dir``'s file);
    ``model_dir``: where ``fetch_weights`` installs the weights and where they are looked for;
    ``batch_size``: images per forward pass (at least 1);
    ``engine``: the inference engine, one of ENGINES (``visualsearch.ml.engines.choose_engine``);
    ``threads``: ONNX Runtime's intra-op threads (0: one per core);
    ``spinning``: whether those threads busy-wait for work (ONNX Runtime's default; off here).
    """

    weights: Path | None = None
    model_dir: Path = field(default=DEFAULT_MODEL_DIR)
    batch_size: int = 32
    engine: str = "auto"
    threads: int = 0
    spinning: bool = False

    def __post_init__(self) -> None:
        # Normalise what callers pass ("" or a str path from an environment variable).
        object.__setattr__(self, "weights", Path(self.weights).expanduser() if self.weights else None)
        object.__setattr__(self, "model_dir", Path(self.model_dir).expanduser())
        object.__setattr__(self, "batch_size", max(1, int(self.batch_size)))
        object.__setattr__(self, "threads", max(0, int(self.threads)))
        if self.engine not in ENGINES:
            raise ValueError(f"Unknown inference engine {self.engine!r}: expected one of {', '.join(ENGINES)}.")


_lock = threading.Lock()
_current = ModelSettings()


def configure(model_settings: ModelSettings) -> None:
    """Use ``model_settings`` from now on (at start-up; the Django app re-applies it when its
    settings change in tests)."""
    global _current
    if not isinstance(model_settings, ModelSettings):
        raise TypeError(f"expected ModelSettings, got {type(model_settings).__name__}")
    with _lock:
        _current = model_settings


def current() -> ModelSettings:
    """The settings in force: the last ``configure()``d, else the defaults."""
    return _current
