"""gradus's optimizers over ``gradus.Tensor`` parameters, with PyTorch's names and
hyperparameters (the keys of a gradus config's ``[optimizer]`` table), and learning-rate
schedules as pure functions of the step (optax's style).

>>> import gradus, numpy as np
>>> w = gradus.Tensor(np.ones(3), requires_grad=True)
>>> opt = gradus.optim.Adam([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step(); opt.zero_grad()
>>> bool((w.numpy() < 1).all())
True
"""

import json

from ._gradus import Optimizer as _Optimizer
from ._gradus import Schedule as _Schedule

NAMES = (
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam",
    "lion", "lamb", "lars", "adabelief", "yogi",
)


def _clean(d):
    out = {}
    for k, v in d.items():
        if v is None:
            continue
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


class Optimizer:
    """``Optimizer(params, name, lr, schedule=None, total_steps=0, **hyperparameters)``.

    ``name`` is one of ``NAMES``; hyperparameters take PyTorch's names (``momentum``,
    ``nesterov``, ``weight_decay``, ``betas``, ``eps``, ``amsgrad``, ``clip_grad_norm``,
    ``state_dtype``). ``schedule`` is a name (``"cosine"``) or a dict of a config's
    ``[schedule]`` keys, sized to ``total_steps``. An unknown name or key is a ``ValueError``
    naming it. ``step()`` updates the parameters in place; ``zero_grad()`` clears their
    gradients; ``lr`` is the rate of the next step.
    """

    def __init__(self, params, name, lr, schedule=None, total_steps=0, **hyper):
        config = _clean({"name": name, "lr": float(lr), **hyper})
        sched = None
        if schedule is not None:
            sched = json.dumps({"name": schedule} if isinstance(schedule, str) else _clean(schedule))
        self._opt = _Optimizer(list(params), json.dumps(config), sched, int(total_steps))

    def step(self):
        self._opt.step()

    def zero_grad(self):
        self._opt.zero_grad()

    @property
    def lr(self):
        return self._opt.lr

    @property
    def params(self):
        return self._opt.params


def _named(name):
    def make(params, lr=1e-3, **hyper):
        return Optimizer(params, name, lr, **hyper)

    make.__name__ = name
    make.__doc__ = f"The {name} optimizer: ``Optimizer(params, {name!r}, lr, **hyperparameters)``."
    return make


SGD = _named("sgd")
Adam = _named("adam")
AdamW = _named("adamw")
RMSprop = _named("rmsprop")
Adagrad = _named("adagrad")
Adadelta = _named("adadelta")
Adamax = _named("adamax")
NAdam = _named("nadam")
RAdam = _named("radam")
Lion = _named("lion")
Lamb = _named("lamb")
Lars = _named("lars")
AdaBelief = _named("adabelief")
Yogi = _named("yogi")


def schedule(name, lr, total_steps, **params):
    """The learning-rate schedule ``name`` (constant, step, multistep, exponential, cosine,
    warm_restarts, onecycle, polynomial; ``warmup_steps`` for a linear warmup) from ``lr`` over
    ``total_steps``: a function of the step (0-based)."""
    opt = json.dumps({"name": "sgd", "lr": float(lr)})
    return _Schedule(opt, json.dumps(_clean({"name": name, **params})), int(total_steps))
