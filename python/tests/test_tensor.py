"""gradus.Tensor from and to NumPy, its ops and autodiff, gradcheck, and errors."""

import numpy as np
import pytest

import gradus


def test_numpy_round_trip_keeps_dtype_and_values():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = gradus.Tensor(a)
    assert t.dtype == "float32" and t.shape == (3, 4)
    np.testing.assert_array_equal(t.numpy(), a)
    b = np.linspace(-1, 1, 6).reshape(2, 3)
    t64 = gradus.Tensor(b)
    assert t64.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(t64), b)
    assert gradus.Tensor([1, 2, 3]).dtype == "float64"  # ints and lists become float64
    assert gradus.Tensor(b, dtype="float32").dtype == "float32"


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),  # Fortran order
        lambda a: a[:, ::2],  # a strided view
        lambda a: a.T,  # a transposed view
        lambda a: a[::-1, 1:],  # negative strides
    ],
    ids=["fortran", "strided", "transposed", "reversed"],
)
def test_any_memory_order_is_read_in_logical_order(make):
    base = np.arange(24, dtype=np.float64).reshape(4, 6) * 0.5
    view = make(base)
    t = gradus.Tensor(view)
    assert t.shape == view.shape
    np.testing.assert_array_equal(t.numpy(), np.ascontiguousarray(view))
    # and ops see the same values as NumPy
    np.testing.assert_allclose((t * 2.0 + 1.0).numpy(), view * 2.0 + 1.0)


def test_ops_broadcast_like_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    ta, tb = gradus.Tensor(a), gradus.Tensor(b)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta - b).numpy(), a - b)
    np.testing.assert_allclose((2.0 - ta).numpy(), 2.0 - a)
    np.testing.assert_allclose((ta / (tb.abs() + 1.0)).numpy(), a / (np.abs(b) + 1))
    np.testing.assert_allclose((ta @ ta.T).numpy(), a @ a.T, rtol=1e-12)
    np.testing.assert_allclose(ta.sum(axis=1).numpy(), a.sum(axis=1))
    np.testing.assert_allclose(ta.mean().item(), a.mean())
    np.testing.assert_allclose(ta.softmax(axis=1).numpy().sum(axis=1), np.ones(3))
    np.testing.assert_allclose((ta ** 2).numpy(), a**2)
    assert ta.reshape(4, 3).shape == (4, 3) and ta.reshape((2, 6)).shape == (2, 6)


def test_backward_gives_the_analytic_gradient():
    # f(x, w) = sum(tanh(x @ w)); df/dw = x^T (1 - tanh^2(x @ w)), df/dx = (1 - tanh^2) w^T
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(5, 3)), rng.normal(size=(3, 2))
    tx = gradus.Tensor(x, requires_grad=True)
    tw = gradus.Tensor(w, requires_grad=True)
    (tx @ tw).tanh().sum().backward()
    d = 1 - np.tanh(x @ w) ** 2
    np.testing.assert_allclose(tw.grad.numpy(), x.T @ d, rtol=1e-12)
    np.testing.assert_allclose(tx.grad.numpy(), d @ w.T, rtol=1e-12)
    tw.zero_grad()
    assert tw.grad is None


def test_gradcheck_passes_for_correct_gradients_and_fails_for_a_wrong_one():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    assert gradus.gradcheck(lambda x, w: (x @ w).sigmoid() * x.sum(axis=1, keepdim=True), [x, w])
    y = rng.integers(0, 3, size=4)
    assert gradus.gradcheck(lambda z: gradus.cross_entropy(z, y), [rng.normal(size=(4, 3))])

    # a function whose value depends on x but whose graph is cut: autodiff gives 0
    def cut(x):
        return x.detach() * x.detach() + x * 0.0

    with pytest.raises(ValueError, match="gradcheck"):
        gradus.gradcheck(cut, [x])


def test_an_exception_in_the_function_comes_through():
    def boom(x):
        raise KeyError("from python")

    with pytest.raises(KeyError, match="from python"):
        gradus.gradcheck(boom, [np.ones(2)])


def test_errors_are_value_errors_with_gradus_messages():
    a, b = gradus.Tensor(np.ones((2, 3))), gradus.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\[2, 3\].*\[4, 5\]"):
        a @ b
    with pytest.raises(ValueError, match="dtype"):
        gradus.Tensor(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="dtype"):
        gradus.Tensor(np.ones(2), dtype="int8")
    with pytest.raises(ValueError, match="backward"):
        gradus.Tensor(np.ones(2)).sum().backward()  # nothing requires grad
    with pytest.raises(ValueError, match="out of range"):
        gradus.cross_entropy(gradus.Tensor(np.zeros((2, 3))), [0, 3])
