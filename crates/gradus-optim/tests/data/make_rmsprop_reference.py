"""Make rmsprop_torch.json: torch.optim.RMSprop trajectories (float64, CPU) with the gradient
torch used at every step, so that the test can replay torch's gradients and compare the update
rule alone, bit for bit.

Usage: python make_rmsprop_reference.py OPTIMIZERS_JSON OUT_JSON
OPTIMIZERS_JSON is the optimizer reference set (its "logit" objective and the x0 of its logit
cases are used: the objective's usual start).
"""
import json
import sys

import torch

torch.set_default_dtype(torch.float64)

src, out = sys.argv[1], sys.argv[2]
ref = json.load(open(src))
obj = ref["objectives"]["logit"]
x0 = next(c["x0"] for c in ref["cases"] if c["objective"] == "logit")
X, y = torch.tensor(obj["X"]), torch.tensor(obj["y"])


def loss(x):
    z = X @ x[:-1] + x[-1]
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


def run(hyper, steps):
    x = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.RMSprop([x], **hyper)
    grads, params = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss(x).backward()
        grads.append(x.grad.tolist())
        opt.step()
        params.append(x.detach().tolist())
    return {"hyper": hyper, "steps": steps, "grads": grads, "params": params}


cases = [
    run({"lr": 0.0035, "alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.01}, 120),
    run({"lr": 0.01, "alpha": 0.99}, 60),
    run({"lr": 0.01, "alpha": 0.6, "centered": True, "weight_decay": 0.1}, 60),
]
doc = {
    "about": "torch.optim.RMSprop on the logistic objective (float64): grads[t] is the gradient "
             "of step t+1 (before weight decay), params[t] the parameters after it; the objective is "
             "mean BCE-with-logits of X w + bias against y, params = [w, bias].",
    "generator": f"torch {torch.__version__}",
    "objective": {"X": obj["X"], "y": obj["y"]},
    "x0": x0,
    "cases": cases,
}
json.dump(doc, open(out, "w"))
