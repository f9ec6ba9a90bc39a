"""Reference values of a small MLP under PyTorch's CPU autocast to bfloat16.

Usage: python make_autocast_reference.py OUT.json   (writes autocast_bf16.json beside this file
by default). PyTorch >= 2.1, CPU.

The model: Linear(5, 8) -> Tanh -> Linear(8, 3) -> cross entropy (mean) over 6 samples, the
parameters and inputs in float32. Recorded: the logits (bfloat16 under autocast, written as
float), the loss (float32: cross entropy is on autocast's float32 list), and the float32
gradients of every parameter; the same without autocast for contrast.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)
model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
x = torch.randn(6, 5) * 2.0
y = torch.tensor([0, 2, 1, 1, 0, 2])


def run(autocast):
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
    assert logits.dtype == (torch.bfloat16 if autocast else torch.float32)
    assert loss.dtype == torch.float32
    loss.backward()
    return {
        "logits": logits.float().detach().tolist(),
        "loss": loss.item(),
        "grads": {k: p.grad.tolist() for k, p in model.named_parameters()},
    }


out = {
    "torch": torch.__version__,
    "params": {k: p.detach().tolist() for k, p in model.named_parameters()},
    "x": x.tolist(),
    "y": y.tolist(),
    "bf16": run(True),
    "f32": run(False),
}
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "autocast_bf16.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
