"""Measurements of visual search as plain, tested functions: relevance of "find similar"
(relevance), embedding throughput (bench_embed), search latency and index memory
(bench_search), and synthetic embeddings for load tests (synthetic). The management
commands of the same names only parse arguments and print what these return."""


class BenchmarkFailed(RuntimeError):
    """A measurement could not be made (missing images, a request that did not answer 200, …)."""
