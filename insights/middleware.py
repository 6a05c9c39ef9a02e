"""Sets the last-visual-search cookie after a visual search (insights.touch)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from insights.touch import touch_write


def visual_search_touch(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        touch_write(request, response)
        return response

    return middleware
