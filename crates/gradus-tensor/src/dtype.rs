//! Element types a tensor can hold.

use crate::backend::{cpu::CpuStorage, BackendStorage as _};
use crate::precision::Half;
use std::fmt::Debug;

/// The element type of a tensor.
///
/// The 16-bit types (`torch.bfloat16`, `torch.float16`) are stored in 16 bits and computed in
/// f32, as PyTorch's CPU kernels do: each op widens its 16-bit operands to f32 (exactly), runs
/// the f32 kernel, so products accumulate and reductions, softmax, norms and losses run in f32,
/// and rounds its result once to the operand's type (round to nearest, ties to even). The
/// statistics an op keeps for its backward (layer norm's mean and inverse deviation, the
/// log-sum-exp of softmax cross-entropy and attention) stay f32, as PyTorch keeps them.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let t = Tensor::zeros(&[2, 3], DType::F32);
/// assert_eq!(t.dtype(), DType::F32);
/// assert_eq!(DType::F64.size_in_bytes(), 8);
/// assert_eq!(DType::BF16.size_in_bytes(), 2);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// 32-bit IEEE float: the training hot path.
    F32,
    /// 64-bit IEEE float: gradient checks and reference tests.
    F64,
    /// bfloat16: f32's 8 exponent bits and 7 mantissa bits, stored in 2 bytes, computed in f32.
    BF16,
    /// IEEE 754 binary16: 5 exponent bits and 10 mantissa bits, stored in 2 bytes, computed in
    /// f32.
    F16,
}

impl DType {
    /// Bytes per element.
    ///
    /// ```
    /// assert_eq!(gradus_tensor::DType::F32.size_in_bytes(), 4);
    /// ```
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
            DType::BF16 | DType::F16 => 2,
        }
    }

    /// The safetensors / NumPy style name (`"F32"`, `"F64"`, `"BF16"`, `"F16"`).
    ///
    /// ```
    /// assert_eq!(gradus_tensor::DType::F64.name(), "F64");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::BF16 => "BF16",
            DType::F16 => "F16",
        }
    }

    /// The 16-bit format of `BF16` and `F16`; `None` for the types kernels compute in.
    ///
    /// ```
    /// use gradus_tensor::{precision::Half, DType};
    /// assert_eq!(DType::BF16.half(), Some(Half::BF16));
    /// assert_eq!(DType::F32.half(), None);
    /// ```
    pub fn half(self) -> Option<Half> {
        match self {
            DType::BF16 => Some(Half::BF16),
            DType::F16 => Some(Half::F16),
            DType::F32 | DType::F64 => None,
        }
    }
}

impl From<Half> for DType {
    fn from(h: Half) -> DType {
        match h {
            Half::BF16 => DType::BF16,
            Half::F16 => DType::F16,
        }
    }
}

/// A Rust scalar type that tensors store: `f32`, `f64`, [`half::bf16`] or [`half::f16`].
///
/// Kernels are written once, generic over `Element`, and run on f32 and f64; 16-bit tensors reach
/// them widened to f32 (see [`DType`]).
///
/// ```
/// use gradus_tensor::Element;
/// assert_eq!(<f32 as Element>::from_f64(0.5), 0.5f32);
/// ```
pub trait Element:
    num_traits::Float + Send + Sync + Debug + Default + std::iter::Sum + 'static
{
    /// The matching [`DType`].
    const DTYPE: DType;
    /// Converts from f64 (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Converts to f64 (exact).
    fn to_f64(self) -> f64;
    /// The error function, for exact GELU.
    fn erf(self) -> Self;
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn cpu_slice(storage: &CpuStorage) -> &[Self];
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn cpu_slice_mut(storage: &mut CpuStorage) -> &mut [Self];
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn into_cpu(data: Vec<Self>) -> CpuStorage;
}

macro_rules! impl_element {
    ($t:ty, $variant:ident, $erf:path) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn erf(self) -> Self {
                $erf(self)
            }
            #[allow(private_interfaces)]
            fn cpu_slice(storage: &CpuStorage) -> &[Self] {
                match storage {
                    CpuStorage::$variant(v) => v,
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("dtype invariant broken: {:?}", storage),
                }
            }
            #[allow(private_interfaces)]
            fn cpu_slice_mut(storage: &mut CpuStorage) -> &mut [Self] {
                match storage {
                    CpuStorage::$variant(v) => v,
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("dtype invariant broken"),
                }
            }
            #[allow(private_interfaces)]
            fn into_cpu(data: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(data)
            }
        }
    };
}
impl_element!(f32, F32, libm::erff);
impl_element!(f64, F64, libm::erf);

macro_rules! impl_half_element {
    ($t:ty, $variant:ident, $from_f64:path) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn from_f64(x: f64) -> Self {
                // one rounding, not two through f32
                <$t>::from_bits($from_f64(x))
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            fn erf(self) -> Self {
                <$t>::from_f32(libm::erff(self.to_f32()))
            }
            #[allow(private_interfaces)]
            fn cpu_slice(storage: &CpuStorage) -> &[Self] {
                match storage {
                    CpuStorage::$variant(v) => v,
                    _ => unreachable!("dtype invariant broken: {:?}", storage.dtype()),
                }
            }
            #[allow(private_interfaces)]
            fn cpu_slice_mut(storage: &mut CpuStorage) -> &mut [Self] {
                match storage {
                    CpuStorage::$variant(v) => v,
                    _ => unreachable!("dtype invariant broken"),
                }
            }
            #[allow(private_interfaces)]
            fn into_cpu(data: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(data)
            }
        }
    };
}
impl_half_element!(
    half::bf16,
    BF16,
    crate::precision::convert::f64_to_bf16_bits
);
impl_half_element!(half::f16, F16, crate::precision::convert::f64_to_f16_bits);

/// Runs `$body` with the type alias `$T` bound to the Rust type of `$dtype`, one of the types
/// kernels compute in (f32, f64): the CPU backend widens 16-bit operands before any kernel runs
/// (`backend/cpu/half.rs`), so a 16-bit dtype here is a broken invariant.
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            d @ ($crate::DType::BF16 | $crate::DType::F16) => {
                unreachable!("{d:?} reaches kernels widened to f32")
            }
        }
    };
}
pub(crate) use with_dtype;

/// Runs `$body` with `$T` bound to the Rust type of any `$dtype`, 16-bit ones included: for code
/// that moves or converts elements without computing on them (fills, copies, casts, transfers).
macro_rules! with_any_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::DType::F16 => {
                type $T = half::f16;
                $body
            }
            d => $crate::dtype::with_dtype!(d, $T => $body),
        }
    };
}
pub(crate) use with_any_dtype;
