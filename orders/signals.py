"""What orders announce. To the apps that took the money (checkout): the shop keeps no payment
code in orders. To orders' own receivers: what happens after a change (the confirmation email),
so that the services never import the tasks."""

from django.dispatch import Signal

# The customer must get their money back (a paid order cancelled, or refunded): ``order``.
# Sent inside the order's transaction; a receiver that raises undoes the change.
order_refund_needed = Signal()
# The order was paid: ``order_id``. Sent once the transaction committed.
order_paid = Signal()
# Staff marked the order shipped: ``order_id``. Sent once the transaction committed.
order_shipped = Signal()
# A shopper placed the order: ``order`` and the ``request`` it was placed from (for apps that
# count what led to it, e.g. insights). Sent by the checkout after the order is written; sent
# again if the same checkout is submitted twice (the order is the same).
order_placed = Signal()
