#!/usr/bin/env bash
# Creates bench/.venv with the pinned peer libraries (numpy, torch CPU, jax CPU, optax, ...).
#
# What works from PyPI alone (checked with torch 2.15.0, Python 3.11, Linux x86_64):
# - PyPI's only Linux x86_64 torch wheel is the CUDA build (~540 MB). Its normal install
#   pulls ~2.3 GB more of nvidia-*/triton wheels; the CPU-only index on download.pytorch.org
#   is not reachable from here.
# - `pip install --no-deps torch` alone does NOT import: libtorch_*.so list libcudart,
#   libcublas, libcudnn, ... as NEEDED. torch_stubs.py writes tiny stub libraries with those
#   names into torch/lib (functions return "no device"), after which CPU torch works fully
#   (autograd, MKL/oneDNN kernels, fused Adam); torch.cuda.is_available() is False.
# Result: ~0.55 GB download for torch instead of ~2.8 GB.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --upgrade --quiet pip
.venv/bin/pip install --no-deps -r requirements.txt
.venv/bin/python torch_stubs.py "$(.venv/bin/python -c 'import importlib.util as u, os; print(os.path.join(os.path.dirname(u.find_spec("torch").origin), "lib"))')"
.venv/bin/python - <<'PY'
import torch, jax, jax.numpy as jnp, optax, numpy, safetensors, threadpoolctl
x = torch.randn(8, 3, requires_grad=True)
(x @ torch.randn(3)).relu().sum().backward()
assert x.grad is not None and not torch.cuda.is_available()
print("ok: torch", torch.__version__, "| jax", jax.__version__, jax.jit(lambda a: a @ a)(jnp.ones(3)),
      "| numpy", numpy.__version__)
PY
