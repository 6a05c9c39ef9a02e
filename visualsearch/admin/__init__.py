"""The staff side of visual search, one module per concern:

- ``products``: the embedding column, filter, summary and action on the shop's product admin;
- ``embeddings``: the list of embeddings, with "compute again";
- ``reindex``: reindex jobs, their dashboard and the start/retry/resume/cancel buttons;
- ``heads`` (figures in ``head_figures``): similarity heads, retrain, activate, roll back;
- ``localisers``: item localiser versions, their figures, activate, roll back.

Django's admin autodiscovery imports this package; importing the modules registers them."""

from django.contrib import admin

from visualsearch.admin import embeddings, heads, localisers, products, reindex

__all__ = ["embeddings", "heads", "localisers", "products", "reindex"]

# The admin's index names what staff manage here, visual search included.
admin.site.index_title = "Catalogue and visual search"
