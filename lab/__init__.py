"""The lab: measurements of the shop, never part of it. Relevance of "find similar"
(relevance), embedding throughput (bench_embed), search latency and index memory
(bench_search), the FAISS index at sizes we have no images for (bench_ann), photo search's
"crop to search" and "no close match" (photo_quality), the cost of decoding hostile images
(decoding_benchmark), synthetic embeddings for load tests (synthetic), and research scripts
(experiments/). The management commands of the same names only parse arguments and print
what these return.

Installed only when asked for (``LOOKALIKE_LAB=1``), under ``DJANGO_DEBUG`` and in the test
settings. The lab imports the product; the product never imports the lab (import-linter)."""
