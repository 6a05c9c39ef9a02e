"""Item localisers for staff: each trained version with its figures on validation scenes (how
often its first box found the item, how many items of two-item photos it found), which one
photo search uses, and the actions to activate one or go back to the previous one
(visualsearch.services.localisers). Training is ``manage.py train_localiser`` or the Celery
task ``train_item_localiser`` (minutes of the model: never in a request)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from visualsearch.models import ItemLocaliser
from visualsearch.services import localisers


def _share(value: object) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else "—"


@admin.register(ItemLocaliser)
class ItemLocaliserAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "active",
        "first_box",
        "two_items",
        "product_photos_cut",
        "compared_with",
        "trained_on",
        "training_minutes",
        "created",
    )
    list_filter = ("active",)
    readonly_fields = (
        "backbone_version",
        "metrics",
        "params",
        "training_seconds",
        "trained_on",
        "active",
        "activated_at",
        "created",
    )
    exclude = ("weights",)
    actions = ("activate", "roll_back")

    @admin.display(description="first box finds the item")
    def first_box(self, obj: ItemLocaliser) -> str:
        return _share(obj.metrics.get("first_box_iou50"))

    @admin.display(description="items found in two-item photos")
    def two_items(self, obj: ItemLocaliser) -> str:
        return _share(obj.metrics.get("two_item_recall"))

    @admin.display(description="product photos cut in two")
    def product_photos_cut(self, obj: ItemLocaliser) -> str:
        """Validation photos of one product the localiser cuts into several boxes (— for a
        version trained before this was measured)."""
        return _share(obj.metrics.get("product_photo_split"))

    @admin.display(description="against (same scenes)")
    def compared_with(self, obj: ItemLocaliser) -> str:
        """The version that was active when this one was trained (what it was compared against),
        measured again on this one's validation scenes and photos: first box · two-item items ·
        product photos cut in two; — when none was active or it was made for other weights."""
        compared = obj.params.get("compared_with") if isinstance(obj.params, dict) else None
        if not isinstance(compared, dict) or not isinstance(compared.get("metrics"), dict):
            return "—"
        figures = compared["metrics"]
        version = str(compared.get("version", "?")).replace("localiser-", "")
        return (
            f"{version}: {_share(figures.get('first_box_iou50'))} · "
            f"{_share(figures.get('two_item_recall'))} · {_share(figures.get('product_photo_split'))}"
        )

    @admin.display(description="training (min)")
    def training_minutes(self, obj: ItemLocaliser) -> str:
        return f"{obj.training_seconds / 60:.1f}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training

    @admin.action(description="Use this localiser for photo search")
    def activate(self, request: HttpRequest, queryset: QuerySet[ItemLocaliser]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one localiser to activate.", messages.WARNING)
            return
        row = localisers.localiser_activate(queryset.get())
        self.message_user(request, f"Photo search now finds items with {row}.", messages.SUCCESS)

    @admin.action(description="Go back to the previously active localiser")
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ItemLocaliser]) -> None:
        row = localisers.localiser_rollback()
        self.message_user(
            request,
            f"Photo search now finds items with {row}."
            if row
            else "No localiser is active: photo search trims uniform borders, as before.",
            messages.SUCCESS,
        )
