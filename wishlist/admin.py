from django.contrib import admin

from wishlist.models import WishlistItem


@admin.register(WishlistItem)
class WishlistItemAdmin(admin.ModelAdmin):
    list_display = ("product", "user", "created")
    list_filter = ("created",)
    search_fields = ("user__email", "user__username", "product__name", "=product__id")
    raw_id_fields = ("user", "product")
    list_select_related = ("user", "product")
