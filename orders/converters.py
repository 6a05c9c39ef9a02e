"""The URL converter for order numbers (``<order_number:number>``): the alphabet and length
order numbers are made of (``LA-261207-4F2A9C``), so that anything else in that place of a URL
is a 404 before it reaches a query (a NUL there answered 500: PostgreSQL text cannot hold one)."""

from __future__ import annotations

from django.urls import register_converter


class OrderNumberConverter:
    regex = r"[A-Za-z0-9-]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrderNumberConverter, "order_number")
