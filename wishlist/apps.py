from django.apps import AppConfig


class WishlistConfig(AppConfig):
    """The wishlist: a heart on every product, a guest's list in the session, a customer's in
    the database, merged at login. Depends on shop and core; renders into the shop's template
    hooks; the shop imports nothing of it."""

    name = "wishlist"
    verbose_name = "Wishlists"

    def ready(self) -> None:
        from wishlist import receivers  # noqa: F401  (merge the session's list at login)
