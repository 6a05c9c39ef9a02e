"""The lab's error."""


class BenchmarkFailed(RuntimeError):
    """A measurement could not be made (missing images, a request that did not answer 200, …)."""
