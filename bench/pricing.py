"""Promotions engine benchmark: prices a 50-line cart against many automatic campaigns.

    uv run python bench/pricing.py [--runs 2000] [--seed 7] [--callgrind]

For 10, 100, 1,000 and 10,000 active automatic campaigns over a catalog of 20,000 products in
1,000 categories, it builds a `CampaignIndex` once, then times `index.evaluate(cart, ...)`
(candidate lookup + evaluation, sharing the per-cart line matching) on a rotating set of 25
carts of 50 lines, and prints p50 / p99 / mean in ms, with the average number of candidates and
of discounts applied; p99 also in CPU time (thread time: what preemption on a busy machine does
not inflate), and the garbage collections that ran during the timed runs. Only the evaluation
is timed, after three untimed passes over every cart. "apportion" is the time per evaluation
spent in `kassa_platform.money.apportion` (largest remainder), measured in a separate untimed
pass (its clock is not in the timed runs); "p50 no index" times `evaluate` given every campaign
(no index) over fewer runs, for comparison. At 1,000 campaigns it also prints the median CPU of
the heaviest cart (the one behind p99) and of the median cart.

`--callgrind` (needs valgrind): also counts the machine instructions of one evaluation of those
two carts at 1,000 campaigns, under callgrind (two short scripted runs per cart, 0 and 20
evaluations, subtracted). Unlike time, the count does not move with the machine's load: it is
the figure to compare code before and after a change.

Campaign mix (roughly what a large merchant runs): most target a few specific products or
variants, some target categories (with excludes and minimum spends), some are meal deals or
buy-X-get-Y; a share is limited to a customer segment, some stop further discounts, a few are
exclusive, some have budgets nearly spent. A few (1 per 100 campaigns, at most 10) are
basket-wide: free shipping over an amount, capped percentage vouchers, spend tiers, member
offers. Target: p99 < 2 ms at 1,000 campaigns.
Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kassa_promotions import (
    Bundle,
    BuyXGetY,
    Campaign,
    CampaignIndex,
    Cart,
    CartLine,
    Customer,
    FixedOff,
    FixedPerUnit,
    ItemMatcher,
    PercentOff,
    Rules,
    ShippingOff,
    allocation,
    evaluate,
)

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
PRODUCTS = 20_000
CATEGORIES = 1_000
BASKET_WIDE = 10  # "a few": at most this many basket-wide campaigns, whatever the total
CART_LINES = 50
CARTS = 25


class Catalog:
    def __init__(self, rnd: random.Random) -> None:
        self.categories = {
            f"prod_{i}": tuple(sorted({self.category(rnd) for _ in range(rnd.randint(1, 3))})) for i in range(PRODUCTS)
        }
        self.variants = {p: [f"var_{p[5:]}_{j}" for j in range(rnd.randint(1, 4))] for p in self.categories}
        self.prices = {p: rnd.choice([199, 499, 999, 1499, 2499, 4999, 8999]) for p in self.categories}

    def product(self, rnd: random.Random) -> str:
        return f"prod_{rnd.randrange(PRODUCTS)}"

    @staticmethod
    def category(rnd: random.Random) -> str:
        return f"cat_{rnd.randrange(CATEGORIES)}"


def make_cart(rnd: random.Random, catalog: Catalog) -> Cart:
    products = rnd.sample(sorted(catalog.categories), CART_LINES)
    lines = tuple(
        CartLine(id=f"li_{i:02d}", unit_price=catalog.prices[p], quantity=rnd.choice([1, 1, 1, 2, 2, 3, 6]),
                 product_id=p, variant_id=rnd.choice(catalog.variants[p]), categories=catalog.categories[p])
        for i, p in enumerate(products)
    )
    return Cart(currency="EUR", lines=lines, shipping_amount=495)


def basket_wide_campaigns(count: int) -> list[Campaign]:
    """What a merchant runs basket-wide at one time: free shipping over an amount, a capped
    percentage voucher or two, spend tiers (min/max windows, so one tier applies), a welcome
    offer, member offers."""
    eur = lambda minor: {"EUR": minor}  # noqa: E731
    tier = lambda low, high: Rules(min_subtotal=eur(low), max_subtotal=eur(high) if high else None)  # noqa: E731
    specs = [
        (ShippingOff(percent=Decimal(100)), Rules(min_subtotal=eur(5000))),
        (PercentOff(percent=Decimal(10), max_discount=eur(2500)), Rules(min_subtotal=eur(10000))),
        (FixedOff(amounts=eur(500)), tier(5000, 9999)),
        (FixedOff(amounts=eur(1500)), tier(10000, 24999)),
        (FixedOff(amounts=eur(4000)), tier(25000, None)),
        (FixedOff(amounts=eur(1000)), Rules(first_order_only=True)),
        (PercentOff(percent=Decimal(15)), Rules(segments=frozenset({"vip"}))),
        (PercentOff(percent=Decimal(5)), Rules(segments=frozenset({"club"}))),
        (ShippingOff(percent=Decimal(100)), Rules(segments=frozenset({"club"}))),
        (FixedOff(amounts=eur(2000)), Rules(min_subtotal=eur(50000), segments=frozenset({"vip"}))),
    ]
    return [Campaign(id=f"camp_wide_{i}", name=f"Basket offer {i}", reward=reward, rules=rules,
                     created_at=NOW - timedelta(days=10 + i), priority=1)
            for i, (reward, rules) in enumerate(specs[:count])]


def make_campaign(i: int, rnd: random.Random, catalog: Catalog) -> Campaign:
    kind = rnd.random()
    items: ItemMatcher | None = None
    rules = Rules()
    if kind < 0.55:  # a few specific products
        items = ItemMatcher(product_ids=frozenset(catalog.product(rnd) for _ in range(rnd.randint(1, 8))))
        reward = rnd.choice([PercentOff(percent=Decimal(rnd.choice([10, 15, 20, 25]))),
                             FixedPerUnit(amounts={"EUR": rnd.choice([50, 100, 200])}),
                             BuyXGetY(buy=rnd.choice([1, 2]), get=1, max_applications=rnd.choice([None, 1]))])
    elif kind < 0.65:  # specific variants
        variants = frozenset(rnd.choice(catalog.variants[catalog.product(rnd)]) for _ in range(rnd.randint(1, 5)))
        items = ItemMatcher(variant_ids=variants)
        reward = FixedOff(amounts={"EUR": rnd.choice([100, 300, 500])})
    elif kind < 0.90:  # a category, sometimes with exclusions and a minimum spend
        excluded = frozenset({catalog.product(rnd)}) if rnd.random() < 0.3 else frozenset()
        items = ItemMatcher(categories=frozenset({catalog.category(rnd)}), exclude_product_ids=excluded)
        reward = rnd.choice([PercentOff(percent=Decimal(rnd.choice([5, 10, 20]))), FixedOff(amounts={"EUR": 500}),
                             BuyXGetY(buy=2, get=1, percent=Decimal(50))])
        if rnd.random() < 0.4:
            rules = Rules(min_subtotal={"EUR": rnd.choice([2000, 5000, 10000])})
    else:  # meal deal over two or three categories
        groups = tuple(ItemMatcher(categories=frozenset({catalog.category(rnd)})) for _ in range(rnd.randint(2, 3)))
        reward = Bundle(groups=groups, prices={"EUR": rnd.choice([999, 1499, 2999])})
    if rnd.random() < 0.15:
        rules = Rules(min_subtotal=rules.min_subtotal, segments=frozenset({rnd.choice(["vip", "staff", "club"])}))
    roll = rnd.random()
    stacking = "exclusive" if roll < 0.02 else "stop" if roll < 0.10 else "stackable"
    return Campaign(
        id=f"camp_{i:05d}", name=f"Offer {i}", reward=reward, items=items, rules=rules,
        created_at=NOW - timedelta(days=rnd.randint(1, 300), seconds=i), priority=rnd.choice([0, 0, 0, 1, 2, 5]),
        stacking=stacking, starts_at=NOW - timedelta(days=30), ends_at=NOW + timedelta(days=30),
        remaining_budget=rnd.choice([None, None, None, 100_000, 300]), remaining_uses=rnd.choice([None, None, 5000]),
    )


class ApportionClock:
    """Measures the time spent in `kassa_platform.money.apportion`, the largest single cost of a
    basket-level discount on a 50-line cart. Installed only for its own untimed pass."""

    def __init__(self) -> None:
        self.ns = 0
        self.original = allocation.apportion

    def __enter__(self) -> ApportionClock:
        original = self.original

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.ns += time.perf_counter_ns() - start

        allocation.apportion = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *_exc: object) -> None:
        allocation.apportion = self.original  # type: ignore[assignment]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench(count: int, runs: int, rnd: random.Random, catalog: Catalog, carts: list[Cart],
          customer: Customer) -> tuple[float, float, list[Campaign], list[float]]:
    wide = basket_wide_campaigns(max(1, min(BASKET_WIDE, count // 100)))
    campaigns = wide + [make_campaign(i, rnd, catalog) for i in range(count - len(wide))]
    built = time.perf_counter()
    index = CampaignIndex(campaigns)
    build_ms = (time.perf_counter() - built) * 1000
    # Long-lived data (the campaign set, the index) is moved out of the collector's way, as a
    # service would after loading campaigns; what remains is the engine's own allocation.
    for cart in carts:  # warm up every cart, and check the index changes nothing
        everything = evaluate(cart, now=NOW, campaigns=campaigns, customer=customer)
        assert index.evaluate(cart, now=NOW, customer=customer) == everything
        assert evaluate(cart, now=NOW, campaigns=index.candidates(cart), customer=customer) == everything
    for _ in range(3):
        for cart in carts:
            index.evaluate(cart, now=NOW, customer=customer)
    gc.collect()
    gc.freeze()
    samples: list[float] = []
    cpu: list[float] = []
    collected: list[int] = []  # per run: garbage collections that ran during it
    collections = [0]
    gc.callbacks.append(counter := lambda phase, _info: collections.__setitem__(0, collections[0] + (phase == "start")))
    candidates = applied = 0
    for r in range(runs):
        cart = carts[r % len(carts)]
        before = collections[0]
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        result = index.evaluate(cart, now=NOW, customer=customer)  # candidates + evaluate
        cpu.append((time.thread_time_ns() - start_cpu) / 1e6)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        collected.append(collections[0] - before)
        applied += len(result.discounts)
    gc.callbacks.remove(counter)
    slowest = sorted(range(runs), key=samples.__getitem__)[-max(1, runs // 100):]  # the runs behind p99
    for cart in carts:
        candidates += len(index.candidates(cart)) * runs // len(carts)
    with ApportionClock() as clock:  # untimed: its own clock would weigh on the timed runs
        for r in range(runs // 4):
            index.evaluate(carts[r % len(carts)], now=NOW, customer=customer)
    apportion_ms = clock.ns / 1e6 / (runs // 4)
    per_cart = [statistics.median(cpu[i::len(carts)]) for i in range(len(carts))]  # CPU ms, by cart
    no_index: list[float] = []
    for r in range(max(20, runs // 20)):
        cart = carts[r % len(carts)]
        start = time.perf_counter_ns()
        evaluate(cart, now=NOW, campaigns=campaigns, customer=customer)
        no_index.append((time.perf_counter_ns() - start) / 1e6)
    print(f"{count:>10,} {runs:>6} {percentile(samples, 0.50):>9.3f} {percentile(samples, 0.99):>9.3f} "
          f"{percentile(cpu, 0.99):>8.3f} {statistics.fmean(samples):>9.3f} {apportion_ms:>10.3f} "
          f"{candidates / runs:>11.1f} {applied / runs:>8.1f} {build_ms:>9.1f} {percentile(no_index, 0.50):>13.3f} "
          f"{sum(collected):>4}/{sum(collected[i] > 0 for i in slowest)}")
    return percentile(samples, 0.99), percentile(cpu, 0.99), campaigns, per_cart


def replay(path: str, cart: int, evaluations: int) -> None:
    """The scripted run callgrind counts: load, index, warm up, then `evaluations` evaluations."""
    with open(path, "rb") as f:
        carts, campaigns, customer = pickle.load(f)  # noqa: S301 (our own temporary file)
    index = CampaignIndex(campaigns)
    for c in carts:
        index.evaluate(c, now=NOW, customer=customer)
    for _ in range(evaluations):
        index.evaluate(carts[cart], now=NOW, customer=customer)


def instructions(carts: list[Cart], campaigns: list[Campaign], customer: Customer, cart: int) -> int | None:
    """Machine instructions of one evaluation of `carts[cart]`, by callgrind: a run with 20
    evaluations less a run with none."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "set.pickle")
        with open(path, "wb") as f:
            pickle.dump((carts, campaigns, customer), f)
        counts = []
        for evaluations in (0, 20):
            done = subprocess.run(
                [valgrind, "--tool=callgrind", f"--callgrind-out-file={os.path.join(tmp, 'out')}", sys.executable,
                 __file__, "--replay", path, "--cart", str(cart), "--evaluations", str(evaluations)],
                capture_output=True, text=True, check=True)
            counts.append(int(re.search(r"Collected : (\d+)", done.stderr).group(1)))  # type: ignore[union-attr]
    return (counts[1] - counts[0]) // 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--callgrind", action="store_true", help="count instructions per evaluation (valgrind)")
    parser.add_argument("--replay", help=argparse.SUPPRESS)
    parser.add_argument("--cart", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--evaluations", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        replay(args.replay, args.cart, args.evaluations)
        return
    rnd = random.Random(args.seed)
    catalog = Catalog(rnd)
    carts = [make_cart(rnd, catalog) for _ in range(CARTS)]
    customer = Customer(id="cus_1", email="ana@example.com", segments=frozenset({"club"}))
    print(f"cart: {CART_LINES} lines; catalog: {PRODUCTS:,} products, {CATEGORIES} categories; times in ms")
    print(f"{'campaigns':>10} {'runs':>6} {'p50':>9} {'p99':>9} {'p99 cpu':>8} {'mean':>9} {'apportion':>10} "
          f"{'candidates':>11} {'applied':>8} {'build ms':>9} {'p50 no index':>13} {'gc':>6}")
    at_1000: tuple[float, float, list[Campaign], list[float]] = (0.0, 0.0, [], [])
    for count in (10, 100, 1_000, 10_000):
        runs = args.runs if count < 10_000 else max(200, args.runs // 4)
        figures = bench(count, runs, rnd, catalog, carts, customer)
        at_1000 = figures if count == 1_000 else at_1000
    wall, cpu, campaigns, per_cart = at_1000
    print(f"1,000 campaigns: p99 {wall:.3f} ms wall clock, {cpu:.3f} ms of CPU (thread time); target < 2 ms: "
          f"{'met' if wall < 2 else 'MISSED'} (wall), {'met' if cpu < 2 else 'MISSED'} (CPU)")
    by_cost = sorted(range(len(carts)), key=per_cart.__getitem__)
    heaviest, median = by_cost[-1], by_cost[len(by_cost) // 2]
    print(f"1,000 campaigns, median CPU per evaluation: heaviest cart (#{heaviest}) {per_cart[heaviest]:.3f} ms, "
          f"median cart (#{median}) {per_cart[median]:.3f} ms")
    if args.callgrind:
        counts = {i: instructions(carts, campaigns, customer, i) for i in (heaviest, median)}
        if counts[heaviest] is None:
            print("instructions: valgrind not found")
        else:
            print(f"1,000 campaigns, instructions per evaluation (callgrind): heaviest cart (#{heaviest}) "
                  f"{counts[heaviest]:,}, median cart (#{median}) {counts[median]:,}")
    print("(p99 cpu: the evaluation's own CPU time, which a busy machine's preemption does not inflate; gc: garbage "
          "collections during the timed runs / how many of the runs behind p99 saw one)")


if __name__ == "__main__":
    main()
