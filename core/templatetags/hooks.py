"""Template hooks: a template names a place (``{% render_hook "product_actions" product=p %}``)
and every installed app that has ``<app label>/hooks/<place>.html`` renders into it, in
INSTALLED_APPS order. The shop's templates so offer places to the apps built on top of the
shop (visual search, the bag) without naming them: the shop renders with none installed."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from django import template
from django.apps import apps
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@cache
def _hook_templates(place: str) -> tuple[str, ...]:
    found = []
    for config in apps.get_app_configs():
        name = f"{config.label}/hooks/{place}.html"
        try:
            get_template(name)
        except TemplateDoesNotExist:
            continue
        found.append(name)
    return tuple(found)


@receiver(setting_changed)
def _forget_hook_templates(setting: str, **kwargs: object) -> None:
    if setting in {"INSTALLED_APPS", "TEMPLATES"}:
        _hook_templates.cache_clear()


@register.simple_tag(takes_context=True)
def render_hook(context: template.Context, place: str, **extra: object) -> SafeString:
    # A template context's keys are variable names; django-stubs types them more widely.
    flat = cast(dict[str, Any], context.flatten())
    flat.update(extra)
    request = context.get("request")
    parts = [get_template(name).render(flat, request) for name in _hook_templates(place)]
    return mark_safe("".join(parts))


@register.simple_tag
def hook_present(place: str) -> bool:
    """Whether any installed app renders into this place (to lay out around it)."""
    return bool(_hook_templates(place))
