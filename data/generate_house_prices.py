#!/usr/bin/env python3
"""Generate data/house-prices.csv: the classic one-feature linear-regression example.

Each row is a made-up house:

    area  = uniform(500, 3500) square feet, rounded to a whole number
    price = 50 + 0.12 * area + noise   (thousands of dollars, 1 decimal)
    noise ~ Normal(0, 20)

The random numbers come from Python's standard `random.Random(SEED)` (Mersenne
Twister; `uniform` and `gauss` are stable across Python 3 versions), so running
this script again writes the same file byte for byte. Only the standard library
is used.

Usage (from the repository root):  python3 data/generate_house_prices.py
"""

import os
import random

SEED = 20240501
ROWS = 50
INTERCEPT = 50.0
SLOPE = 0.12
NOISE_STD = 20.0


def rows(seed=SEED, n=ROWS):
    rng = random.Random(seed)
    for _ in range(n):
        area = round(rng.uniform(500.0, 3500.0))
        price = INTERCEPT + SLOPE * area + rng.gauss(0.0, NOISE_STD)
        yield area, round(price, 1)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "house-prices.csv")
    with open(out, "w", newline="\n") as f:
        f.write("area,price\n")
        for area, price in rows():
            f.write(f"{area},{price:.1f}\n")


if __name__ == "__main__":
    main()
