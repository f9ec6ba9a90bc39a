//! Element types a tensor can hold.

use crate::backend::cpu::CpuStorage;
use std::fmt::Debug;

/// The element type of a tensor.
///
/// Only floating-point types carry gradients; `BF16`/`F16` storage (with f32 compute) is planned
/// for mixed precision, which is why this enum is non-exhaustive.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let t = Tensor::zeros(&[2, 3], DType::F32);
/// assert_eq!(t.dtype(), DType::F32);
/// assert_eq!(DType::F64.size_in_bytes(), 8);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// 32-bit IEEE float: the training hot path.
    F32,
    /// 64-bit IEEE float: gradient checks and reference tests.
    F64,
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
        }
    }

    /// The safetensors / NumPy style name (`"F32"`, `"F64"`).
    ///
    /// ```
    /// assert_eq!(gradus_tensor::DType::F64.name(), "F64");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F64 => "F64",
        }
    }
}

/// A Rust scalar type that tensors store: `f32` or `f64`.
///
/// Kernels are written once, generic over `Element`.
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

/// Runs `$body` with the type alias `$T` bound to the Rust type of `$dtype`.
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
        }
    };
}
pub(crate) use with_dtype;
