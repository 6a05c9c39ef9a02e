"""Partners' keys: staff create them (the key is shown once), see when each was last used,
and revoke them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from api.models import ApiKey
from api.services import api_key_issue, api_key_revoke


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() == "active":
            return queryset.filter(revoked__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope_list", "limit", "created", "last_used", "state")
    list_filter = (StateFilter, "scope_read", "scope_bag")
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created", "created_by", "last_used", "revoked")
    fields = ("name", "scope_read", "scope_bag", "rate_limit", *readonly_fields)
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes) or "—"

    @admin.display(description="rate limit")
    def limit(self, key: ApiKey) -> str:
        return key.rate_limit or "default"

    @admin.display(description="state", ordering="revoked")
    def state(self, key: ApiKey) -> str:
        if key.revoked:
            return format_html('<span style="color:#b00">revoked {}</span>', key.revoked.strftime("%Y-%m-%d %H:%M"))
        return "active"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.created_by = request.user if request.user.is_authenticated else None
        raw = api_key_issue(obj)
        messages.warning(
            request,
            format_html(
                "The key for “{}”: <code>{}</code> — copy it now: it is stored hashed and will not be shown again.",
                obj.name,
                raw,
            ),
        )

    @admin.action(description="Revoke the selected keys (they stop working at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for key in queryset.filter(revoked__isnull=True):
            api_key_revoke(key)
            count += 1
        self.message_user(request, f"{count} key{'s' if count != 1 else ''} revoked.", messages.SUCCESS)
