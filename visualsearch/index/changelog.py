"""Reading the index change log (``IndexChange``) past a watermark.

Change-log ids come from a sequence, and transactions commit out of id order: a change
with a lower id can become visible after a higher one was read. Ids skipped over by a
read are remembered for a while (``GAP_TTL_SECONDS``) and looked for again, so a late
commit is still applied.
"""

from __future__ import annotations

import time
import zlib
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from visualsearch.models import IndexChange

# More pending changes than this: the reader's owner should reload everything.
FULL_RELOAD_AFTER = 20_000
# Change ids missing below the watermark (a transaction still open, or rolled back).
GAP_TTL_SECONDS = 600.0
GAP_LOOKBACK_IDS = 2000  # at a restart, holes this far below the watermark are watched
MAX_GAPS = 5000


def latest_change_id() -> int:
    return IndexChange.objects.order_by("-id").values_list("id", flat=True).first() or 0


class ChangeLogReader:
    def __init__(self) -> None:
        self.watermark = 0
        self.gaps: dict[int, float] = {}  # change id → when it was first found missing
        self.late_changes = 0

    def position(self) -> str:
        """Where the reader stands: the watermark, and the gaps still awaited (two readers at the
        same watermark that applied different late changes differ)."""
        if not self.gaps:
            return str(self.watermark)
        return f"{self.watermark}-{zlib.crc32(','.join(map(str, sorted(self.gaps))).encode()):08x}"

    def restart(self, watermark: int) -> None:
        """Read from ``watermark`` on (after a full load that read it first)."""
        self.watermark = watermark
        self.gaps = self._holes_below(watermark)

    def _holes_below(self, watermark: int) -> dict[int, float]:
        """Change ids just below the watermark, among recent changes, that are not visible yet
        (their transactions are still open)."""
        recent = timezone.now() - timedelta(seconds=GAP_TTL_SECONDS)
        seen = set(
            IndexChange.objects.filter(
                id__gt=max(watermark - GAP_LOOKBACK_IDS, 0), id__lte=watermark, created__gte=recent
            ).values_list("id", flat=True)
        )
        if not seen:
            return {}
        now = time.monotonic()
        return {cid: now for cid in range(min(seen), max(seen)) if cid not in seen}

    def pending(self) -> list[tuple[int, int]]:
        """(change id, product id) past the watermark or in a remembered gap, at most
        FULL_RELOAD_AFTER of them."""
        condition = Q(id__gt=self.watermark)
        if self.gaps:
            condition |= Q(id__in=list(self.gaps))
        return list(
            IndexChange.objects.filter(condition).order_by("id").values_list("id", "product_id")[:FULL_RELOAD_AFTER]
        )

    def advance(self, change_ids: list[int]) -> None:
        """The changes were applied: forget the gaps that showed up, remember the new ones,
        expire the old ones, move the watermark."""
        now = time.monotonic()
        seen = set(change_ids)
        late = [cid for cid in seen if cid in self.gaps]
        for cid in late:
            del self.gaps[cid]
        self.late_changes += len(late)
        new_watermark = max(max(change_ids, default=0), self.watermark)
        if new_watermark - self.watermark <= FULL_RELOAD_AFTER + MAX_GAPS:
            for cid in range(self.watermark + 1, new_watermark):
                if cid not in seen:
                    self.gaps[cid] = now
        self.watermark = new_watermark
        self.gaps = {cid: t for cid, t in self.gaps.items() if now - t < GAP_TTL_SECONDS}
        if len(self.gaps) > MAX_GAPS:
            self.gaps = dict(sorted(self.gaps.items())[-MAX_GAPS:])
