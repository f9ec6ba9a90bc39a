"""Writes ratings.csv: a synthetic recommender data set with known low-rank structure.

rating(u, i) = 3 + <p_u, q_i> + b_u + c_i + noise, clipped to [1, 5], with rank-3 factors
p_u, q_i ~ N(0, 0.6^2), biases ~ N(0, 0.3^2), noise ~ N(0, 0.1^2); 300 users, 200 items,
12,000 distinct (user, item) pairs. Deterministic (seed 7); standard library only.
"""
import os
import random

rng = random.Random(7)
USERS, ITEMS, RANK, COUNT = 300, 200, 3, 12000
p = [[rng.gauss(0, 0.6) for _ in range(RANK)] for _ in range(USERS)]
q = [[rng.gauss(0, 0.6) for _ in range(RANK)] for _ in range(ITEMS)]
bu = [rng.gauss(0, 0.3) for _ in range(USERS)]
bi = [rng.gauss(0, 0.3) for _ in range(ITEMS)]
pairs = rng.sample(range(USERS * ITEMS), COUNT)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ratings.csv")
with open(out, "w") as f:
    f.write("user,item,rating\n")
    for k in pairs:
        u, i = divmod(k, ITEMS)
        r = 3 + sum(a * b for a, b in zip(p[u], q[i])) + bu[u] + bi[i] + rng.gauss(0, 0.1)
        f.write(f"{u},{i},{min(5.0, max(1.0, r)):.3f}\n")
