//! Elementwise functions of two tensors with NumPy/PyTorch broadcasting: `add`, `sub`, `mul`,
//! `div`, `pow`, `maximum`, `minimum`, comparisons, `where_cond` and the fused `mul_add`.

use crate::autodiff::{BackwardOp, Ctx};
use crate::layout::broadcast_shapes;
use crate::{Element, Result, Storage, Tensor};
use std::sync::RwLockReadGuard;

/// A scalar function of two elements, named so that a backend can select its compiled kernel.
pub(crate) trait BinaryKernel: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    fn f<T: Element>(&self, a: T, b: T) -> T;
}

/// The partial derivatives of a [`BinaryKernel`], written in tensor ops.
trait BinaryGrad: BinaryKernel {
    /// `(g * df/da, g * df/db)` at the broadcast shape (reduced to the input shapes afterwards).
    fn grad(
        &self,
        a: &Tensor,
        b: &Tensor,
        out: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)>;
}

/// A scalar function of three elements (`mul_add`, `where`), named like [`BinaryKernel`].
pub(crate) trait TernaryKernel: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    fn f<T: Element>(&self, a: T, b: T, c: T) -> T;
}

struct BinaryOp<K>(K);

impl<K: BinaryGrad> BackwardOp for BinaryOp<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (ctx.input(0), ctx.input(1));
        let (ga, gb) = self.0.grad(a, b, ctx.output(), g)?;
        let reduce = |grad: Option<Tensor>, input: &Tensor| match grad {
            Some(grad) if input.requires_grad() => grad.sum_to(input.shape()).map(Some),
            _ => Ok(None),
        };
        Ok(vec![reduce(ga, a)?, reduce(gb, b)?])
    }
}

/// Runs `f` on the storages of `tensors`, read-locked once each: tensors that share a buffer
/// share one guard (a second read lock of the same buffer could wait behind a writer).
fn on_storages<const N: usize, R>(tensors: [&Tensor; N], f: impl FnOnce([&Storage; N]) -> R) -> R {
    // the first tensor viewing each buffer holds its lock
    let owner: [usize; N] = std::array::from_fn(|i| {
        (0..i)
            .find(|&j| tensors[j].shares_storage(tensors[i]))
            .unwrap_or(i)
    });
    let guards: [Option<RwLockReadGuard<'_, Storage>>; N] =
        std::array::from_fn(|i| (owner[i] == i).then(|| tensors[i].storage()));
    let storages: [&Storage; N] = std::array::from_fn(|i| {
        &**guards[owner[i]]
            .as_ref()
            .expect("an owner is the first of its buffer's tensors and holds its guard")
    });
    f(storages)
}

/// `k.f(a, b)` over the broadcast of `a` and `b`: one backend call, a new contiguous buffer and
/// its shape.
fn zip_broadcast<K: BinaryKernel>(a: &Tensor, b: &Tensor, k: K) -> Result<(Storage, Vec<usize>)> {
    a.check_same(K::NAME, b)?;
    let shape = broadcast_shapes(K::NAME, a.shape(), b.shape())?;
    let (la, lb) = (
        a.layout().broadcast_to(&shape),
        b.layout().broadcast_to(&shape),
    );
    let out = on_storages([a, b], |[sa, sb]| sa.binary(&la, sb, &lb, k))?;
    Ok((out, shape))
}

fn binary<K: BinaryGrad>(a: &Tensor, b: &Tensor, k: K) -> Result<Tensor> {
    let (out, shape) = zip_broadcast(a, b, k)?;
    Ok(Tensor::from_op_storage(out, &shape, BinaryOp(k), &[a, b]))
}

/// A broadcasting elementwise kernel whose result is a constant for autodiff (comparisons).
fn compare<K: BinaryKernel>(a: &Tensor, b: &Tensor, k: K) -> Result<Tensor> {
    let (out, shape) = zip_broadcast(a, b, k)?;
    Ok(Tensor::from_storage(out, &shape))
}

macro_rules! binary_kernel {
    ($name:ident, $label:literal, |$x:ident, $y:ident| $f:expr, |$a:ident, $b:ident, $out:ident, $g:ident| $grad:expr) => {
        #[derive(Clone, Copy)]
        struct $name;
        impl BinaryKernel for $name {
            const NAME: &'static str = $label;
            fn f<T: Element>(&self, $x: T, $y: T) -> T {
                $f
            }
        }
        impl BinaryGrad for $name {
            fn grad(
                &self,
                $a: &Tensor,
                $b: &Tensor,
                $out: &Tensor,
                $g: &Tensor,
            ) -> Result<(Option<Tensor>, Option<Tensor>)> {
                let _ = ($a, $b, $out);
                $grad
            }
        }
    };
}

// d(a+b) = (1, 1)
binary_kernel!(Add, "add", |x, y| x + y, |_a, _b, _o, g| Ok((
    Some(g.clone()),
    Some(g.clone())
)));
// d(a-b) = (1, -1)
binary_kernel!(Sub, "sub", |x, y| x - y, |_a, b, _o, g| Ok((
    Some(g.clone()),
    if b.requires_grad() {
        Some(g.neg()?)
    } else {
        None
    }
)));
// d(ab) = (b, a)
binary_kernel!(Mul, "mul", |x, y| x * y, |a, b, _o, g| Ok((
    if a.requires_grad() {
        Some(g.mul(b)?)
    } else {
        None
    },
    if b.requires_grad() {
        Some(g.mul(a)?)
    } else {
        None
    },
)));
// d(a/b) = (1/b, -(a/b)/b): PyTorch's form, which stays finite where b^2 would overflow or
// underflow
binary_kernel!(Div, "div", |x, y| x / y, |a, b, out, g| Ok((
    if a.requires_grad() {
        Some(g.div(b)?)
    } else {
        None
    },
    if b.requires_grad() {
        Some(g.mul(&out.div(b)?)?.neg()?)
    } else {
        None
    },
)));
// d(a^b) = (b a^(b-1), a^b ln a), with PyTorch's values at the singular points: the slope in `a`
// is 0 where b = 0 (not 0 * 0^-1 = NaN at a = 0), the slope in `b` is 0 where a = 0 and b >= 0
// (the limit of a^b ln a, not 0 * ln 0 = NaN). The guarded places compute with a safe stand-in
// (b -> 1, a -> 1), so second derivatives are finite there too.
binary_kernel!(Pow, "pow", |x, y| x.powf(y), |a, b, out, g| {
    let zero = Tensor::zeros(&[], a.dtype());
    let ga = if a.requires_grad() {
        let zero_exp = b.eq_elem(&zero)?;
        let b_safe = b.add(&zero_exp)?;
        let slope = b.mul(&a.pow(&b_safe.add_scalar(-1.0)?)?)?;
        Some(keep_where(
            &zero_exp.neg()?.add_scalar(1.0)?,
            &g.mul(&slope)?,
        )?)
    } else {
        None
    };
    let gb = if b.requires_grad() {
        let limit_zero = a.eq_elem(&zero)?.mul(&b.ge(&zero)?)?;
        let a_safe = a.add(&limit_zero)?;
        Some(g.mul(&out.mul(&a_safe.log()?)?)?)
    } else {
        None
    };
    Ok((ga, gb))
});
// d max(a, b): the larger side gets the gradient, ties split it evenly, and where either is NaN
// both get it (as PyTorch's `where(a == b, g / 2, g).masked_fill(a < b, 0)`)
binary_kernel!(
    Maximum,
    "maximum",
    |x, y| if x.is_nan() || y.is_nan() {
        x + y
    } else {
        x.max(y)
    },
    |a, b, _o, g| {
        let shared = g.mul(&a.eq_elem(b)?.affine(-0.5, 1.0)?)?;
        Ok((
            Some(keep_where(&a.lt(b)?.affine(-1.0, 1.0)?, &shared)?),
            Some(keep_where(&a.gt(b)?.affine(-1.0, 1.0)?, &shared)?),
        ))
    }
);
// d min(a, b): mirror of maximum
binary_kernel!(
    Minimum,
    "minimum",
    |x, y| if x.is_nan() || y.is_nan() {
        x + y
    } else {
        x.min(y)
    },
    |a, b, _o, g| {
        let shared = g.mul(&a.eq_elem(b)?.affine(-0.5, 1.0)?)?;
        Ok((
            Some(keep_where(&a.gt(b)?.affine(-1.0, 1.0)?, &shared)?),
            Some(keep_where(&a.lt(b)?.affine(-1.0, 1.0)?, &shared)?),
        ))
    }
);

/// `g` where `mask` is non-zero and an exact 0 elsewhere (broadcasting): gradient masking by
/// selection, as PyTorch's `where(mask, grad, 0)`, so an infinite or NaN gradient in a masked-off
/// place gives 0 rather than 0 * inf = NaN. Differentiable in `g`; `mask` is a constant.
pub(crate) fn keep_where(mask: &Tensor, g: &Tensor) -> Result<Tensor> {
    let (out, shape) = zip_broadcast(mask, g, KeepWhere)?;
    Ok(Tensor::from_op_storage(
        out,
        &shape,
        KeepWhereOp,
        &[mask, g],
    ))
}

/// `v` where `m` is non-zero, else an exact 0.
#[derive(Clone, Copy)]
struct KeepWhere;
impl BinaryKernel for KeepWhere {
    const NAME: &'static str = "keep_where";
    fn f<T: Element>(&self, m: T, v: T) -> T {
        if m != T::zero() {
            v
        } else {
            T::zero()
        }
    }
}

struct KeepWhereOp;
impl BackwardOp for KeepWhereOp {
    fn name(&self) -> &'static str {
        "keep_where"
    }
    // linear in g: the same selection of the incoming gradient
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (mask, x) = (ctx.input(0), ctx.input(1));
        let gx = if x.requires_grad() {
            Some(keep_where(mask, g)?.sum_to(x.shape())?)
        } else {
            None
        };
        Ok(vec![None, gx])
    }
}

struct WhereOp;
impl BackwardOp for WhereOp {
    fn name(&self) -> &'static str {
        "where"
    }
    // d where(c, a, b) = (c, 1 - c); the condition gets no gradient
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (cond, a, b) = (ctx.input(0), ctx.input(1), ctx.input(2));
        // selection, not multiplication: an inf gradient on the unpicked side stays out
        let mask = cond.ne_zero()?;
        let ga = if a.requires_grad() {
            Some(keep_where(&mask, g)?.sum_to(a.shape())?)
        } else {
            None
        };
        let gb = if b.requires_grad() {
            Some(keep_where(&mask.affine(-1.0, 1.0)?, g)?.sum_to(b.shape())?)
        } else {
            None
        };
        Ok(vec![None, ga, gb])
    }
}

struct MulAddOp;
impl BackwardOp for MulAddOp {
    fn name(&self) -> &'static str {
        "mul_add"
    }
    // d(a b + c) = (b, a, 1)
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (a, b, c) = (ctx.input(0), ctx.input(1), ctx.input(2));
        Ok(vec![
            if a.requires_grad() {
                Some(g.mul(b)?)
            } else {
                None
            },
            if b.requires_grad() {
                Some(g.mul(a)?)
            } else {
                None
            },
            if c.requires_grad() {
                Some(g.clone())
            } else {
                None
            },
        ])
    }
}

/// `a * b + c` (two roundings: Rust never contracts it into an FMA).
#[derive(Clone, Copy)]
struct MulAdd;
impl TernaryKernel for MulAdd {
    const NAME: &'static str = "mul_add";
    fn f<T: Element>(&self, a: T, b: T, c: T) -> T {
        a * b + c
    }
}

/// `a` where `cond` is non-zero (NaN included), else `b`: an exact selection, so the unselected
/// value never enters arithmetic and its inf/NaN stay out.
#[derive(Clone, Copy)]
struct Select;
impl TernaryKernel for Select {
    const NAME: &'static str = "where";
    fn f<T: Element>(&self, cond: T, a: T, b: T) -> T {
        if cond != T::zero() {
            a
        } else {
            b
        }
    }
}

macro_rules! comparison {
    ($name:ident, $label:literal, |$x:ident, $y:ident| $test:expr) => {
        /// 1 where the comparison holds, else 0 (0 when either side is NaN).
        #[derive(Clone, Copy)]
        struct $name;
        impl BinaryKernel for $name {
            const NAME: &'static str = $label;
            fn f<T: Element>(&self, $x: T, $y: T) -> T {
                if $test {
                    T::one()
                } else {
                    T::zero()
                }
            }
        }
    };
}

comparison!(Gt, "gt", |x, y| x > y);
comparison!(Lt, "lt", |x, y| x < y);
comparison!(Ge, "ge", |x, y| x >= y);
comparison!(Le, "le", |x, y| x <= y);
comparison!(EqElem, "eq", |x, y| x == y);

impl Tensor {
    /// `self + other`, broadcasting.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let b = Tensor::from_vec(vec![10.0f32, 20.0], &[2]).unwrap();
    /// assert_eq!(a.add(&b).unwrap().to_vec::<f32>().unwrap(), vec![11.0, 22.0, 13.0, 24.0]);
    /// ```
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Add)
    }

    /// `self - other`, broadcasting.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![5.0f64], &[1]).unwrap();
    /// assert_eq!(a.sub(&a).unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Sub)
    }

    /// `self * other` elementwise, broadcasting.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f64, 3.0], &[2]).unwrap();
    /// assert_eq!(a.mul(&a).unwrap().to_vec::<f64>().unwrap(), vec![4.0, 9.0]);
    /// ```
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Mul)
    }

    /// `self / other` elementwise, broadcasting.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 3.0], &[2]).unwrap();
    /// let b = Tensor::scalar(2.0f64);
    /// assert_eq!(a.div(&b).unwrap().to_vec::<f64>().unwrap(), vec![0.5, 1.5]);
    /// ```
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Div)
    }

    /// `self ^ other` elementwise, broadcasting.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f64, 3.0], &[2]).unwrap();
    /// let p = Tensor::scalar(2.0f64);
    /// assert_eq!(a.pow(&p).unwrap().to_vec::<f64>().unwrap(), vec![4.0, 9.0]);
    /// ```
    pub fn pow(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Pow)
    }

    /// Elementwise maximum (NaN propagates); ties split the gradient evenly.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 5.0], &[2]).unwrap();
    /// let b = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap();
    /// assert_eq!(a.maximum(&b).unwrap().to_vec::<f64>().unwrap(), vec![3.0, 5.0]);
    /// ```
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Maximum)
    }

    /// Elementwise minimum (NaN propagates); ties split the gradient evenly.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 5.0], &[2]).unwrap();
    /// let b = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap();
    /// assert_eq!(a.minimum(&b).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 4.0]);
    /// ```
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Minimum)
    }

    /// `self * b + c` in one pass over memory (all three broadcast).
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f32], &[1]).unwrap();
    /// assert_eq!(a.mul_add(&a, &a).unwrap().item().unwrap(), 6.0);
    /// ```
    pub fn mul_add(&self, b: &Tensor, c: &Tensor) -> Result<Tensor> {
        self.check_same("mul_add", b)?;
        self.check_same("mul_add", c)?;
        let contiguous_same = self.shape() == b.shape()
            && b.shape() == c.shape()
            && [self, b, c].iter().all(|t| t.is_contiguous());
        if !contiguous_same {
            return self.mul(b)?.add(c);
        }
        let out = on_storages([self, b, c], |[sx, sb, sc]| {
            sx.ternary(self.layout(), (sb, b.layout()), (sc, c.layout()), MulAdd)
        })?;
        Ok(Tensor::from_op_storage(
            out,
            self.shape(),
            MulAddOp,
            &[self, b, c],
        ))
    }

    /// Picks `a` where `cond` is non-zero and `b` elsewhere (all three broadcast); the condition
    /// gets no gradient. Named after `torch.where`.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let c = Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap();
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
    /// let b = Tensor::scalar(-1.0f64);
    /// assert_eq!(c.where_cond(&a, &b).unwrap().to_vec::<f64>().unwrap(), vec![1.0, -1.0]);
    /// ```
    pub fn where_cond(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        a.check_same("where", b)?;
        self.check_same("where", a)?;
        let shape = broadcast_shapes(
            "where",
            &broadcast_shapes("where", self.shape(), a.shape())?,
            b.shape(),
        )?;
        let [lc, la, lb] = [self, a, b].map(|t| t.layout().broadcast_to(&shape));
        let out = on_storages([self, a, b], |[sc, sa, sb]| {
            sc.ternary(&lc, (sa, &la), (sb, &lb), Select)
        })?;
        Ok(Tensor::from_op_storage(out, &shape, WhereOp, &[self, a, b]))
    }

    /// 1 where `self > other`, else 0 (a constant for autodiff).
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 3.0], &[2]).unwrap();
    /// assert_eq!(a.gt(&Tensor::scalar(2.0f32)).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 1.0]);
    /// ```
    pub fn gt(&self, other: &Tensor) -> Result<Tensor> {
        compare(self, other, Gt)
    }

    /// 1 where `self < other`, else 0.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 3.0], &[2]).unwrap();
    /// assert_eq!(a.lt(&Tensor::scalar(2.0f32)).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
    /// ```
    pub fn lt(&self, other: &Tensor) -> Result<Tensor> {
        compare(self, other, Lt)
    }

    /// 1 where `self >= other`, else 0.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f32, 3.0], &[2]).unwrap();
    /// assert_eq!(a.ge(&Tensor::scalar(3.0f32)).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 1.0]);
    /// ```
    pub fn ge(&self, other: &Tensor) -> Result<Tensor> {
        compare(self, other, Ge)
    }

    /// 1 where `self <= other`, else 0.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f32, 3.0], &[2]).unwrap();
    /// assert_eq!(a.le(&Tensor::scalar(2.0f32)).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
    /// ```
    pub fn le(&self, other: &Tensor) -> Result<Tensor> {
        compare(self, other, Le)
    }

    /// 1 where `self == other`, else 0.
    ///
    /// # Errors
    /// On shapes that do not broadcast or different dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f32, 3.0], &[2]).unwrap();
    /// assert_eq!(a.eq_elem(&Tensor::scalar(2.0f32)).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
    /// ```
    pub fn eq_elem(&self, other: &Tensor) -> Result<Tensor> {
        compare(self, other, EqElem)
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Result, Tensor};

    #[test]
    fn operands_that_share_one_buffer_are_read_through_one_lock() -> Result<()> {
        // x and its transpose view the same storage: one read lock serves both operands
        let x = Tensor::arange(0.0, 4.0, 1.0, DType::F64)?.reshape(&[2, 2])?;
        let xt = x.t()?;
        assert_eq!(x.add(&xt)?.to_vec::<f64>()?, vec![0.0, 3.0, 3.0, 6.0]);
        assert_eq!(
            x.mul_add(&x, &x)?.to_vec::<f64>()?,
            vec![0.0, 2.0, 6.0, 12.0]
        );
        assert_eq!(
            x.where_cond(&xt, &x.neg()?)?.to_vec::<f64>()?,
            vec![-0.0, 2.0, 1.0, 3.0]
        );
        Ok(())
    }
}
