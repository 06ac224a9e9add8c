"""Generated star-schema files: an order fact referencing a customer and a product dimension.

The shape of a real relational export, deterministic for a seed:

- `orders.csv` (the fact): one row per order. `cust` references `customers.csv`'s `id` (a
  high-cardinality code; the names share nothing): about 1 % of the orders name a customer the
  dimension does not have (dangling) and about 1 % name none (empty). `product_code` references
  `products.csv`'s `code` (a low-cardinality code: a few dozen values, every one known).
  `status` and `year` are shared by name with the dimensions but mean something else there.
  `quantity` holds small whole numbers that `customers.csv`'s numbered `customer_no` contains.
- `customers.csv`: unique `id` (`C000001`, ...), a unique dense `customer_no` (1, 2, ...), a
  `year` (the year they joined) and a `status` of their own; some are never referenced.
- `products.csv`: unique `code` (`P-001`, ...), `name`, `category`, `list_price`, `status`.

`StarSchema.expected` says what a correct mash must find, so tests assert against the truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ORDER_STATUSES = ("shipped", "pending", "returned", "cancelled")
CUSTOMER_STATUSES = ("active", "dormant", "closed")
PRODUCT_STATUSES = ("listed", "discontinued")
CATEGORIES = ("tea", "coffee", "cocoa", "herbal", "gift")
CHANNELS = ("web", "store", "phone", "partner")
SEGMENTS = ("retail", "trade", "staff")
CITIES = ("Leeds", "York", "Hull", "Bath", "Bristol", "Glasgow", "Cardiff", "Belfast", "Norwich")
NOTES = (
    "gift wrap please",
    "leave at the door",
    "fragile: glass jars",
    "call before delivery",
    "no note",
    "repeat of last order",
)


@dataclass(frozen=True, slots=True)
class Expected:
    """What a correct mash of the three files finds."""

    orders: int
    customers: int
    products: int
    dangling_customers: int  # orders whose `cust` is not in customers.csv
    null_customers: int  # orders with no `cust` at all
    unreferenced_customers: int  # customers no order names
    distinct_products: int  # product codes the orders use


@dataclass(frozen=True, slots=True)
class StarSchema:
    """The three files' bytes and the truth about them."""

    orders: bytes
    customers: bytes
    products: bytes
    expected: Expected

    def files(self) -> dict[str, bytes]:
        """File name to bytes, the fact first."""
        return {
            "orders.csv": self.orders,
            "customers.csv": self.customers,
            "products.csv": self.products,
        }

    def write(self, directory: Path) -> dict[str, Path]:
        """Write the files into `directory`; returns file name to path."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, data in self.files().items():
            path = directory / name
            path.write_bytes(data)
            paths[name] = path
        return paths


def _lines(header: str, rows: list[str]) -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def generate(
    orders: int = 2_000, customers: int | None = None, products: int = 40, *, seed: int = 16
) -> StarSchema:
    """Generate the three files: `orders` fact rows, `customers` (default: a sixth of the
    orders, at least 50) and `products` dimension rows. About 1 % of the orders reference a
    missing customer and 1 % none; a tenth of the customers are never referenced."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    customers = customers if customers is not None else max(50, orders // 6)
    referenced = max(1, customers * 9 // 10)  # the last tenth is never ordered by anyone
    start = date(2021, 1, 1)

    product_rows = []
    for index in range(1, products + 1):
        price = round(rng.uniform(2, 60), 2)
        product_rows.append(
            f"P-{index:03d},Blend {index},{rng.choice(CATEGORIES)},{price},"
            f"{rng.choice(PRODUCT_STATUSES)}"
        )
    customer_rows = []
    for index in range(1, customers + 1):
        customer_rows.append(
            f"C{index:06d},{index},Customer {index},{rng.choice(SEGMENTS)},"
            f"{rng.randint(1995, 2024)},{rng.choice(CUSTOMER_STATUSES)}"
        )

    order_rows = []
    dangling = nulls = 0
    used_customers: set[int] = set()
    used_products: set[int] = set()
    for index in range(1, orders + 1):
        day = start + timedelta(days=rng.randrange(4 * 365))
        roll = rng.random()
        if roll < 0.01:
            cust, dangling = f"C{customers + 1 + rng.randrange(10 * customers):06d}", dangling + 1
        elif roll < 0.02:
            cust, nulls = "", nulls + 1
        else:
            number = rng.randint(1, referenced)
            used_customers.add(number)
            cust = f"C{number:06d}"
        product = rng.randint(1, products)
        used_products.add(product)
        order_rows.append(
            f"ORD-{index:07d},{day.isoformat()},{day.year},{cust},P-{product:03d},"
            f"{rng.randint(1, 9)},{round(rng.uniform(2, 60), 2)},{rng.choice(ORDER_STATUSES)},"
            f"{rng.choice(CHANNELS)},{rng.choice(CITIES)},rep-{rng.randint(1, 60)},"
            f"{rng.choice(NOTES)}"
        )

    return StarSchema(
        orders=_lines(
            "order_id,order_date,year,cust,product_code,quantity,unit_price,status,channel,"
            "ship_city,sales_rep,note",
            order_rows,
        ),
        customers=_lines("id,customer_no,name,segment,year,status", customer_rows),
        products=_lines("code,name,category,list_price,status", product_rows),
        expected=Expected(
            orders=orders,
            customers=customers,
            products=products,
            dangling_customers=dangling,
            null_customers=nulls,
            unreferenced_customers=customers - len(used_customers),
            distinct_products=len(used_products),
        ),
    )
