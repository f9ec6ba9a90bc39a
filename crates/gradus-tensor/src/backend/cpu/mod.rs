//! The CPU backend: host `Vec`s, faer GEMM, rayon parallelism and SIMD compiled per instruction
//! level and chosen at run time. The only place in gradus that reads or writes tensor elements as
//! host slices.

mod fused;
mod half;
pub(crate) mod kernels;
mod logistic;
pub mod simd;
mod unary;
// one file per op family, in the order of the trait's sections
mod binary;
mod random;
mod reduce;

use self::half::half_dtype;
use super::BackendStorage;
use crate::layout::Layout;
use crate::{DType, Device, Element, Result};

/// Host buffers, one variant per element type (16-bit ones are computed in f32: `half.rs`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
    BF16(Vec<crate::precision::bf16>),
    F16(Vec<crate::precision::f16>),
}

impl CpuStorage {
    /// Wraps host data.
    pub(crate) fn from_vec<T: Element>(data: Vec<T>) -> CpuStorage {
        T::into_cpu(data)
    }

    /// The whole buffer as a slice (dtype must match).
    pub(crate) fn slice<T: Element>(&self) -> &[T] {
        T::cpu_slice(self)
    }

    /// The whole buffer as a mutable slice (dtype must match).
    pub(crate) fn slice_mut<T: Element>(&mut self) -> &mut [T] {
        T::cpu_slice_mut(self)
    }

    /// Runs `f` on the view's elements in row-major order: borrowed when contiguous, else gathered.
    pub(crate) fn with_view<T: Element, R>(&self, layout: &Layout, f: impl FnOnce(&[T]) -> R) -> R {
        let all = self.slice::<T>();
        if layout.is_contiguous() {
            f(&all[layout.offset..layout.offset + layout.numel()])
        } else {
            f(&kernels::elementwise::gather_strided(all, layout))
        }
    }
}

impl BackendStorage for CpuStorage {
    fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::F16(_) => DType::F16,
        }
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
        }
    }

    fn unary<K: crate::ops::unary::UnaryKernel>(&self, layout: &Layout, k: K) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            return Ok(self.widened().unary(layout, k)?.narrowed(d));
        }
        Ok(unary::unary(self, layout, k))
    }

    // ---- elementwise: binary, ternary, comparisons, casts ----------------------------------------

    fn binary<K: crate::ops::binary::BinaryKernel>(
        &self,
        layout: &Layout,
        rhs: &Self,
        rhs_layout: &Layout,
        k: K,
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, rhs]) {
            if self.dtype() != rhs.dtype() {
                return Err(binary::dtype_mismatch(K::NAME, self, rhs));
            }
            let (a, b) = (self.widened(), rhs.widened());
            return Ok(a.binary(layout, &b, rhs_layout, k)?.narrowed(d));
        }
        binary::binary(self, layout, rhs, rhs_layout, k)
    }

    fn ternary<K: crate::ops::binary::TernaryKernel>(
        &self,
        layout: &Layout,
        b: (&Self, &Layout),
        c: (&Self, &Layout),
        k: K,
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, b.0, c.0]) {
            for other in [b.0, c.0] {
                if self.dtype() != other.dtype() {
                    return Err(binary::dtype_mismatch(K::NAME, self, other));
                }
            }
            let (x, y, z) = (self.widened(), b.0.widened(), c.0.widened());
            return Ok(x.ternary(layout, (&y, b.1), (&z, c.1), k)?.narrowed(d));
        }
        binary::ternary(self, layout, b, c, k)
    }

    // ---- reductions ------------------------------------------------------------------------------

    fn reduce_sum(&self, layout: &Layout, axes: &[usize]) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            return Ok(self.widened().reduce_sum(layout, axes)?.narrowed(d));
        }
        Ok(reduce::sum(self, layout, axes))
    }

    fn reduce_max(&self, layout: &Layout, axis: usize) -> Result<(Self, Self)> {
        if let Some(d) = half_dtype(&[self]) {
            let (values, index) = self.widened().reduce_max(layout, axis)?;
            return Ok((values.narrowed(d), index));
        }
        Ok(reduce::max(self, layout, axis))
    }

    fn sum_squares_f64(&self, layout: &Layout) -> Result<Self> {
        Ok(reduce::sum_squares_f64(&self.widened(), layout))
    }

    fn squared_distance_f64(&self, layout: &Layout, other: (&Self, &Layout)) -> Result<Self> {
        let (a, b) = (self.widened(), other.0.widened());
        Ok(reduce::squared_distance_f64(&a, layout, &b, other.1))
    }

    // ---- random ----------------------------------------------------------------------------------

    fn from_samples(samples: Vec<f64>, dtype: DType) -> Result<Self> {
        Ok(random::from_samples(samples, dtype))
    }

    // ---- copies, shape and index ops -------------------------------------------------------------

    fn full(n: usize, value: f64, dtype: DType) -> Result<Self> {
        Ok(copy::full(n, value, dtype))
    }

    fn copy(&self, layout: &Layout) -> Result<Self> {
        Ok(copy::copy(self, layout))
    }

    fn cast(&self, layout: &Layout, dtype: DType) -> Result<Self> {
        Ok(copy::cast(self, layout, dtype))
    }

    fn pad_axis(&self, layout: &Layout, axis: usize, before: usize, after: usize) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            return Ok(self
                .widened()
                .pad_axis(layout, axis, before, after)?
                .narrowed(d));
        }
        Ok(copy::pad_axis(self, layout, axis, (before, after)))
    }

    fn concat(parts: &[(&Self, &Layout)], axis: usize) -> Result<Self> {
        let storages: Vec<&Self> = parts.iter().map(|p| p.0).collect();
        if let Some(d) = half_dtype(&storages) {
            let wide: Vec<_> = storages.iter().map(|s| s.widened()).collect();
            let parts: Vec<(&Self, &Layout)> =
                wide.iter().zip(parts).map(|(w, p)| (&**w, p.1)).collect();
            return Ok(copy::concat(&parts, axis).narrowed(d));
        }
        Ok(copy::concat(parts, axis))
    }

    fn narrow_add_assign(
        &mut self,
        dst_shape: &[usize],
        src: (&Self, &Layout),
        axis: usize,
        start: usize,
    ) -> Result<()> {
        let wide = src.0.widened();
        self.in_f32(|d| copy::narrow_add_assign(d, dst_shape, (&wide, src.1), axis, start));
        Ok(())
    }

    fn copy_into(&mut self, layout: &Layout, src: (&Self, &Layout)) -> Result<()> {
        if self.dtype() != src.0.dtype() {
            // a copy between dtypes converts (rounding once to a 16-bit destination)
            let converted = src.0.cast(src.1, self.dtype())?;
            let contiguous = Layout::contiguous(src.1.shape());
            copy::copy_into(self, layout, (&converted, &contiguous));
            return Ok(());
        }
        copy::copy_into(self, layout, src);
        Ok(())
    }

    fn index_select(
        &self,
        layout: &Layout,
        axis: usize,
        indices: (&Self, &Layout),
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            let wide = self.widened();
            return Ok(index::index_select(&wide, layout, axis, indices)?.narrowed(d));
        }
        index::index_select(self, layout, axis, indices)
    }

    fn index_add(
        &self,
        layout: &Layout,
        axis: usize,
        indices: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, src.0]) {
            let (wide, src_wide) = (self.widened(), src.0.widened());
            let out = index::index_add(&wide, layout, axis, indices, (&src_wide, src.1))?;
            return Ok(out.narrowed(d));
        }
        index::index_add(self, layout, axis, indices, src)
    }

    fn gather(&self, layout: &Layout, axis: usize, index: (&Self, &Layout)) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            let wide = self.widened();
            return Ok(index::gather(&wide, layout, axis, index)?.narrowed(d));
        }
        index::gather(self, layout, axis, index)
    }

    fn scatter_add(
        &self,
        layout: &Layout,
        axis: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, src.0]) {
            let (wide, src_wide) = (self.widened(), src.0.widened());
            let out = index::scatter_add(&wide, layout, axis, index, (&src_wide, src.1))?;
            return Ok(out.narrowed(d));
        }
        index::scatter_add(self, layout, axis, index, src)
    }

    fn one_hot(&self, layout: &Layout, num_classes: usize, dtype: DType) -> Result<Self> {
        index::one_hot((self, layout), num_classes, dtype)
    }

    // ---- matmul, convolution, pooling, recurrent cells, linear algebra --------------------------

    fn matmul(&self, layout: &Layout, rhs: (&Self, &Layout)) -> Result<Self> {
        // 16 bits: a product of two bf16 (or f16) values is exact in f32, so the f32 GEMM on the
        // widened operands accumulates exactly the products the format's dot instructions would
        if let Some(d) = half_dtype(&[self, rhs.0]) {
            let (a, b) = (self.widened(), rhs.0.widened());
            return Ok(matmul::matmul(&a, layout, (&b, rhs.1)).narrowed(d));
        }
        Ok(matmul::matmul(self, layout, rhs))
    }

    fn im2col(&self, layout: &Layout, window: &crate::ops::conv::Window, pad: f64) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            return Ok(conv::im2col(&self.widened(), layout, window, pad).narrowed(d));
        }
        Ok(conv::im2col(self, layout, window, pad))
    }

    fn col2im(&self, layout: &Layout, window: &crate::ops::conv::Window) -> Result<Self> {
        if let Some(d) = half_dtype(&[self]) {
            return Ok(conv::col2im(&self.widened(), layout, window).narrowed(d));
        }
        Ok(conv::col2im(self, layout, window))
    }

    fn conv2d_direct(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, weight.0]) {
            let (a, b) = (self.widened(), weight.0.widened());
            return Ok(conv::conv2d_direct(&a, layout, (&b, weight.1), window).narrowed(d));
        }
        Ok(conv::conv2d_direct(self, layout, weight, window))
    }

    fn conv2d_weight_grad(
        &self,
        layout: &Layout,
        grad: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, grad.0]) {
            let (a, b) = (self.widened(), grad.0.widened());
            return Ok(conv::conv2d_weight_grad(&a, layout, (&b, grad.1), window).narrowed(d));
        }
        Ok(conv::conv2d_weight_grad(self, layout, grad, window))
    }

    fn conv2d_input_grad(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, weight.0]) {
            let (a, b) = (self.widened(), weight.0.widened());
            return Ok(conv::conv2d_input_grad(&a, layout, (&b, weight.1), window).narrowed(d));
        }
        Ok(conv::conv2d_input_grad(self, layout, weight, window))
    }

    fn max_pool2d(
        &self,
        layout: &Layout,
        window: &crate::ops::conv::Window,
    ) -> Result<(Self, Self)> {
        if let Some(d) = half_dtype(&[self]) {
            let (values, index) = conv::max_pool2d(&self.widened(), layout, window);
            return Ok((values.narrowed(d), index));
        }
        Ok(conv::max_pool2d(self, layout, window))
    }

    fn lstm_sequence(
        &self,
        xw: &Layout,
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 3]> {
        if let Some(d) = half_dtype(&[self, rest[0].0, rest[1].0, rest[2].0]) {
            // the output is rounded; what the backward keeps (gates, states) stays f32
            let wide = rest.map(|(s, l)| (s.widened(), l));
            let rest = [0, 1, 2].map(|i| (&*wide[i].0, wide[i].1));
            let [out, a, b] = recurrent::lstm::forward(dims, (&self.widened(), xw), rest);
            return Ok([out.narrowed(d), a, b]);
        }
        Ok(recurrent::lstm::forward(dims, (self, xw), rest))
    }

    fn lstm_sequence_backward(
        &self,
        g_layout: &Layout,
        out: (&Self, &Layout),
        saved: [&Self; 2],
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 4]> {
        if let Some(d) = half_dtype(&[self, out.0, rest[0].0, rest[1].0, rest[2].0]) {
            let wide = rest.map(|(s, l)| (s.widened(), l));
            let rest = [0, 1, 2].map(|i| (&*wide[i].0, wide[i].1));
            let (g, o) = (self.widened(), out.0.widened());
            let (s0, s1) = (saved[0].widened(), saved[1].widened());
            let grads =
                recurrent::lstm::backward(dims, (&g, g_layout), (&o, out.1), [&s0, &s1], rest);
            return Ok(grads.map(|g| g.narrowed(d)));
        }
        Ok(recurrent::lstm::backward(
            dims,
            (self, g_layout),
            out,
            saved,
            rest,
        ))
    }

    fn gru_sequence(
        &self,
        xw: &Layout,
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 3]> {
        if let Some(d) = half_dtype(&[self, rest[0].0, rest[1].0, rest[2].0]) {
            // the output is rounded; what the backward keeps (gates, states) stays f32
            let wide = rest.map(|(s, l)| (s.widened(), l));
            let rest = [0, 1, 2].map(|i| (&*wide[i].0, wide[i].1));
            let [out, a, b] = recurrent::gru::forward(dims, (&self.widened(), xw), rest);
            return Ok([out.narrowed(d), a, b]);
        }
        Ok(recurrent::gru::forward(dims, (self, xw), rest))
    }

    fn gru_sequence_backward(
        &self,
        g_layout: &Layout,
        out: (&Self, &Layout),
        saved: [&Self; 2],
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 4]> {
        if let Some(d) = half_dtype(&[self, out.0, rest[0].0, rest[1].0, rest[2].0]) {
            let wide = rest.map(|(s, l)| (s.widened(), l));
            let rest = [0, 1, 2].map(|i| (&*wide[i].0, wide[i].1));
            let (g, o) = (self.widened(), out.0.widened());
            let (s0, s1) = (saved[0].widened(), saved[1].widened());
            let grads =
                recurrent::gru::backward(dims, (&g, g_layout), (&o, out.1), [&s0, &s1], rest);
            return Ok(grads.map(|g| g.narrowed(d)));
        }
        Ok(recurrent::gru::backward(
            dims,
            (self, g_layout),
            out,
            saved,
            rest,
        ))
    }

    fn linalg_solve(&self, layout: &Layout, b: (&Self, &Layout)) -> Result<Self> {
        if let Some(d) = half_dtype(&[self, b.0]) {
            let (a, w) = (self.widened(), b.0.widened());
            return Ok(linalg::linalg_solve(&a, layout, (&w, b.1))?.narrowed(d));
        }
        linalg::linalg_solve(self, layout, b)
    }

    fn linalg_qr(&self, layout: &Layout) -> Result<(Self, Self)> {
        if let Some(d) = half_dtype(&[self]) {
            let (q, r) = linalg::linalg_qr(&self.widened(), layout)?;
            return Ok((q.narrowed(d), r.narrowed(d)));
        }
        linalg::linalg_qr(self, layout)
    }

    fn nn_kernel(
        kernel: &crate::ops::nn::NnKernel,
        inputs: &[(&Self, &Layout)],
    ) -> Result<Vec<Self>> {
        let storages: Vec<&Self> = inputs.iter().map(|i| i.0).collect();
        if let Some(d) = half_dtype(&storages) {
            let wide: Vec<_> = storages.iter().map(|s| s.widened()).collect();
            let inputs: Vec<(&Self, &Layout)> =
                wide.iter().zip(inputs).map(|(w, i)| (&**w, i.1)).collect();
            let outputs = kernels::nn::run(kernel, &inputs)?;
            return Ok(outputs
                .into_iter()
                .enumerate()
                .map(|(i, o)| match kernel.keeps_f32(i) {
                    true => o,
                    false => o.narrowed(d),
                })
                .collect());
        }
        kernels::nn::run(kernel, inputs)
    }

    // ---- optimizer rules -------------------------------------------------------------------------

    fn fused_update<R: crate::fused::ElementRule<K>, const K: usize>(
        &mut self,
        target: crate::fused::FusedTarget,
        dst: (usize, usize),
        src: Option<(&Self, usize)>,
        mut state: ([&mut Self; K], [usize; K]),
        rule: &R,
    ) -> Result<()> {
        // the written bf16 operand rounds stochastically inside `precision::stochastic`'s scope
        let stream = match self.dtype() {
            DType::BF16 => crate::precision::stochastic::next_stream(),
            _ => None,
        };
        // 16-bit operands (none f64): the rule runs in f32 on blocks widened in cache
        let reborrowed = (state.0.each_mut().map(|s| &mut **s), state.1);
        if let Some(done) = fused::fused_update_16(self, target, dst, src, reborrowed, rule, stream)
        {
            return done;
        }
        // 16-bit operands with f64 ones: the rule runs on f32 copies, and what it wrote is
        // rounded back
        let src_wide = src.map(|(s, offset)| (s.widened(), offset));
        let src = src_wide.as_ref().map(|(s, offset)| (&**s, *offset));
        let (mut slots, starts) = state;
        let dtypes = slots.each_ref().map(|s| s.dtype());
        for s in slots.iter_mut().filter(|s| s.dtype().half().is_some()) {
            **s = s.widened().into_owned();
        }
        let mut run = |d: &mut CpuStorage| {
            let slots = slots.each_mut().map(|s| &mut **s);
            fused::fused_update(d, target, dst, src, (slots, starts), rule)
        };
        let result = match stream {
            Some(stream) => {
                let mut wide = self.widened().into_owned();
                let result = run(&mut wide);
                *self = wide.narrowed_stochastic(stream);
                result
            }
            None => self.in_f32(run),
        };
        for (s, d) in slots.iter_mut().zip(dtypes) {
            if d.half().is_some() {
                let wide = std::mem::replace(&mut **s, CpuStorage::F32(Vec::new()));
                **s = wide.narrowed(d);
            }
        }
        result
    }

    // ---- host transfers --------------------------------------------------------------------------

    fn from_host_vec<T: Element>(data: Vec<T>) -> Result<Self> {
        Ok(CpuStorage::from_vec(data))
    }

    fn to_host_vec<T: Element>(&self, layout: &Layout) -> Result<Vec<T>> {
        Ok(self.view::<T>(layout).into_owned())
    }

    fn to_host_vec_f64(&self, layout: &Layout) -> Result<Vec<f64>> {
        Ok(host::to_vec_f64(self, layout))
    }

    fn with_host_slice<T: Element, R>(
        &self,
        layout: &Layout,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R> {
        Ok(f(&self.view::<T>(layout)))
    }

    fn with_host_slice_mut<T: Element, R>(
        &mut self,
        layout: &Layout,
        f: impl FnOnce(&mut [T]) -> R,
    ) -> Result<R> {
        host::with_slice_mut(self, layout, f)
    }
}

// ---- copies, shape and index; matmul, convolution, recurrent cells, linalg; host transfers ------
mod conv;
mod copy;
mod host;
mod index;
mod linalg;
mod matmul;
mod recurrent;
