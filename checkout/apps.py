from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    """Checkout: details → shipping → review → payment (django-payments). Depends on bag,
    orders, shop and core."""

    name = "checkout"
    verbose_name = "Checkout and payments"

    def ready(self) -> None:
        from checkout import (  # noqa: F401
            checks,  # check --deploy: real payments
            receivers,  # a confirmed payment marks its order paid
        )
