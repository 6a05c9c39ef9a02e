"""Bag + checkout under load: N shoppers, each in a loop for DURATION seconds, add one size of a
"hot" product to the bag, fill in the checkout, place the order and pay with the dummy provider.
The hot sizes have little stock, so shoppers also get "sold out" answers. Prints requests/s,
p50/p95/p99 per step and overall, the outcomes, and the errors (5xx, exceptions, anything
unexpected). The caller checks the database for oversold units (scripts/loadtest).

    python scripts/loadtest_checkout.py BASE_URL VARIANTS_FILE [--duration 30] [--shoppers 8]

VARIANTS_FILE: lines "product_id variant_id".
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import threading
import time
from collections import Counter, defaultdict

import requests

ADDRESS = {
    "email": "load@example.com",
    "full_name": "Load Shopper",
    "address_line1": "1 Test Street",
    "address_line2": "",
    "city": "Bengaluru",
    "postcode": "560001",
    "country": "India",
    "phone": "",
}
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]+)"')
TOTAL = re.compile(r'name="expected_total" value="([0-9.]+)"')


class Shopper:
    def __init__(self, base: str, timings: dict[str, list[float]], outcomes: Counter, errors: list[str]) -> None:
        self.base, self.timings, self.outcomes, self.errors = base, timings, outcomes, errors
        self.session = requests.Session()

    def call(self, step: str, method: str, path: str, expect: tuple[int, ...], data: dict | None = None):
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.session.cookies.get("csrftoken", "")}
        started = time.perf_counter()
        response = self.session.request(method, self.base + path, data=data, allow_redirects=False, timeout=30)
        self.timings[step].append(time.perf_counter() - started)
        if response.status_code >= 500 or response.status_code not in expect:
            raise RuntimeError(f"{step}: {method} {path} answered {response.status_code}")
        return response

    def buy(self, product_id: str, variant_id: str) -> None:
        self.call("product", "GET", f"/products/{product_id}/", (200,))
        self.call("bag_add", "POST", "/bag/add/", (302,), {"variant": variant_id, "quantity": 1})
        details = self.call("details", "POST", "/checkout/", (302,), ADDRESS)
        if "/bag/" in details.headers["Location"]:
            self.outcomes["sold out when adding"] += 1
            return
        self.call("shipping", "POST", "/checkout/shipping/", (302,), {"method": "standard"})
        review = self.call("review", "GET", "/checkout/review/", (200, 302))
        if review.status_code == 302:
            self.outcomes["sold out when adding"] += 1
            return
        key, total = KEY.search(review.text), TOTAL.search(review.text)
        if not key or not total:  # the bag's line is flagged (sold out since): no place-order form
            self.outcomes["sold out at review"] += 1
            self.session.cookies.clear()
            return
        placed = self.call(
            "place_order",
            "POST",
            "/checkout/review/",
            (302, 409),
            {"idempotency_key": key.group(1), "expected_total": total.group(1)},
        )
        if placed.status_code == 409:
            self.outcomes["sold out at place order"] += 1
            self.session.cookies.clear()  # a fresh shopper (and bag) next time
            return
        pay_path = placed.headers["Location"]
        self.call("payment_form", "GET", pay_path, (200,))
        paid = self.call(
            "pay",
            "POST",
            pay_path,
            (302,),
            {"status": "confirmed", "fraud_status": "accept", "gateway_response": "3ds-disabled"},
        )
        if "/thanks/" not in paid.headers["Location"]:
            raise RuntimeError(f"payment went to {paid.headers['Location']}")
        self.outcomes["paid"] += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("variants")
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--shoppers", type=int, default=8)
    args = parser.parse_args()
    with open(args.variants) as handle:
        pairs = [line.split() for line in handle if line.strip()]
    timings: dict[str, list[float]] = defaultdict(list)
    outcomes: Counter = Counter()
    errors: list[str] = []
    deadline = time.monotonic() + args.duration

    def run(seed: int) -> None:
        rng = random.Random(seed)
        shopper = Shopper(args.base.rstrip("/"), timings, outcomes, errors)
        while time.monotonic() < deadline:
            try:
                shopper.buy(*rng.choice(pairs))
            except Exception as exc:  # every failure is counted and shown
                errors.append(str(exc))
                shopper.session = requests.Session()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    everything = [t for values in timings.values() for t in values]
    print(f"shoppers {args.shoppers}, {elapsed:.0f} s, requests/s {len(everything) / elapsed:.1f}")
    print(
        f"latency ms (all requests) p50 {percentile(everything, 50):.1f} p95 {percentile(everything, 95):.1f} "
        f"p99 {percentile(everything, 99):.1f}"
    )
    for step, values in timings.items():
        print(
            f"  {step:<13} n {len(values):>5}  p50 {percentile(values, 50):7.1f}  p95 {percentile(values, 95):7.1f}"
            f"  mean {statistics.mean(values) * 1000:7.1f}"
        )
    print("outcomes " + ", ".join(f"{name} {n}" for name, n in sorted(outcomes.items())))
    print(f"errors {len(errors)}")
    for message, n in Counter(errors).most_common(5):
        print(f"  {n} × {message}")


if __name__ == "__main__":
    main()
