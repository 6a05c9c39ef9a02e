"""visualsearch.query.embedding and the worker-backed embedder next to the tasks: the query
embedder chosen at start-up from VISUALSEARCH_QUERY_IN_PROCESS and handed to photo search.

The worker-backed one runs here through Celery's eager mode (the test settings), with the
model replaced by a stand-in: the inputs and vectors make the real round trip through the
task's encoding."""

from __future__ import annotations

import numpy as np
import pytest

from visualsearch import tasks
from visualsearch.apps import configure_query_embedder
from visualsearch.ml import embedder as model
from visualsearch.query import embedding
from visualsearch.query.embedding import InProcessQueryEmbedder, query_embedder, query_embedding
from visualsearch.query.errors import SearchUnavailable
from visualsearch.tests.query.photos import fake_embedding


def inputs(count: int) -> np.ndarray:
    return np.random.default_rng(count).integers(0, 256, (count, 224, 224, 3), dtype=np.uint8)


def test_one_input_gives_one_vector_and_several_a_batch() -> None:
    batches: list[tuple[int, ...]] = []

    def fake(batch: np.ndarray) -> np.ndarray:
        batches.append(batch.shape)
        return fake_embedding(batch)

    one, two = inputs(1)[0], inputs(2)
    np.testing.assert_array_equal(query_embedding(one, fake), fake_embedding(one))
    np.testing.assert_array_equal(query_embedding(two, fake), fake_embedding(two))
    assert batches == [(1, 224, 224, 3), (2, 224, 224, 3)]  # always one batch


def test_the_embedder_is_chosen_from_the_setting(settings) -> None:
    settings.VISUALSEARCH_QUERY_IN_PROCESS = True
    assert isinstance(query_embedder(), InProcessQueryEmbedder)
    settings.VISUALSEARCH_QUERY_IN_PROCESS = False
    assert isinstance(query_embedder(), tasks.WorkerQueryEmbedder)
    configure_query_embedder()  # what the app's start-up does
    assert isinstance(query_embedder(), tasks.WorkerQueryEmbedder)


def test_without_an_installed_embedder_the_error_says_who_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "_installed", None)
    with pytest.raises(RuntimeError, match=r"AppConfig\.ready"):
        query_embedding(inputs(1)[0])


@pytest.mark.parametrize(
    "embedder", [InProcessQueryEmbedder(), tasks.WorkerQueryEmbedder()], ids=["in-process", "worker"]
)
def test_both_embedders_return_the_models_vectors(monkeypatch: pytest.MonkeyPatch, embedder) -> None:
    monkeypatch.setattr(model, "embed_batch", fake_embedding)
    batch = inputs(2)
    vectors = embedder(batch)
    assert vectors.shape == (2, 2048) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, fake_embedding(batch), rtol=0, atol=0)


def test_the_worker_embedder_answers_unavailable_for_the_shopper(monkeypatch: pytest.MonkeyPatch) -> None:
    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.embed_query_image, "apply_async", broker_down)
    with pytest.raises(SearchUnavailable) as raised:
        tasks.WorkerQueryEmbedder()(inputs(1))
    assert raised.value.message == (
        "Photo search is unavailable right now (the image analysis service did not answer). "
        "Please try again in a minute; browsing and “find similar” still work."
    )
    assert "redis" not in raised.value.message  # nothing of the infrastructure for the shopper


def test_the_worker_runs_the_model_while_the_web_process_computes_the_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Photo search sends the inputs first, computes the photo's colour descriptor while the
    query worker runs the model, then waits for the vectors; an embedder without ``start``
    (the model in this process) embeds at once."""
    from tests.support.images import image_bytes
    from visualsearch.query import locating

    steps: list[str] = []

    class Worker:
        def __call__(self, batch: np.ndarray) -> np.ndarray:
            raise AssertionError("photo search should start the embedding, then wait")

        def start(self, batch: np.ndarray):
            steps.append("sent")

            def wait() -> np.ndarray:
                steps.append("waited")
                return fake_embedding(batch)

            return wait

    real_colour = locating.query_colour
    monkeypatch.setattr(locating, "query_colour", lambda inputs: steps.append("colour") or real_colour(inputs))
    found = locating.default_items(image_bytes(size=(300, 400)), None, Worker())
    assert steps == ["sent", "colour", "waited"]
    assert found.items[0].vector.shape[-1] == 2048

    steps.clear()
    in_process = lambda batch: steps.append("embedded") or fake_embedding(batch)  # noqa: E731
    locating.default_items(image_bytes(size=(300, 400)), None, in_process)
    assert steps == ["embedded", "colour"]
