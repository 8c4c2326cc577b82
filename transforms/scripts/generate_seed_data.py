"""Generate the deterministic seed data for the shop example.

Writes sqlmesh/seeds/customers.csv and sqlmesh/seeds/orders.csv (relative to the
transforms/ folder). The output only depends on the fixed seed below, so running
this script again reproduces the committed CSV files byte for byte.

    python scripts/generate_seed_data.py
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SEED = 42
NUM_CUSTOMERS = 50
NUM_ORDERS = 1000
ORDERS_START = dt.date(2024, 1, 1)
ORDERS_END = dt.date(2024, 6, 30)

FIRST_NAMES = [
    "Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Keira", "Luca", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
]
LAST_NAMES = [
    "Andersen", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
    "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov",
]
COUNTRIES = ["DE", "FR", "NL", "SE", "ES", "US", "GB"]
TIERS = [("bronze", 0.6), ("silver", 0.3), ("gold", 0.1)]
STATUSES = [("completed", 0.85), ("returned", 0.08), ("cancelled", 0.07)]
# Typical order value per tier (mean of a log-normal-ish distribution).
TIER_BASE_AMOUNT = {"bronze": 40.0, "silver": 75.0, "gold": 140.0}

ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = ROOT / "sqlmesh" / "seeds"


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    values, weights = zip(*weighted)
    return rng.choices(values, weights=weights, k=1)[0]


def generate_customers(rng: random.Random) -> list[dict]:
    customers = []
    for customer_id in range(1, NUM_CUSTOMERS + 1):
        signup = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
        customers.append(
            {
                "customer_id": customer_id,
                "customer_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "signup_date": signup.isoformat(),
                "country": rng.choice(COUNTRIES),
                "customer_tier": _pick(rng, TIERS),
            }
        )
    return customers


def generate_orders(rng: random.Random, customers: list[dict]) -> list[dict]:
    # Higher tiers order more often; a few customers never order at all.
    activity = {"bronze": 1.0, "silver": 2.0, "gold": 3.5}
    weights = [
        0.0 if c["customer_id"] % 17 == 0 else activity[c["customer_tier"]] for c in customers
    ]
    span_days = (ORDERS_END - ORDERS_START).days
    orders = []
    for order_id in range(1, NUM_ORDERS + 1):
        customer = rng.choices(customers, weights=weights, k=1)[0]
        order_date = ORDERS_START + dt.timedelta(days=rng.randint(0, span_days))
        raw_amount = rng.lognormvariate(0.0, 0.5) * TIER_BASE_AMOUNT[customer["customer_tier"]]
        amount = Decimal(str(max(raw_amount, 1.0))).quantize(Decimal("0.01"), ROUND_HALF_UP)
        orders.append(
            {
                "order_id": order_id,
                "customer_id": customer["customer_id"],
                "order_date": order_date.isoformat(),
                "amount": f"{amount:.2f}",
                "status": _pick(rng, STATUSES),
            }
        )
    orders.sort(key=lambda o: (o["order_date"], o["order_id"]))
    return orders


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(SEED)
    customers = generate_customers(rng)
    orders = generate_orders(rng, customers)
    write_csv(SEEDS_DIR / "customers.csv", customers)
    write_csv(SEEDS_DIR / "orders.csv", orders)
    print(f"wrote {len(customers)} customers and {len(orders)} orders to {SEEDS_DIR}")


if __name__ == "__main__":
    main()
