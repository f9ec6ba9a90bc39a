"""Data-parallel scaling: gradus under mpirun against PyTorch DDP (gloo, CPU), MNIST MLP or GPT.

    python bench/ddp_scaling.py [--rounds 3] [--steps 300] [--data ../shared/data/mnist]
    python bench/ddp_scaling.py --model gpt [--steps 100] [--data ../shared/data/tinyshakespeare/input.txt]

The same work on both sides. `--model mlp` (the default): a 784-512-256-10 ReLU MLP, Adam
(lr 1e-3), cross-entropy, f32, a global batch of 128 MNIST images. `--model gpt`: gradus's GPT
example (examples/shakespeare-gpt.toml without its schedule and clipping): character-level tiny
Shakespeare (65 symbols, non-overlapping windows of 64, a seeded 5% held out), 2 pre-norm blocks,
4 heads, width 64, context 64, exact-GELU 4x MLP, no dropout, head tied to the token embedding
(108,352 parameters), AdamW (lr 3e-3, weight decay 0.1 on weights only, not on biases and norms),
a global batch of 32 windows, mean next-character cross-entropy; PyTorch's model is
`gpt_alternate.torch_gpt_model`. Either way the global batch is split over 1 or 2 ranks (each
rank one thread; PyTorch takes DistributedSampler's stride) and gradients are all-reduced in
buckets of 25 MB. Each round runs, each in fresh processes, gradus on 1 rank, gradus on 2 ranks
(`mpirun --oversubscribe -np 2 gradus train`), then PyTorch on 1 and on 2 ranks
(`DistributedDataParallel`, `mp.spawn`), so that all sides see the same moments of a shared
machine. Prints per side the median samples/s over the rounds, the scaling efficiency
(2-rank samples/s / (2 x 1-rank samples/s)) and the bytes each rank hands to all-reduce per step
(PyTorch's from the parameter count: f32 gradients, the tied weight once).

gradus's throughput is timed from outside: the wall time of a run of `--steps` + W optimizer
steps minus that of a run of W steps (start-up, data loading and the first steps cancel; W = 30
for the MLP, 5 for the GPT). PyTorch's is timed inside the ranks, after W warm-up steps, between
two barriers. `--skip-torch` times gradus only (for a machine without torch).

Build first: cargo build --release -p gradus-cli --features mpi (Open MPI, libclang).
Needs torch in the Python that runs it (bench/setup.sh makes bench/.venv).
"""
import argparse, gzip, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADUS = os.path.join(ROOT, "target", "release", "gradus")
BATCH = 128
WARMUP = 30
SIZES = [784, 512, 256, 10]
PARAMS = sum(a * b + b for a, b in zip(SIZES, SIZES[1:]))
TENSORS = 2 * (len(SIZES) - 1)

CONFIG = """seed = 0
epochs = 1
max_steps = {steps}
[data]
format = "mnist"
path = "{data}"
[model]
kind = "mlp"
hidden = [512, 256]
activation = "relu"
[optimizer]
name = "adam"
lr = 0.001
[batch]
mode = "minibatch"
size = {batch}
[distributed]
bucket_cap_mb = 25
deterministic = {deterministic}
"""

ONE_THREAD = {"RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


GPT_CONFIG = """seed = 0
epochs = 1
max_steps = {steps}
[data]
format = "text"
path = "{data}"
block_size = 64
validation = 0.05
[model]
kind = "gpt"
width = 64
layers = 2
heads = 4
tie_weights = true
[optimizer]
name = "adamw"
lr = 0.003
weight_decay = 0.1
no_decay_on_bias = true
[batch]
size = {batch}
[distributed]
bucket_cap_mb = 25
deterministic = {deterministic}
"""
GPT_BATCH = 32
GPT_WARMUP = 5
GPT_CONTEXT, GPT_WIDTH, GPT_HEADS, GPT_LAYERS = 64, 64, 4, 2
# the GPT's parameters (tied embedding): tokens 65 x 64, positions 64 x 64, final norm 2 x 64,
# per block two norms (4 x 64), qkv 64 x 192 + 192, projection 64 x 64 + 64, MLP 64 x 256 + 256
# and 256 x 64 + 64
GPT_PARAMS = 65 * 64 + 64 * 64 + 2 * 64 + 2 * (4 * 64 + 64 * 192 + 192 + 64 * 64 + 64 + 64 * 256 + 256 + 256 * 64 + 64)


def gradus_run(gradus, data, ranks, steps, deterministic, tmp, model="mlp"):
    cfg = os.path.join(tmp, f"ddp-{model}-{ranks}-{steps}.toml")
    template, batch = (GPT_CONFIG, GPT_BATCH) if model == "gpt" else (CONFIG, BATCH)
    with open(cfg, "w") as f:
        f.write(template.format(steps=steps, data=data, batch=batch,
                                deterministic=str(deterministic).lower()))
    out = os.path.join(tmp, f"run-{ranks}-{steps}")
    cmd = [gradus, "train", cfg, "--out", out, "--quiet", "--overwrite"]
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(ranks)] + cmd
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **ONE_THREAD)
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"gradus on {ranks} ranks failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return seconds


def gradus_samples_per_s(gradus, data, ranks, steps, deterministic, tmp, model="mlp"):
    warmup = WARMUP if model == "mlp" else GPT_WARMUP
    short = gradus_run(gradus, data, ranks, warmup, deterministic, tmp, model)
    long = gradus_run(gradus, data, ranks, warmup + steps, deterministic, tmp, model)
    batch = GPT_BATCH if model == "gpt" else BATCH
    return steps * batch / max(long - short, 1e-9)


def load_mnist(data):
    with gzip.open(os.path.join(data, "train-images-idx3-ubyte.gz")) as f:
        images = f.read()[16:]
    with gzip.open(os.path.join(data, "train-labels-idx1-ubyte.gz")) as f:
        labels = f.read()[8:]
    return images, labels


def load_text_windows(path, context):
    """gradus's `text` data: characters to ids in sorted character order, the token stream cut
    into non-overlapping windows of `context` + 1 ids (input and next-token target), a seeded 5%
    of the windows held out for validation. Returns (training windows [n, context + 1], vocabulary
    size) as int64."""
    import numpy as np
    with open(path, encoding="utf-8") as f:
        codes = np.frombuffer(f.read().encode("utf-32-le"), np.uint32)
    chars, ids = np.unique(codes, return_inverse=True)
    n = (len(ids) - context - 1) // context + 1
    windows = np.lib.stride_tricks.sliding_window_view(ids, context + 1)[::context][:n]
    keep = np.random.default_rng(0).permutation(n)[round(0.05 * n):]
    return np.ascontiguousarray(windows[np.sort(keep)], np.int64), len(chars)


def torch_rank(rank, world, model_kind, data, steps, port, result):
    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    if model_kind == "gpt":
        from gpt_alternate import torch_gpt_model
        windows, vocab = load_text_windows(data, GPT_CONTEXT)
        windows = torch.from_numpy(windows)
        net = torch_gpt_model(vocab, GPT_WIDTH, GPT_HEADS, GPT_LAYERS, GPT_CONTEXT)
        # no_decay_on_bias: gradus decays only the parameters of rank 2 and more
        groups = [{"params": [p for p in net.parameters() if p.dim() > 1], "weight_decay": 0.1},
                  {"params": [p for p in net.parameters() if p.dim() <= 1], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=3e-3, betas=(0.9, 0.999), eps=1e-8)
        n, batch_size, warmup = len(windows), GPT_BATCH, GPT_WARMUP

        def loss(rows):
            w = windows[rows]
            return F.cross_entropy(model(w[:, :-1]).reshape(-1, vocab), w[:, 1:].reshape(-1))
    else:
        images, labels = load_mnist(data)
        x = torch.from_numpy(np.frombuffer(images, np.uint8).reshape(-1, 784).astype(np.float32) / 255)
        y = torch.from_numpy(np.frombuffer(labels, np.uint8).astype(np.int64))
        layers = []
        for a, b in zip(SIZES, SIZES[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        n, batch_size, warmup = len(y), BATCH, WARMUP

        def loss(rows):
            return F.cross_entropy(model(x[rows]), y[rows])
    model = DDP(net, bucket_cap_mb=25)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))

    def step(i):
        rows = order[(i * batch_size) % n:][:batch_size][rank::world]  # DistributedSampler's stride
        opt.zero_grad(set_to_none=True)
        loss(rows).backward()
        opt.step()

    for i in range(warmup):
        step(i)
    dist.barrier()
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        result.put(steps * batch_size / seconds)
    dist.destroy_process_group()


def torch_samples_per_s(model_kind, data, ranks, steps, port):
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    result = ctx.SimpleQueue()
    mp.spawn(torch_rank, args=(ranks, model_kind, data, steps, port, result), nprocs=ranks, join=True)
    return result.get()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--model", choices=["mlp", "gpt"], default="mlp")
    ap.add_argument("--skip-torch", action="store_true", help="time gradus only")
    ap.add_argument("--data", default=None,
                    help="MNIST folder (mlp) or text file (gpt); default under ../shared/data")
    ap.add_argument("--gradus", default=GRADUS, help="the gradus binary (built with --features mpi)")
    ap.add_argument("--deterministic", action="store_true",
                    help="gradus sums in rank order (all-to-all reduce-scatter, then all-gather: a ring "
                         "all-reduce's bytes) rather than MPI's all-reduce")
    args = ap.parse_args()
    default = ("mnist",) if args.model == "mlp" else ("tinyshakespeare", "input.txt")
    data = os.path.abspath(args.data or os.path.join(ROOT, "..", "shared", "data", *default))
    for k, v in ONE_THREAD.items():
        os.environ[k] = v
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            row = {}
            for ranks in (1, 2):
                row[f"gradus x{ranks}"] = gradus_samples_per_s(args.gradus, data, ranks, args.steps,
                                                                    args.deterministic, tmp, args.model)
            for ranks in () if args.skip_torch else (1, 2):
                row[f"torch x{ranks}"] = torch_samples_per_s(args.model, data, ranks, args.steps, 29500 + 10 * r + ranks)
            for k, v in row.items():
                rates.setdefault(k, []).append(v)
            print(f"round {r + 1}: " + "  ".join(f"{k} {v:7.0f}/s" for k, v in row.items()), flush=True)

    # f32 gradients and one presence flag per tensor on the wire (4 bytes each), and 32 bytes of
    # loss, samples and gradient norm (f64); the same bytes in either reduction order
    if args.model == "gpt":
        # gradus lists the tied head under both names (as a state dict), and buckets both
        params, what = GPT_PARAMS, f"GPT example, batch {GPT_BATCH} x 64 tokens"
        wire = 4 * (GPT_PARAMS + 65 * 64 + 29) + 32
    else:
        params, what = PARAMS, f"MNIST MLP {SIZES}, global batch {BATCH}"
        wire = 4 * (PARAMS + TENSORS) + 32
    print(f"\n{what}, {args.steps} steps, {args.rounds} rounds, 1 thread per rank")
    for side in ("gradus",) if args.skip_torch else ("gradus", "torch"):
        one, two = (statistics.median(rates[f"{side} x{n}"]) for n in (1, 2))
        print(f"  {side:6}  1 rank {one:7.0f} samples/s   2 ranks {two:7.0f} samples/s   "
              f"scaling efficiency {two / (2 * one):.2f}")
    print(f"  bytes into all-reduce per rank per step: gradus {wire:,} "
          f"(f32, {'rank order: reduce-scatter + all-gather' if args.deterministic else 'MPI_Allreduce'}), "
          f"PyTorch DDP {4 * params:,} (f32)")


if __name__ == "__main__":
    main()
