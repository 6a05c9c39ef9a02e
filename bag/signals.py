"""What the bag announces, for apps that count what shoppers do (insights); the bag imports none
of them."""

from django.dispatch import Signal

# A shopper added a product to their bag: ``request``, ``product_id`` and ``quantity``.
bag_line_added = Signal()
