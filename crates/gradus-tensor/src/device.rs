//! Where a tensor's elements live.

/// The device that holds a tensor's storage and runs its ops.
///
/// Only the CPU exists today; a CUDA backend adds `Cuda(ordinal)`, which is why the enum is
/// non-exhaustive. Tensors on different devices never mix in one op: move one first.
///
/// ```
/// use gradus_tensor::{DType, Device, Tensor};
/// let t = Tensor::zeros(&[2], DType::F32);
/// assert_eq!(t.device(), Device::Cpu);
/// assert_eq!(Device::default(), Device::Cpu);
/// assert_eq!(Device::Cpu.to_string(), "cpu");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory; ops run on the CPU backend (`backend/cpu/`).
    #[default]
    Cpu,
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
        }
    }
}
