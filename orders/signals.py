"""What orders announce to the apps that took the money (checkout): the shop keeps no payment
code in orders. Sent inside the order's transaction; a receiver that raises undoes the change."""

from django.dispatch import Signal

# The customer must get their money back (a paid order cancelled, or refunded): ``order``.
order_refund_needed = Signal()
