"""Peer timings (numpy, PyTorch CPU eager, JAX jit) for side-by-side comparison with gradus.

Threads: call configure(n) BEFORE anything imports numpy/torch/jax. It sets
OMP_NUM_THREADS / MKL_NUM_THREADS / OPENBLAS_NUM_THREADS (read at library load) and, for
n == 1, XLA_FLAGS to make XLA's CPU backend single-threaded (otherwise XLA uses every core,
which is 2 on the reference machine). torch.set_num_threads(n) and threadpoolctl's limit are
also applied at run time. Each bench function returns a dict:
    {"name", "lib", "seconds": median seconds per op, ...derived figures}
Run directly: python bench/peers.py [--threads 2] [--runs 3] [--json]  (each bench in a fresh process)
"""
import json, os, statistics, subprocess, sys, time

THREADS = None


def configure(threads):
    global THREADS
    THREADS = threads
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    import torch, threadpoolctl
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)


def environment():
    """Facts worth printing next to the figures (OPENBLAS_* overrides slow numpy: unset them)."""
    import numpy, threadpoolctl, torch, jax
    blas = [f"{i['internal_api']}:{i.get('architecture') or '-'}x{i['num_threads']}"
            for i in threadpoolctl.threadpool_info()]
    return {"threads": THREADS, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"), "numpy": numpy.__version__,
            "torch": torch.__version__, "jax": jax.__version__, "threadpools": " ".join(blas)}


def median_seconds(fn, warmup=3, min_reps=7, min_time=1.0):
    """Median wall time of fn() after warmup; repeats until min_reps and min_time are both met."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# ---------------------------------------------------------------- numpy
def numpy_matmul(m, k, n):
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    out = np.empty((m, n), np.float32)
    s = median_seconds(lambda: np.matmul(a, b, out=out))
    return {"name": f"matmul_{m}x{k}x{n}", "lib": "numpy", "seconds": s, "gflops": 2 * m * k * n / s / 1e9}


def numpy_elementwise(n=10_000_000):
    import numpy as np
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(n, np.float32) for _ in range(3))
    out = np.empty(n, np.float32)

    def op():  # numpy has no fused multiply-add ufunc: two passes, no allocation
        np.multiply(a, b, out=out)
        np.add(out, c, out=out)
    s = median_seconds(op)
    return {"name": "elementwise_fma_1e7", "lib": "numpy", "seconds": s, "gb_s": 16 * n / s / 1e9}


# ---------------------------------------------------------------- torch
def _torch_mlp():
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))
    return model, x, y, torch.nn.CrossEntropyLoss()


def torch_mlp_train_step():
    import torch
    model, x, y, loss_fn = _torch_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    s = median_seconds(step, warmup=10)
    return {"name": "mlp_train_step", "lib": "torch", "seconds": s, "samples_s": 128 / s}


def torch_mlp_fwd_bwd():
    model, x, y, loss_fn = _torch_mlp()

    def step():
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
    s = median_seconds(step, warmup=10)
    return {"name": "mlp_fwd_bwd", "lib": "torch", "seconds": s, "samples_s": 128 / s}


def torch_adam(variant, n=10_000_000):
    import torch
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(n))
    p.grad = torch.randn(n)
    try:
        opt = torch.optim.Adam([p], lr=1e-3, **{variant: True})
        opt.step()
    except (RuntimeError, TypeError, ValueError) as e:  # e.g. fused Adam on CPU missing in old torch
        return {"name": "adam_10m", "lib": f"torch-{variant}", "seconds": None, "error": str(e)[:80]}
    s = median_seconds(opt.step)
    return {"name": "adam_10m", "lib": f"torch-{variant}", "seconds": s, "gb_s": 28 * n / s / 1e9}


def torch_conv(cin, cout, hw):
    import torch
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(cin, cout, 5, padding=2 if cin == 1 else 0)
    x = torch.randn(128, cin, hw, hw, requires_grad=True)

    def step():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        conv(x).sum().backward()
    s = median_seconds(step)
    return {"name": f"conv2d_{cin}to{cout}_fwd_bwd", "lib": "torch", "seconds": s, "ms": s * 1e3}


def torch_lenet_train_step():
    """The LeNet of examples/mnist-cnn.toml (gradus_nn::models::LeNet), batch 128, Adam lr 2e-3."""
    import torch
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    x, y = torch.rand(128, 1, 28, 28), torch.randint(0, 10, (128,))
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=2e-3), nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    s = median_seconds(step, warmup=10)
    return {"name": "lenet_train_step", "lib": "torch", "seconds": s, "samples_s": 128 / s}


def torch_recurrent(kind, seq):
    """torch.nn.LSTM or GRU (kind "lstm" or "gru"), 128 -> 256, batch-first, batch 64."""
    import torch
    torch.manual_seed(0)
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](128, 256, batch_first=True)
    x = torch.randn(64, seq, 128)

    def step():
        layer.zero_grad(set_to_none=True)
        layer(x)[0].sum().backward()
    s = median_seconds(step)
    return {"name": f"{kind}_seq{seq}_fwd_bwd", "lib": "torch", "seconds": s, "ms": s * 1e3}


def torch_elementwise(n=10_000_000):
    import torch
    torch.manual_seed(0)
    a, b, c, out = torch.randn(n), torch.randn(n), torch.randn(n), torch.empty(n)
    s = median_seconds(lambda: torch.addcmul(c, a, b, out=out))  # one fused pass: a*b+c
    return {"name": "elementwise_fma_1e7", "lib": "torch", "seconds": s, "gb_s": 16 * n / s / 1e9}


LOGREG_ROWS, LOGREG_FEATURES, LOGREG_LR = 200_000, 100, 0.1


def _logreg_data(np_rng_seed=0):
    """X [200000, 100] f32 ~ N(0, 1), y = [X w* + noise > 0] as f32 (the gradus bench's rule)."""
    import numpy as np
    rng = np.random.default_rng(np_rng_seed)
    x = rng.standard_normal((LOGREG_ROWS, LOGREG_FEATURES), np.float32)
    w_true = rng.standard_normal(LOGREG_FEATURES, np.float32)
    y = ((x @ w_true + rng.standard_normal(LOGREG_ROWS, np.float32)) > 0).astype(np.float32)
    return x, y


def torch_logreg_step():
    """One full-batch gradient-descent step of logistic regression: X @ w + b, BCE on logits
    (mean), backward, SGD (no momentum)."""
    import torch
    x, y = (torch.from_numpy(a) for a in _logreg_data())
    w = torch.zeros(LOGREG_FEATURES, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=LOGREG_LR)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y).backward()
        opt.step()
    s = median_seconds(step)
    return {"name": "logreg_fullbatch_step", "lib": "torch", "seconds": s,
            "gb_s": (x.numel() + y.numel()) * 4 / s / 1e9}


# ---------------------------------------------------------------- jax
def jax_mlp_train_step():
    import jax, jax.numpy as jnp, optax
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    sizes = [784, 512, 256, 10]
    params = [(jax.random.normal(k, (i, o)) * (1 / i) ** 0.5, jnp.zeros(o))
              for k, i, o in zip(keys, sizes[:-1], sizes[1:])]
    x, y = jax.random.normal(keys[3], (128, 784)), jax.random.randint(keys[4], (128,), 0, 10)
    opt = optax.adam(1e-3)

    def loss(params):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), y[:, None], axis=1))

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    carry = [params, opt.init(params)]

    def run():
        carry[:] = step(*carry)
        jax.block_until_ready(carry)
    s = median_seconds(run, warmup=10)
    return {"name": "mlp_train_step", "lib": "jax", "seconds": s, "samples_s": 128 / s}


def jax_lenet_train_step():
    """torch_lenet_train_step's model and step as one jit-compiled function (NCHW, optax.adam)."""
    import jax, jax.numpy as jnp, optax
    keys = jax.random.split(jax.random.PRNGKey(0), 7)

    def uniform(k, shape, fan_in):
        return jax.random.uniform(k, shape, jnp.float32, -1.0, 1.0) * (1 / fan_in) ** 0.5
    params = {"c1": (uniform(keys[0], (6, 1, 5, 5), 25), jnp.zeros(6)),
              "c2": (uniform(keys[1], (16, 6, 5, 5), 150), jnp.zeros(16)),
              "f1": (uniform(keys[2], (400, 120), 400), jnp.zeros(120)),
              "f2": (uniform(keys[3], (120, 84), 120), jnp.zeros(84)),
              "f3": (uniform(keys[4], (84, 10), 84), jnp.zeros(10))}
    x = jax.random.uniform(keys[5], (128, 1, 28, 28))
    y = jax.random.randint(keys[6], (128,), 0, 10)
    opt = optax.adam(2e-3)

    def conv(h, wb, pad):
        out = jax.lax.conv_general_dilated(h, wb[0], (1, 1), [(pad, pad), (pad, pad)],
                                           dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + wb[1][None, :, None, None]

    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(p):
        h = pool(jax.nn.relu(conv(x, p["c1"], 2)))
        h = pool(jax.nn.relu(conv(h, p["c2"], 0))).reshape(128, 400)
        h = jax.nn.relu(h @ p["f1"][0] + p["f1"][1])
        h = jax.nn.relu(h @ p["f2"][0] + p["f2"][1])
        logits = h @ p["f3"][0] + p["f3"][1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    carry = [params, opt.init(params)]

    def run():
        carry[:] = step(*carry)
        jax.block_until_ready(carry)
    s = median_seconds(run, warmup=10)
    return {"name": "lenet_train_step", "lib": "jax", "seconds": s, "samples_s": 128 / s}

def jax_logreg_step():
    """The step of torch_logreg_step, jit-compiled: value_and_grad and the update in one program."""
    import jax, jax.numpy as jnp
    x, y = (jnp.asarray(a) for a in _logreg_data())

    def loss(params, x, y):
        w, b = params
        z = x @ w + b
        return jnp.mean(jax.nn.softplus(z) - z * y)

    @jax.jit
    def step(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - LOGREG_LR * g, params, grads)

    carry = [(jnp.zeros(LOGREG_FEATURES, jnp.float32), jnp.zeros(1, jnp.float32))]

    def run():
        carry[0] = step(carry[0], x, y)
        jax.block_until_ready(carry[0])
    s = median_seconds(run)
    return {"name": "logreg_fullbatch_step", "lib": "jax", "seconds": s,
            "gb_s": (x.size + y.size) * 4 / s / 1e9}


def all_benches():
    """(name, function) pairs; names match the gradus JSON-line names."""
    return [
        ("matmul_128x784x512", lambda: numpy_matmul(128, 784, 512)),
        ("matmul_512x512x512", lambda: numpy_matmul(512, 512, 512)),
        ("matmul_1024x1024x1024", lambda: numpy_matmul(1024, 1024, 1024)),
        ("mlp_train_step", torch_mlp_train_step),
        ("mlp_train_step", jax_mlp_train_step),
        ("mlp_fwd_bwd", torch_mlp_fwd_bwd),
        ("adam_10m", lambda: torch_adam("foreach")),
        ("adam_10m", lambda: torch_adam("fused")),
        ("conv2d_1to6_fwd_bwd", lambda: torch_conv(1, 6, 28)),
        ("conv2d_6to16_fwd_bwd", lambda: torch_conv(6, 16, 14)),
        ("lenet_train_step", torch_lenet_train_step),
        ("lenet_train_step", jax_lenet_train_step),
        ("lstm_seq1_fwd_bwd", lambda: torch_recurrent("lstm", 1)),
        ("lstm_seq32_fwd_bwd", lambda: torch_recurrent("lstm", 32)),
        ("gru_seq32_fwd_bwd", lambda: torch_recurrent("gru", 32)),
        ("elementwise_fma_1e7", numpy_elementwise),
        ("elementwise_fma_1e7", torch_elementwise),
        ("logreg_fullbatch_step", torch_logreg_step),
        ("logreg_fullbatch_step", jax_logreg_step),
    ]


def describe(r):
    if r.get("seconds") is None:
        return f"{r['name']:24} {r['lib']:14} unavailable: {r.get('error', '')}"
    extra = "  ".join(f"{k}={v:,.1f}" for k, v in r.items() if k not in ("name", "lib", "seconds"))
    return f"{r['name']:24} {r['lib']:14} {r['seconds'] * 1e3:10.3f} ms  {extra}"


def run_one(i, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads), "--json", "--only", str(i)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode or not lines:
        return {"name": all_benches()[i][0], "lib": "?", "seconds": None, "error": out.stderr.strip()[-200:]}
    return json.loads(lines[-1])


def run_isolated(threads, runs=1):
    """Yield each bench's result dict. Every bench runs in its own process, so the thread pools of
    numpy (OpenBLAS), torch (OpenMP) and XLA never compete for the cores; with runs > 1 it runs
    that many times and keeps the lowest median (filters out other users' load on a shared box)."""
    for i in range(len(all_benches())):
        results = [run_one(i, threads) for _ in range(runs)]
        ok = [r for r in results if r.get("seconds") is not None]
        yield min(ok, key=lambda r: r["seconds"]) if ok else results[0]


if __name__ == "__main__":
    args = sys.argv[1:]
    threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 2
    if "--only" in args:  # one bench in this process (used by run_isolated)
        configure(threads)
        print(json.dumps(all_benches()[int(args[args.index("--only") + 1])][1]()))
        sys.exit()
    configure(threads)
    print("# " + json.dumps(environment()), flush=True)
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 1
    for r in run_isolated(threads, runs):
        print(json.dumps(r) if "--json" in args else describe(r), flush=True)
