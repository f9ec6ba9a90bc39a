"""The GPT training step side by side: PyTorch eager, JAX jit + optax and gradus, alternated.

    bench/.venv/bin/python bench/gpt_alternate.py [--rounds 6] [--threads 2] [--gradus-cmd TEMPLATE]

The model of the issue's GPT row: 2 pre-norm blocks, width 128, 4 heads, context 64, batch 32,
vocabulary 65, GELU (exact) MLP 4x, tied embeddings, AdamW (lr 3e-3, weight decay 0.1), f32; one
step is forward, cross-entropy, backward and the AdamW update. PyTorch runs nanoGPT's attention
(`F.scaled_dot_product_attention(is_causal=True)`), its fastest eager path. Each round runs every
peer and then gradus, each in a fresh process, so that all sides see the same moments of a shared,
noisy machine; prints the medians, the median of the per-round ratios (peer / gradus: > 1 means
gradus is faster) and the rounds gradus won. JAX is skipped when it is not installed. The
PyTorch model, `torch_gpt_model`, is also `ddp_scaling.py --model gpt`'s.
Build first: cargo build --release -p gradus-bench --bin gpt.
"""
import argparse, json, os, shlex, statistics, subprocess, sys

import peers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "gpt_train_step"
DEFAULT_CMD = "target/release/gpt --json --threads {threads}"
B, T, V, E, H, L = 32, 64, 65, 128, 4, 2


def torch_gpt_model(vocab, width, heads, layers, context):
    """gradus's GPT (`gradus_nn::models::Gpt`, tied weights) in PyTorch: token and position
    embeddings, `layers` pre-norm blocks (LayerNorm, causal multi-head attention through
    `F.scaled_dot_product_attention(is_causal=True)` with a packed qkv projection, LayerNorm, a
    4x MLP with exact GELU; biases everywhere), a final LayerNorm and a bias-free head tied to the
    token embedding; no dropout. Initialized as gradus (GPT-2): weights N(0, 0.02^2), the residual
    projections N(0, (0.02 / sqrt(2 layers))^2), biases zero. Takes `[batch, seq <= context]` ids,
    gives `[batch, seq, vocab]` logits. Also used by `ddp_scaling.py --model gpt`."""
    import torch, torch.nn as nn, torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.fc1, self.fc2 = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

        def forward(self, x):
            b, t, e = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(e, dim=2)
            q, k, v = (z.view(b, t, heads, e // heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, e))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(context, width)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f, self.head = nn.LayerNorm(width), nn.Linear(width, vocab, bias=False)
            self.head.weight = self.tok.weight

        def forward(self, idx):
            x = self.tok(idx) + self.pos.weight[:idx.shape[1]]
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln_f(x))

    model = Gpt()
    residual = 0.02 / (2 * max(layers, 1)) ** 0.5
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.normal_(0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.zero_()
        for b in model.blocks:
            b.proj.weight.normal_(0.0, residual)
            b.fc2.weight.normal_(0.0, residual)
    return model


def torch_gpt(autocast=False):
    """`autocast`: the forward pass and loss under `torch.autocast("cpu", dtype=torch.bfloat16)`."""
    import torch, torch.nn.functional as F
    torch.manual_seed(0)
    model = torch_gpt_model(V, E, H, L, T)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    tokens = torch.randint(0, V, (B, T + 1))
    x, y = tokens[:, :T], tokens[:, 1:].reshape(-1)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(model(x).view(-1, V), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    s = peers.median_seconds(step, warmup=5)
    return {"name": NAME, "lib": "torch", "seconds": s, "tokens_s": B * T / s}


def jax_gpt():
    import jax, jax.numpy as jnp, optax
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 64))
    normal = lambda *shape: jax.random.normal(next(keys), shape) * 0.02
    ln = lambda: (jnp.ones(E), jnp.zeros(E))
    params = {"tok": normal(V, E), "pos": normal(T, E), "ln_f": ln(), "blocks": [
        {"ln1": ln(), "ln2": ln(), "qkv": (normal(E, 3 * E), jnp.zeros(3 * E)),
         "proj": (normal(E, E), jnp.zeros(E)), "fc1": (normal(E, 4 * E), jnp.zeros(4 * E)),
         "fc2": (normal(4 * E, E), jnp.zeros(E))} for _ in range(L)]}
    tokens = jax.random.randint(next(keys), (B, T + 1), 0, V)
    x, y = tokens[:, :T], tokens[:, 1:].reshape(-1)
    mask = jnp.tril(jnp.ones((T, T), bool))

    def layer_norm(h, p):
        m = h.mean(-1, keepdims=True)
        v = ((h - m) ** 2).mean(-1, keepdims=True)
        return (h - m) * jax.lax.rsqrt(v + 1e-5) * p[0] + p[1]

    def block(h, p):
        qkv = layer_norm(h, p["ln1"]) @ p["qkv"][0] + p["qkv"][1]
        q, k, v = (t.reshape(B, T, H, E // H).transpose(0, 2, 1, 3) for t in jnp.split(qkv, 3, -1))
        s = jnp.where(mask, q @ k.transpose(0, 1, 3, 2) / (E // H) ** 0.5, -jnp.inf)
        a = (jax.nn.softmax(s, -1) @ v).transpose(0, 2, 1, 3).reshape(B, T, E)
        h = h + a @ p["proj"][0] + p["proj"][1]
        f = jax.nn.gelu(layer_norm(h, p["ln2"]) @ p["fc1"][0] + p["fc1"][1], approximate=False)
        return h + f @ p["fc2"][0] + p["fc2"][1]

    def loss(params):
        h = params["tok"][x] + params["pos"][:T]
        for p in params["blocks"]:
            h = block(h, p)
        logits = (layer_norm(h, params["ln_f"]) @ params["tok"].T).reshape(-1, V)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    opt = optax.adamw(3e-3, weight_decay=0.1)

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    carry = [params, opt.init(params)]

    def run():
        carry[:] = step(*carry)
        jax.block_until_ready(carry)
    s = peers.median_seconds(run, warmup=10)
    return {"name": NAME, "lib": "jax", "seconds": s, "tokens_s": B * T / s}


PEERS = {"torch": torch_gpt, "jax": jax_gpt}


def peer_seconds(lib, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads), "--only", lib]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1])["seconds"] if lines and not out.returncode else None


def gradus_seconds(template, threads):
    cmd = shlex.split(template.format(threads=threads))
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("{") and json.loads(line).get("name") == NAME:
            return json.loads(line)["seconds"]
    sys.exit(f"gradus printed no {NAME}: {out.stderr.strip()[-300:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gradus-cmd", default=DEFAULT_CMD)
    ap.add_argument("--only", choices=sorted(PEERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:  # one peer in this process
        peers.configure(args.threads)
        print(json.dumps(PEERS[args.only]()))
        return

    times = {}
    for r in range(args.rounds):
        row = {lib: peer_seconds(lib, args.threads) for lib in PEERS}
        row = {k: v for k, v in row.items() if v is not None}
        row["gradus"] = gradus_seconds(args.gradus_cmd, args.threads)
        for side, s in row.items():
            times.setdefault(side, []).append(s)
        print(f"round {r + 1:2}: " + "  ".join(f"{k} {v * 1e3:.2f} ms" for k, v in row.items()), flush=True)

    g = times.pop("gradus")
    print(f"\n{NAME}, {args.rounds} rounds, {args.threads} threads, {B * T} tokens per step")
    print(f"  gradus  median {statistics.median(g) * 1e3:8.2f} ms  {B * T / statistics.median(g):9.0f} tokens/s")
    for side, t in times.items():
        ratios = [p / q for p, q in zip(t, g)]
        won = sum(q < p for p, q in zip(t, g))
        print(f"  {side:6} median {statistics.median(t) * 1e3:8.2f} ms  {B * T / statistics.median(t):9.0f} tokens/s"
              f"  ratio {statistics.median(ratios):.2f}  gradus won {won}/{len(g)}")


if __name__ == "__main__":
    main()
