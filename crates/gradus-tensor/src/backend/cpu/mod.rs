//! The CPU backend: host `Vec`s, faer GEMM, rayon parallelism and SIMD compiled per instruction
//! level and chosen at run time. The only place in gradus that reads or writes tensor elements as
//! host slices.

mod fused;
pub(crate) mod kernels;
mod logistic;
pub mod simd;
mod unary;
// one file per op family, in the order of the trait's sections
mod binary;
mod random;
mod reduce;

use super::BackendStorage;
use crate::layout::Layout;
use crate::{DType, Device, Element, Result};

/// Host buffers, one variant per element type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
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
        }
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }

    fn unary<K: crate::ops::unary::UnaryKernel>(&self, layout: &Layout, k: K) -> Result<Self> {
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
        binary::binary(self, layout, rhs, rhs_layout, k)
    }

    fn ternary<K: crate::ops::binary::TernaryKernel>(
        &self,
        layout: &Layout,
        b: (&Self, &Layout),
        c: (&Self, &Layout),
        k: K,
    ) -> Result<Self> {
        binary::ternary(self, layout, b, c, k)
    }

    // ---- reductions ------------------------------------------------------------------------------

    fn reduce_sum(&self, layout: &Layout, axes: &[usize]) -> Result<Self> {
        Ok(reduce::sum(self, layout, axes))
    }

    fn reduce_max(&self, layout: &Layout, axis: usize) -> Result<(Self, Self)> {
        Ok(reduce::max(self, layout, axis))
    }

    fn sum_squares_f64(&self, layout: &Layout) -> Result<Self> {
        Ok(reduce::sum_squares_f64(self, layout))
    }

    fn squared_distance_f64(&self, layout: &Layout, other: (&Self, &Layout)) -> Result<Self> {
        Ok(reduce::squared_distance_f64(self, layout, other.0, other.1))
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
        Ok(copy::pad_axis(self, layout, axis, (before, after)))
    }

    fn concat(parts: &[(&Self, &Layout)], axis: usize) -> Result<Self> {
        Ok(copy::concat(parts, axis))
    }

    fn narrow_add_assign(
        &mut self,
        dst_shape: &[usize],
        src: (&Self, &Layout),
        axis: usize,
        start: usize,
    ) -> Result<()> {
        copy::narrow_add_assign(self, dst_shape, src, axis, start);
        Ok(())
    }

    fn copy_into(&mut self, layout: &Layout, src: (&Self, &Layout)) -> Result<()> {
        copy::copy_into(self, layout, src);
        Ok(())
    }

    fn index_select(
        &self,
        layout: &Layout,
        axis: usize,
        indices: (&Self, &Layout),
    ) -> Result<Self> {
        index::index_select(self, layout, axis, indices)
    }

    fn index_add(
        &self,
        layout: &Layout,
        axis: usize,
        indices: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> Result<Self> {
        index::index_add(self, layout, axis, indices, src)
    }

    fn gather(&self, layout: &Layout, axis: usize, index: (&Self, &Layout)) -> Result<Self> {
        index::gather(self, layout, axis, index)
    }

    fn scatter_add(
        &self,
        layout: &Layout,
        axis: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> Result<Self> {
        index::scatter_add(self, layout, axis, index, src)
    }

    fn one_hot(&self, layout: &Layout, num_classes: usize, dtype: DType) -> Result<Self> {
        index::one_hot((self, layout), num_classes, dtype)
    }

    // ---- matmul, convolution, pooling, recurrent cells, linear algebra --------------------------

    fn matmul(&self, layout: &Layout, rhs: (&Self, &Layout)) -> Result<Self> {
        Ok(matmul::matmul(self, layout, rhs))
    }

    fn im2col(&self, layout: &Layout, window: &crate::ops::conv::Window, pad: f64) -> Result<Self> {
        Ok(conv::im2col(self, layout, window, pad))
    }

    fn col2im(&self, layout: &Layout, window: &crate::ops::conv::Window) -> Result<Self> {
        Ok(conv::col2im(self, layout, window))
    }

    fn conv2d_direct(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self> {
        Ok(conv::conv2d_direct(self, layout, weight, window))
    }

    fn conv2d_weight_grad(
        &self,
        layout: &Layout,
        grad: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self> {
        Ok(conv::conv2d_weight_grad(self, layout, grad, window))
    }

    fn conv2d_input_grad(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self> {
        Ok(conv::conv2d_input_grad(self, layout, weight, window))
    }

    fn max_pool2d(
        &self,
        layout: &Layout,
        window: &crate::ops::conv::Window,
    ) -> Result<(Self, Self)> {
        Ok(conv::max_pool2d(self, layout, window))
    }

    fn lstm_sequence(
        &self,
        xw: &Layout,
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 3]> {
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
        Ok(recurrent::gru::backward(
            dims,
            (self, g_layout),
            out,
            saved,
            rest,
        ))
    }

    fn linalg_solve(&self, layout: &Layout, b: (&Self, &Layout)) -> Result<Self> {
        linalg::linalg_solve(self, layout, b)
    }

    fn linalg_qr(&self, layout: &Layout) -> Result<(Self, Self)> {
        linalg::linalg_qr(self, layout)
    }

    fn nn_kernel(
        kernel: &crate::ops::nn::NnKernel,
        inputs: &[(&Self, &Layout)],
    ) -> Result<Vec<Self>> {
        kernels::nn::run(kernel, inputs)
    }

    // ---- optimizer rules -------------------------------------------------------------------------

    fn fused_update<R: crate::fused::ElementRule<K>, const K: usize>(
        &mut self,
        target: crate::fused::FusedTarget,
        dst: (usize, usize),
        src: Option<(&Self, usize)>,
        state: ([&mut Self; K], [usize; K]),
        rule: &R,
    ) -> Result<()> {
        fused::fused_update(self, target, dst, src, state, rule)
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
