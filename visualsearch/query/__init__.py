"""Visual search's read path: find similar and photo search, split by job.

``errors`` (what a search refuses with), ``params`` (k and filters from a request), ``photo``
(the uploaded photo: box, default box, decoding, colour), ``tokens`` (the query kept for
refining), ``embedding`` (the query embedder chosen at start-up), ``ranking`` (re-ranking
with the stored vectors) and ``similar`` (the functions the views and the API call).

Nothing here imports ``visualsearch.tasks``: the worker-backed query embedder lives next to
the tasks and is installed from the app's start-up. This package's ``__init__`` imports
nothing, so ``visualsearch.query.photo`` can be used without the rest.
"""
