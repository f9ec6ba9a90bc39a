//! # gradus-dist: training across processes
//!
//! - [`Communicator`]: the collectives (all-reduce, all-gather, broadcast, barrier), over one
//!   process ([`SingleProcess`]), threads ([`LocalGroup`]) or MPI (`mpi::MpiCommunicator`, with
//!   the `mpi` feature: rsmpi over Open MPI). [`ReduceOrder::Fixed`] sums in rank order, so
//!   every rank gets the same bits, for a ring all-reduce's bytes (reduce-scatter, all-gather).
//!   Gradients travel in their dtype ([`WireDtype`]: f32 for an all-f32 model).
//! - [`bucket`]: gradients averaged in buckets of `bucket_cap_mb`, in reverse layer order, as
//!   PyTorch DDP does ([`GradientReducer`]); parameters flattened, broadcast and checked equal
//!   across ranks. After the all-reduce a bucket's gradients are views of one flat buffer
//!   (DDP's `gradient_as_bucket_view`).
//! - [`overlapped`]: the bucket all-reduces started from a gradient-ready hook on the backward
//!   pass, overlapped with the rest of it ([`Communicator::all_reduce_overlapped`]: non-blocking
//!   over MPI, with a timeout that ends the job when a rank dies or hangs).
//! - [`fedavg`]: federated averaging (McMahan et al. 2017) with IID, shard and Dirichlet
//!   partitions, client sampling, weighted averaging and FedProx's proximal term.
//!
//! gradus-train's `parallel` module uses these to train one model data parallel.
#![warn(missing_docs)]

pub mod bucket;
pub mod communicator;
mod error;
pub mod fedavg;
pub mod grad_buffer;
pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod overlap;
pub mod overlapped;

pub use bucket::GradientReducer;
pub use communicator::{Communicator, ReduceOrder, SingleProcess, WireDtype};
pub use error::{DistError, Result};
pub use local::LocalGroup;
#[cfg(feature = "mpi")]
pub use mpi::MpiCommunicator;
pub use overlap::BucketLauncher;
