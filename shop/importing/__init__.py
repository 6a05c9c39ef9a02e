"""Bringing products into the catalogue.

- ``catalogue``: read a folder in the Fashion Product Images layout (styles.csv + images/)
  into products, idempotently, in batches.
- ``uploads``: the checks of an admin upload (the CSV's columns; a zip of images checked from
  its directory and extracted safely), ``ImportRefused`` when it cannot be imported at all.
- ``jobs``: an admin import as an ``ImportJob`` (create, run, fail); how a job is scheduled
  (Celery or the background thread) is handed in by the caller (``shop.tasks``).
- ``selectors``: reads of import jobs.
- ``demo``: made-up prices, sizes and stock for the sample catalogue, applied by
  ``import_catalogue --demo-prices --demo-stock`` (``scripts/dev``) only.

Nothing here imports ``shop.tasks``: the tasks import the jobs.
"""
