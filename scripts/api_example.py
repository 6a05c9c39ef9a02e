#!/usr/bin/env python3
"""A small client of the Lookalike API (/api/v1/): search by photo, look at the best match,
and put its first size in stock into a new bag. Python's standard library only.

    python scripts/api_example.py photo.jpg [--base http://127.0.0.1:8000] [--key lk_…]

The key (or LOOKALIKE_API_KEY) is optional: without one the anonymous limits apply. A key
needs the "read" and "bag" scopes. See docs/api.md."""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Lookalike:
    def __init__(self, base: str, key: str = "") -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.key = key

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> Any:
        request = Request(self.base + path, data=body, method=method)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.key:
            request.add_header("X-API-Key", self.key)
        try:
            with urlopen(request, timeout=60) as response:
                return json.load(response)
        except HTTPError as exc:  # every error is {"error": {"message", "status"}}
            try:
                error = json.load(exc)["error"]
            except (ValueError, KeyError):
                raise ApiError(exc.code, exc.reason) from None
            retry = exc.headers.get("Retry-After")
            raise ApiError(error["status"], error["message"] + (f" (retry after {retry} s)" if retry else "")) from None

    def photo_search(self, photo: Path, k: int = 5, **filters: str) -> Any:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in {"k": str(k), **filters}.items()
        ]
        kind = mimetypes.guess_type(photo.name)[0] or "application/octet-stream"
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{photo.name}"\r\n'
            f"Content-Type: {kind}\r\n\r\n".encode()
            + photo.read_bytes()
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.call("POST", "/search/photo", body, f"multipart/form-data; boundary={boundary}")

    def product(self, product_id: int) -> Any:
        return self.call("GET", f"/products/{product_id}")

    def new_bag(self) -> Any:
        return self.call("POST", "/bags")

    def add_to_bag(self, token: str, variant_id: int, quantity: int = 1) -> Any:
        body = json.dumps({"variant_id": variant_id, "quantity": quantity}).encode()
        return self.call("POST", f"/bags/{token}/lines", body, "application/json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--base", default=os.environ.get("LOOKALIKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", default=os.environ.get("LOOKALIKE_API_KEY", ""))
    args = parser.parse_args()
    api = Lookalike(args.base, args.key)
    try:
        found = api.photo_search(args.photo, k=5, in_stock="true")
        if not found["results"]:
            print("Nothing in stock looks like that photo.")
            return 1
        print(f"Photo search ({'close match' if found['close_match'] else 'nothing very close'}):")
        for item in found["results"]:
            print(f"  {item['score']:.3f}  #{item['id']}  {item['name']}  {item['price']} {item['currency']}")
        best = api.product(found["results"][0]["id"])
        size = next((s for s in best["sizes"] if s["in_stock"]), None)
        if size is None:
            print(f"{best['name']} has just sold out.")
            return 1
        bag = api.new_bag()
        bag = api.add_to_bag(bag["token"], size["id"])
    except ApiError as exc:
        print(f"The API refused: {exc}", file=sys.stderr)
        return 2
    print(f"\nBag {bag['token']}: {bag['count']} item(s), subtotal {bag['subtotal']} {bag['currency']}")
    for line in bag["lines"]:
        print(f"  {line['quantity']} × {line['name']} (size {line['size']}) = {line['line_total']}")
    print(f"Refine the search without the photo: GET /api/v1/search/photo?q={found['token']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
