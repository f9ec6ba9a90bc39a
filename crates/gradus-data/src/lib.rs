//! # gradus-data: the data layer of gradus
//!
//! Reads datasets from files and prepares them for training, as plain Rust
//! buffers (`Vec<f32>` features, `Vec<u32>` labels): no tensor type here. The
//! trainer turns each [`Batch`] into tensors.
//!
//! ## A guided tour
//!
//! 1. **A dataset** ([`dataset`]): [`Dataset`] holds `n` samples of one
//!    feature shape (`[4]` for tabular data, `[1, 28, 28]` for images) as one
//!    row-major `Vec<f32>`, plus [`Targets`] ([`targets`]): class labels or
//!    regression values. [`Dataset::batch`] gathers samples into contiguous
//!    buffers.
//! 2. **Readers**, each naming file, line and column in its errors
//!    ([`DataError`]):
//!    - [`csv`]: CSV with a header, target and feature columns by name;
//!    - [`idx`] and [`mnist`]: IDX files (gzipped or not), MNIST and
//!      Fashion-MNIST;
//!    - [`libsvm`]: sparse `label index:value` files, as a
//!      [`sparse::CsrMatrix`];
//!    - [`text`]: character vocabularies and next-token windows for
//!      character-level language models;
//!    - [`utf8`]: the decoding all text readers share (byte-order mark
//!      dropped, invalid UTF-8 located).
//! 3. **Validation** ([`split`]): a reproducible random holdout, or a separate
//!    file.
//! 4. **Scaling** ([`scale`]): a [`Standardizer`] fitted on training data only,
//!    serializable to be stored with the model.
//! 5. **Batching** ([`batch`]): a [`Batcher`] turns full-batch, stochastic or
//!    mini-batch mode into each epoch's index batches, shuffled as a pure
//!    function of `(seed, epoch)` so that a resumed run needs no stored RNG state.
//! 6. **Augmentation** ([`augment`]): random shifts, rotations, zooms and flips of
//!    images ([`Augment`]), each sample's drawn from `(seed, epoch, index)`.
//!
//! ```
//! use gradus_data::csv::{read_csv, CsvOptions, TargetKind};
//! use gradus_data::{split_dataset, BatchMode, Batcher, Standardizer, Validation};
//!
//! let data = read_csv("../../data/sklearn/iris.csv", &CsvOptions::new("target", TargetKind::Class))?;
//! let (mut train, val) = split_dataset(data, Validation::Holdout { fraction: 0.2, seed: 42 })?;
//! let mut val = val.unwrap();
//! let scaler = Standardizer::fit(&train)?; // training part only
//! scaler.transform(&mut train)?;
//! scaler.transform(&mut val)?;
//!
//! let batcher = Batcher::new(train.len(), BatchMode::MiniBatch { size: 16, drop_last: false })?
//!     .shuffled(42);
//! for epoch in 0..2 {
//!     for indices in batcher.epoch(epoch) {
//!         let batch = train.batch(&indices);
//!         assert_eq!(batch.x_shape, vec![indices.len(), 4]);
//!         // trainer: tensor from (batch.x, batch.x_shape), loss against batch.y
//!     }
//! }
//! assert_eq!((train.len(), val.len()), (120, 30));
//! # Ok::<(), gradus_data::DataError>(())
//! ```
#![warn(missing_docs)]

pub mod augment;
pub mod batch;
pub mod csv;
mod csv_lines;
pub mod dataset;
pub mod error;
mod gather;
pub mod idx;
pub mod libsvm;
pub mod mnist;
pub mod scale;
pub mod sparse;
pub mod split;
pub mod targets;
pub mod text;
pub mod utf8;

pub use augment::{Augment, AugmentParams};
pub use batch::{BatchMode, Batcher};
pub use dataset::{Batch, Dataset};
pub use error::DataError;
pub use scale::Standardizer;
pub use split::{split_dataset, train_val_split, Validation};
pub use targets::{TargetKind, Targets, MAX_CLASSES};
