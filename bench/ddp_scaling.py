"""Data-parallel scaling of the MNIST MLP: gradus under mpirun against PyTorch DDP (gloo, CPU).

    python bench/ddp_scaling.py [--rounds 3] [--steps 300] [--data ../shared/data/mnist]

The same work on both sides: a 784-512-256-10 ReLU MLP, Adam (lr 1e-3), cross-entropy, f32, a
global batch of 128 split over 1 or 2 ranks (each rank one thread), gradients all-reduced in
buckets of 25 MB. Each round runs, each in fresh processes, gradus on 1 rank, gradus on 2 ranks
(`mpirun --oversubscribe -np 2 gradus train`), then PyTorch on 1 and on 2 ranks
(`DistributedDataParallel`, `mp.spawn`), so that all sides see the same moments of a shared
machine. Prints per side the median samples/s over the rounds, the scaling efficiency
(2-rank samples/s / (2 x 1-rank samples/s)) and the bytes each rank hands to all-reduce per step.

gradus's throughput is timed from outside: the wall time of a run of `--steps` + 30 optimizer
steps minus that of a run of 30 steps (start-up, data loading and the first steps cancel).
PyTorch's is timed inside the ranks, after 30 warm-up steps, between two barriers.

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


def gradus_run(gradus, data, ranks, steps, deterministic, tmp):
    cfg = os.path.join(tmp, f"ddp-{ranks}-{steps}.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(steps=steps, data=data, batch=BATCH,
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


def gradus_samples_per_s(gradus, data, ranks, steps, deterministic, tmp):
    short = gradus_run(gradus, data, ranks, WARMUP, deterministic, tmp)
    long = gradus_run(gradus, data, ranks, WARMUP + steps, deterministic, tmp)
    return steps * BATCH / max(long - short, 1e-9)


def load_mnist(data):
    with gzip.open(os.path.join(data, "train-images-idx3-ubyte.gz")) as f:
        images = f.read()[16:]
    with gzip.open(os.path.join(data, "train-labels-idx1-ubyte.gz")) as f:
        labels = f.read()[8:]
    return images, labels


def torch_rank(rank, world, data, steps, port, result):
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    images, labels = load_mnist(data)
    x = torch.from_numpy(np.frombuffer(images, np.uint8).reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(np.frombuffer(labels, np.uint8).astype(np.int64))
    torch.manual_seed(0)
    layers = []
    for a, b in zip(SIZES, SIZES[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = DDP(torch.nn.Sequential(*layers[:-1]), bucket_cap_mb=25)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))

    def step(i):
        batch = order[(i * BATCH) % len(y):][:BATCH][rank::world]  # DistributedSampler's stride
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()

    for i in range(WARMUP):
        step(i)
    dist.barrier()
    start = time.perf_counter()
    for i in range(WARMUP, WARMUP + steps):
        step(i)
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        result.put(steps * BATCH / seconds)
    dist.destroy_process_group()


def torch_samples_per_s(data, ranks, steps, port):
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    result = ctx.SimpleQueue()
    mp.spawn(torch_rank, args=(ranks, data, steps, port, result), nprocs=ranks, join=True)
    return result.get()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    ap.add_argument("--gradus", default=GRADUS, help="the gradus binary (built with --features mpi)")
    ap.add_argument("--deterministic", action="store_true",
                    help="gradus sums in rank order (all-gather, N times the bytes) rather than MPI's all-reduce")
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    for k, v in ONE_THREAD.items():
        os.environ[k] = v
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            row = {}
            for ranks in (1, 2):
                row[f"gradus x{ranks}"] = gradus_samples_per_s(args.gradus, data, ranks, args.steps,
                                                                    args.deterministic, tmp)
            for ranks in (1, 2):
                row[f"torch x{ranks}"] = torch_samples_per_s(data, ranks, args.steps, 29500 + 10 * r + ranks)
            for k, v in row.items():
                rates.setdefault(k, []).append(v)
            print(f"round {r + 1}: " + "  ".join(f"{k} {v:7.0f}/s" for k, v in row.items()), flush=True)

    wire = 8 * (PARAMS + TENSORS) + 32  # f64 gradients, presence flags, loss/samples/norm
    print(f"\nMNIST MLP {SIZES}, global batch {BATCH}, {args.steps} steps, {args.rounds} rounds, 1 thread per rank")
    for side in ("gradus", "torch"):
        one, two = (statistics.median(rates[f"{side} x{n}"]) for n in (1, 2))
        print(f"  {side:6}  1 rank {one:7.0f} samples/s   2 ranks {two:7.0f} samples/s   "
              f"scaling efficiency {two / (2 * one):.2f}")
    gradus_bytes = wire * (2 if args.deterministic else 1)
    print(f"  bytes into all-reduce per rank per step: gradus {gradus_bytes:,} "
          f"({'all-gather in rank order, ' if args.deterministic else ''}f64), "
          f"PyTorch DDP {4 * PARAMS:,} (f32)")


if __name__ == "__main__":
    main()
