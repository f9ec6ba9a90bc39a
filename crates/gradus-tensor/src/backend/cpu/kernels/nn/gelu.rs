//! Exact GELU, `x Φ(x)`, and its derivative `Φ(x) + x φ(x)`, elementwise.

use super::{for_row_blocks, Level, SimdKernel, VecMath};

/// `x Φ(x)` per element.
pub(super) fn forward<T: VecMath>(x: &[T], level: Level) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    for_row_blocks(&mut y, 1, |i, y| {
        let x = &x[i..i + y.len()];
        level.run(Forward { x, y });
    });
    y
}

/// `g (Φ(x) + x φ(x))` per element.
pub(super) fn backward<T: VecMath>(x: &[T], g: &[T], level: Level) -> Vec<T> {
    let mut dx = vec![T::zero(); x.len()];
    for_row_blocks(&mut dx, 1, |i, dx| {
        let range = i..i + dx.len();
        level.run(Backward {
            x: &x[range.clone()],
            g: &g[range],
            dx,
        });
    });
    dx
}

struct Forward<'a, T> {
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: VecMath> SimdKernel for Forward<'_, T> {
    #[inline(always)]
    fn run(self) {
        for (y, &x) in self.y.iter_mut().zip(self.x) {
            *y = x * x.normal_cdf();
        }
    }
}

struct Backward<'a, T> {
    x: &'a [T],
    g: &'a [T],
    dx: &'a mut [T],
}

impl<T: VecMath> SimdKernel for Backward<'_, T> {
    #[inline(always)]
    fn run(self) {
        for ((dx, &x), &g) in self.dx.iter_mut().zip(self.x).zip(self.g) {
            *dx = g * (x.normal_cdf() + x * x.normal_pdf());
        }
    }
}
