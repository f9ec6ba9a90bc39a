//! Exact GELU, `x Φ(x)`, and its derivative `Φ(x) + x φ(x)`, elementwise, with fused
//! multiply-adds where the CPU has them ([`FmaKernel`]).

use super::{for_row_blocks, FmaKernel, Level, VecMath};
use crate::backend::cpu::kernels::filled;
use std::mem::MaybeUninit;

/// `x Φ(x)` per element.
pub(super) fn forward<T: VecMath>(x: &[T], level: Level) -> Vec<T> {
    // SAFETY: the row blocks cover `y`, and the kernel writes each of their elements.
    unsafe {
        filled(x.len(), |y| {
            for_row_blocks(y, 1, |i, y| {
                let x = &x[i..i + y.len()];
                level.run_fma(Forward { x, y });
            })
        })
    }
}

/// `g (Φ(x) + x φ(x))` per element.
pub(super) fn backward<T: VecMath>(x: &[T], g: &[T], level: Level) -> Vec<T> {
    // SAFETY: the row blocks cover `dx`, and the kernel writes each of their elements.
    unsafe {
        filled(x.len(), |dx| {
            for_row_blocks(dx, 1, |i, dx| {
                let range = i..i + dx.len();
                level.run_fma(Backward {
                    x: &x[range.clone()],
                    g: &g[range],
                    dx,
                });
            })
        })
    }
}

struct Forward<'a, T> {
    x: &'a [T],
    y: &'a mut [MaybeUninit<T>],
}

impl<T: VecMath> FmaKernel for Forward<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        for (y, &x) in self.y.iter_mut().zip(self.x) {
            y.write(x * x.normal_cdf_with::<FMA>());
        }
    }
}

struct Backward<'a, T> {
    x: &'a [T],
    g: &'a [T],
    dx: &'a mut [MaybeUninit<T>],
}

impl<T: VecMath> FmaKernel for Backward<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        for ((dx, &x), &g) in self.dx.iter_mut().zip(self.x).zip(self.g) {
            let d = x.mad::<FMA>(x.normal_pdf_with::<FMA>(), x.normal_cdf_with::<FMA>());
            dx.write(g * d);
        }
    }
}
