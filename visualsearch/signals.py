"""What visual search announces, for apps that count what shoppers do (insights); visual search
imports none of them."""

from django.dispatch import Signal

# A shopper's search was answered (the page or the API): ``request``, ``kind`` ("similar" or
# "photo"), ``product_id`` (find similar: the product it started from; else None) and
# ``result`` (the SimilarResult: its products, ``close_match`` and, for a photo, the query's
# vector and preview). Sent by the views after the search, before the page is rendered;
# refining an earlier photo search (a token, no new photo) sends nothing.
visual_search_answered = Signal()
