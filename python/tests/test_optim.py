"""gradus.optim against PyTorch's update rules written out in NumPy, and schedules."""

import math

import numpy as np
import pytest

import gradus


def _quadratic_grad(w, a):
    # f(w) = 0.5 * sum(a * w^2): grad = a * w
    return a * w


def test_adam_follows_pytorchs_rule():
    a = np.array([1.0, 3.0, 0.5])
    w0 = np.array([1.0, -2.0, 0.5])
    w = gradus.Tensor(w0, requires_grad=True)
    opt = gradus.optim.Adam([w], lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    ref, m, v = w0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 6):
        (w * w * gradus.Tensor(a * 0.5)).sum().backward()
        opt.step()
        opt.zero_grad()
        g = _quadratic_grad(ref, a) + 0.01 * ref  # Adam's weight decay is L2 (torch.optim.Adam)
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g
        mhat, vhat = m / (1 - 0.9**t), v / (1 - 0.99**t)
        ref = ref - 0.1 * mhat / (np.sqrt(vhat) + 1e-8)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-12, atol=1e-14)


def test_sgd_with_nesterov_momentum_follows_pytorchs_rule():
    a = np.array([2.0, 0.5])
    w0 = np.array([1.0, 1.0])
    w = gradus.Tensor(w0, requires_grad=True)
    opt = gradus.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    ref, buf = w0.copy(), None
    for _ in range(4):
        (w * w * gradus.Tensor(a * 0.5)).sum().backward()
        opt.step()
        opt.zero_grad()
        g = _quadratic_grad(ref, a)
        buf = g if buf is None else 0.9 * buf + g
        ref = ref - 0.1 * (g + 0.9 * buf)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("name", gradus.optim.NAMES)
def test_every_optimizer_lowers_a_quadratic(name):
    w = gradus.Tensor(np.array([1.0, -1.5]), requires_grad=True)
    opt = gradus.optim.Optimizer([w], name, lr=0.05)
    start = float((w * w).sum().item())
    for _ in range(20):
        (w * w).sum().backward()
        opt.step()
        opt.zero_grad()
    assert float((w * w).sum().item()) < start


def test_schedules_are_functions_of_the_step():
    cosine = gradus.optim.schedule("cosine", 0.1, 100)
    assert cosine(0) == pytest.approx(0.1)
    assert cosine(50) == pytest.approx(0.05)
    warm = gradus.optim.schedule("cosine", 0.1, 110, warmup_steps=10)
    assert warm(0) == pytest.approx(0.01) and warm(10) == pytest.approx(0.1)
    w = gradus.Tensor(np.ones(1), requires_grad=True)
    opt = gradus.optim.SGD([w], lr=0.1, schedule={"name": "step", "step_size": 2, "gamma": 0.5})
    lrs = []
    for _ in range(5):
        lrs.append(opt.lr)
        (w * w).sum().backward()
        opt.step()
        opt.zero_grad()
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert math.isfinite(w.numpy()[0])


def test_bad_settings_are_value_errors_naming_the_key():
    w = gradus.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="optimizer.name: unknown value `adamm`"):
        gradus.optim.Optimizer([w], "adamm", lr=0.1)
    with pytest.raises(ValueError, match="unknown field `mommentum`"):
        gradus.optim.SGD([w], lr=0.1, mommentum=0.9)
    with pytest.raises(ValueError, match="requires_grad"):
        gradus.optim.SGD([gradus.Tensor(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        gradus.optim.schedule("step", 0.1, 10)
