"""Activating and rolling back similarity heads: which one find similar and photo search use.

Every index reloads with the active head on its next refresh. Reads of the active head are
selectors (``visualsearch.selectors.head_active``, ``served_model_version``); training is
``services/head_training.py``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from visualsearch.models import SimilarityHead
from visualsearch.selectors import head_active


def head_activate(head: SimilarityHead | int) -> SimilarityHead:
    """Make this head the active one (every index reloads with it on its next refresh)."""
    pk = head if isinstance(head, int) else head.pk
    with transaction.atomic():
        row = SimilarityHead.objects.select_for_update().get(pk=pk)
        SimilarityHead.objects.filter(active=True).exclude(pk=pk).update(active=False)
        if not row.active:
            row.active = True
            row.activated_at = timezone.now()
            row.save(update_fields=["active", "activated_at"])
    return row


def head_rollback() -> SimilarityHead | None:
    """Go back to the head that was active before the current one (the most recently
    activated other head of the same backbone; the current one leaves that history, so a
    second rollback goes one further back); with none, to the raw vectors. Returns the head
    now active (None: raw vectors)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    with transaction.atomic():
        current = head_active()
        if current is not None:
            SimilarityHead.objects.filter(pk=current.pk).update(
                active=False,
                activated_at=None,
                note=f"{current.note}\nrolled back {timezone.now():%Y-%m-%d %H:%M} UTC".strip(),
            )
        previous = (
            SimilarityHead.objects.filter(activated_at__isnull=False, backbone_version=MODEL_VERSION)
            .order_by("-activated_at", "-pk")
            .first()
        )
        if previous is None:
            return None
        return head_activate(previous)
