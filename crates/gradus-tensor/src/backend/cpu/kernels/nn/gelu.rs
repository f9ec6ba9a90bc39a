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
            for_row_blocks(y, (1, 1), |i, y| {
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
            for_row_blocks(dx, (1, 1), |i, dx| {
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

#[cfg(test)]
mod tests {
    use super::{Backward, FmaKernel, Forward};
    use std::mem::MaybeUninit;

    /// Both builds of the kernels, fused (CPUs with FMA) and unfused (x86-64 CPUs without it),
    /// against the f64 definition: `x Φ(x)` and `g (Φ(x) + x φ(x))`.
    #[test]
    fn fused_and_unfused_kernels_match_f64() {
        let x: Vec<f32> = (0..=2000).map(|i| -10.0 + i as f32 * 0.01).collect();
        let g: Vec<f32> = x.iter().map(|&v| 1.0 + 0.1 * v).collect();
        let phi = |v: f64| 0.5 * libm::erfc(-v / std::f64::consts::SQRT_2);
        let pdf = |v: f64| (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
        for fma in [false, true] {
            let mut y = vec![MaybeUninit::<f32>::uninit(); x.len()];
            let mut dx = vec![MaybeUninit::<f32>::uninit(); x.len()];
            let (fwd, bwd) = (
                Forward { x: &x, y: &mut y },
                Backward {
                    x: &x,
                    g: &g,
                    dx: &mut dx,
                },
            );
            if fma {
                fwd.run::<true>();
                bwd.run::<true>();
            } else {
                fwd.run::<false>();
                bwd.run::<false>();
            }
            for (i, &v) in x.iter().enumerate() {
                // SAFETY: the kernels wrote every element.
                let (y, dx) = unsafe { (y[i].assume_init(), dx[i].assume_init()) };
                let (v, gv) = (v as f64, g[i] as f64);
                let (want_y, want_dx) = (v * phi(v), gv * (phi(v) + v * pdf(v)));
                assert!(
                    (y as f64 - want_y).abs() <= 1e-6 * (want_y.abs() + 1e-30) + 1e-7 * v.abs(),
                    "gelu({v}) = {y}, want {want_y} (fused: {fma})"
                );
                assert!(
                    (dx as f64 - want_dx).abs() <= 2e-6 * want_dx.abs() + 1e-6,
                    "gelu'({v}) = {dx}, want {want_dx} (fused: {fma})"
                );
            }
        }
    }
}
