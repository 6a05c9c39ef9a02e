"""What the catalogue announces about its products. Apps built on the shop (visual search,
the bag) subscribe; the shop never imports them.

Every path that changes products sends these: the admin, the import, code that saves a
product, bulk (de)activation, stock changes. Each carries ``product_ids`` (a list of ints)
and is sent after the change is written, inside its transaction.
"""

from django.dispatch import Signal

# Products were added, edited, (de)activated, deleted or their stock changed.
products_changed = Signal()
# These products got a new or replaced image (a subset of some products_changed).
product_images_changed = Signal()

# What shoppers do on the storefront, for apps that count it (insights): sent by the views with
# the ``request``. A text search of the catalogue: ``text`` and ``count`` (products found).
catalogue_searched = Signal()
# A product's page was shown: ``product_id``.
product_viewed = Signal()
