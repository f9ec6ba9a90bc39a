//! # gradus-optim: optimizers, schedules and gradient transforms
//!
//! A guided tour:
//! - **The abstraction** ([`GradientTransformation`], `transform.rs`): optax's design. A
//!   transformation makes a [`State`] from the parameters (`init`) and turns gradients into
//!   updates (`update`); updates are *added* to the parameters. [`Chain`] composes them. Every
//!   optimizer is a transformation that includes its learning rate, so the common case is one
//!   object: `Adam::new(1e-3)`.
//! - **Why this Rust shape**: the transformation is an immutable config (`&self`), and its state
//!   is a separate [`State`] (per-parameter [`Buffer`]s, each a tensor of the parameter's shape
//!   in the state's declared dtype, a step counter, named scalars, inner states). Keeping state
//!   out of the transformation makes checkpoints simple (`State` derives serde and round-trips
//!   exactly), lets one config serve many parameter groups, and lets chains own nested states
//!   without lifetimes or `dyn Any`.
//! - **State dtype**: by default a buffer has its parameter's dtype;
//!   [`GradientTransformation::state_dtype`] declares another (optax's `mu_dtype`), e.g.
//!   `Adam::new(1e-3).state_dtype(DType::F64)` keeps f64 moments for f32 parameters.
//! - **The hot path**: besides `update`, a transformation has `apply`, which steps the parameters
//!   in place. Each optimizer writes its per-element rule once, as a type implementing
//!   [`gradus_tensor::fused::ElementRule`] (a name and a lane function generic over the element
//!   type, reading like the paper), and hands it to [`gradus_tensor::fused::fused_update`]: the
//!   backend holding the parameter runs it in one pass per parameter buffer (on the CPU: SIMD,
//!   rayon chunks for big buffers; Adam reads `p, g, m, v` and writes `p, m, v`: 28 bytes per f32
//!   parameter). `update` runs the same rule writing the update instead; unit tests check the
//!   fused path against a tensor-op reference implementation. Optimizers never touch host
//!   slices; L-BFGS and Newton are tensor algebra too (flat tensors, dot products as reductions,
//!   the Hessian system one `linalg_solve`) and read with `item()` only the scalars their
//!   decisions need, as PyTorch's LBFGS does.
//! - **Learning rates** are a [`Schedule`]: a constant (`0.1.into()`) or a pure function of the
//!   step (torch's `StepLR`, `CosineAnnealingLR`, `OneCycleLR`, `SequentialLR`...);
//!   [`ReduceOnPlateau`] is the one metric-driven, stateful exception and feeds a
//!   [`Schedule::Shared`] rate.
//! - **Optimizers** (`optim/`, one file each): PyTorch's [`Sgd`], [`Adagrad`], [`RmsProp`],
//!   [`Adadelta`], [`Adam`], [`AdamW`], [`Adamax`], [`NAdam`], [`RAdam`], [`Rprop`]; optax's
//!   [`Lion`], [`Lamb`], [`Lars`], [`AdaBelief`], [`Yogi`]; wrappers [`Lookahead`] and [`Sam`];
//!   closure-based second-order [`Lbfgs`] (strong Wolfe or torch's fixed step) and [`Newton`].
//!   [`Sam`] and [`Lbfgs`] hold `Param` handles as [`Optimizer`] does. Curvature from layer
//!   statistics ([`gradus_tensor::capture`]): [`Kfac`] (Martens & Grosse 2015, Linear and
//!   Conv2d) and the exact [`NaturalGradient`] (damped empirical Fisher, conjugate gradient).
//! - **Learned optimizer** ([`learned`]): [`LearnedOptimizer`], a per-coordinate MLP on gradient
//!   features meta-trained by truncated backpropagation through unrolls (Metz et al. 2020).
//! - **Transforms** (`transforms/`): [`ClipByGlobalNorm`], [`ClipByValue`], [`AdaptiveClip`],
//!   [`Centralize`], [`L1Penalty`], [`L2Penalty`], [`DecoupledWeightDecay`], [`Accumulate`],
//!   [`GradientNoise`], and [`ParamEma`] (Polyak averaging of parameters for evaluation).
//! - **Mixed precision**: [`GradScaler`], PyTorch's dynamic loss scaling for f16.
//! - **Parameter groups**: [`Optimizer`] holds groups, each with its own transformation, of the
//!   same `Param` handles the model holds ([`ParamGroup`]: frozen parameters are skipped, cast
//!   ones get their state cast).
//!
//! AdamW with a cosine schedule and global-norm clipping, two groups (no decay on biases), and a
//! checkpoint of the state:
//! ```
//! use gradus_optim::{AdamW, Chain, ClipByGlobalNorm, Optimizer, Schedule, State};
//! use gradus_tensor::Tensor;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let w = Tensor::from_vec(vec![0.5f32, -0.3, 0.8], &[3])?.requires_grad_(true);
//! let b = Tensor::from_vec(vec![0.1f32], &[1])?.requires_grad_(true);
//! let lr = Schedule::cosine(1e-2, 100, 0.0)?;
//! let mut opt = Optimizer::new(
//!     Chain::new().then(ClipByGlobalNorm::new(1.0)).then(AdamW::new(lr.clone()).weight_decay(0.05)),
//!     &[w.clone()],
//! )?;
//! opt.add_group(Chain::new().then(ClipByGlobalNorm::new(1.0)).then(AdamW::new(lr).weight_decay(0.0)), &[b.clone()])?;
//! for _ in 0..10 {
//!     opt.zero_grad();
//!     w.mul(&w)?.sum_all()?.add(&b.mul(&b)?.sum_all()?)?.backward()?;
//!     opt.step()?;
//! }
//! let saved: String = serde_json::to_string(&opt.state_dict())?;
//! let restored: Vec<State> = serde_json::from_str(&saved)?;
//! opt.load_state_dict(restored)?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
mod grad_scaler;
mod group;
mod kernel;
pub mod learned;
mod optim;
mod plateau;
mod schedule;
mod state;
mod transform;
mod transforms;

pub use error::{OptimError, ParamRef, Result};
pub use grad_scaler::GradScaler;
pub use group::ParamGroup;
pub use learned::{LearnedOptimizer, LearnedOptimizerNet};
pub use optim::{
    AdaBelief, Adadelta, Adagrad, Adam, AdamW, Adamax, Kfac, Lamb, Lars, Lbfgs, LbfgsState,
    LineSearchFn, Lion, Lookahead, NAdam, NaturalGradient, Newton, RAdam, RmsProp, Rprop, Sam, Sgd,
    Yogi,
};
pub use optim::{SparseAdam, SparseGrad};
pub use plateau::{PlateauMode, ReduceOnPlateau, SharedLr, ThresholdMode};
pub use schedule::{Anneal, OneCycle, Schedule};
pub use state::{Buffer, Data, State};
pub use transform::{apply_updates, chain, Chain, GradientTransformation, Optimizer};
pub use transforms::{
    clip_grad_norm, Accumulate, AdaptiveClip, Centralize, ClipByGlobalNorm, ClipByValue,
    DecoupledWeightDecay, GradientNoise, L1Penalty, L2Penalty, ParamEma, StateDtype,
};
