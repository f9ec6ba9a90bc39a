//! Epochs as lists of index batches, shuffled reproducibly.
//!
//! An epoch's order is a pure function of `(seed, epoch)`: a [`Pcg64`] is
//! seeded from both (through an injective mix, so distinct pairs give distinct
//! generators) and drives a Fisher-Yates shuffle written here, on top of the
//! generator's raw `u64` output only. No RNG state needs to be stored: a run
//! resumed at epoch `k` regenerates exactly the order it would have seen, and
//! the order does not change when `rand`'s own sampling algorithms do.

use rand::RngCore;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::DataError;

/// How many samples one gradient step sees.
///
/// ```
/// use gradus_data::BatchMode;
/// let mode = BatchMode::MiniBatch { size: 32, drop_last: false };
/// assert_eq!(mode.batches_per_epoch(100), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchMode {
    /// Full-batch gradient descent: one batch of every sample.
    Full,
    /// Stochastic gradient descent: batches of one sample.
    Stochastic,
    /// Mini-batches of `size`; `drop_last` drops a final smaller batch.
    MiniBatch {
        /// Samples per batch (at least 1).
        size: usize,
        /// Drop the last batch if it has fewer than `size` samples.
        drop_last: bool,
    },
}

impl BatchMode {
    /// Number of batches in an epoch over `n` samples.
    ///
    /// ```
    /// use gradus_data::BatchMode;
    /// assert_eq!(BatchMode::MiniBatch { size: 32, drop_last: true }.batches_per_epoch(100), 3);
    /// assert_eq!(BatchMode::Full.batches_per_epoch(100), 1);
    /// ```
    pub fn batches_per_epoch(self, n: usize) -> usize {
        match self {
            _ if n == 0 => 0,
            BatchMode::Full => 1,
            BatchMode::Stochastic => n,
            BatchMode::MiniBatch { size, drop_last } => {
                let size = size.max(1);
                if drop_last {
                    n / size
                } else {
                    n.div_ceil(size)
                }
            }
        }
    }

    /// Samples per batch (`n` for full batch).
    fn size(self, n: usize) -> usize {
        match self {
            BatchMode::Full => n.max(1),
            BatchMode::Stochastic => 1,
            // max(1): a deserialized size 0 must not make `chunks` panic.
            BatchMode::MiniBatch { size, .. } => size.max(1),
        }
    }
}

/// Makes each epoch's batches for a dataset of `n` samples.
///
/// ```
/// use gradus_data::{BatchMode, Batcher};
/// let batcher = Batcher::new(10, BatchMode::MiniBatch { size: 4, drop_last: false })?.shuffled(7);
/// let epoch3 = batcher.epoch(3);
/// assert_eq!(epoch3.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
/// assert_eq!(epoch3, batcher.epoch(3)); // same (seed, epoch), same order
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batcher {
    n: usize,
    mode: BatchMode,
    /// `None`: keep the natural order `0..n`.
    seed: Option<u64>,
    /// Merge a last batch of one sample into the batch before it.
    #[serde(default)]
    merge_single_last: bool,
}

impl Batcher {
    /// A batcher in natural order (no shuffling); a mini-batch size of 0 is an error.
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// let b = Batcher::new(3, BatchMode::Stochastic)?;
    /// assert_eq!(b.epoch(0), vec![vec![0], vec![1], vec![2]]);
    /// assert!(Batcher::new(3, BatchMode::MiniBatch { size: 0, drop_last: false }).is_err());
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn new(n: usize, mode: BatchMode) -> Result<Self, DataError> {
        if let BatchMode::MiniBatch { size: 0, .. } = mode {
            return Err(DataError::invalid("mini-batch size must be at least 1"));
        }
        Ok(Batcher {
            n,
            mode,
            seed: None,
            merge_single_last: false,
        })
    }

    /// Shuffles every epoch, deterministically from `(seed, epoch)`.
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// let b = Batcher::new(100, BatchMode::Full)?.shuffled(1);
    /// assert_ne!(b.epoch(0), b.epoch(1));
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Keeps the natural order `0..n` every epoch (the default).
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// let b = Batcher::new(3, BatchMode::Full)?.shuffled(1).sequential();
    /// assert_eq!(b.epoch(5), vec![vec![0, 1, 2]]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn sequential(mut self) -> Self {
        self.seed = None;
        self
    }

    /// Merges a last batch of a single sample into the batch before it, so that no step sees one
    /// sample alone (a batch-norm layer cannot normalize one sample in training mode). Batches of
    /// one sample that have no batch before them (stochastic mode, a data set of one sample) are
    /// left as they are: the caller must refuse those.
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// let b = Batcher::new(5, BatchMode::MiniBatch { size: 2, drop_last: false })?.merge_single_last();
    /// assert_eq!(b.epoch(0), vec![vec![0, 1], vec![2, 3, 4]]);
    /// assert_eq!(b.batches_per_epoch(), 2);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn merge_single_last(mut self) -> Self {
        self.merge_single_last = true;
        self
    }

    /// Number of batches per epoch.
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// assert_eq!(Batcher::new(5, BatchMode::Stochastic)?.batches_per_epoch(), 5);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn batches_per_epoch(&self) -> usize {
        let batches = self.mode.batches_per_epoch(self.n);
        let single_tail = match self.mode {
            BatchMode::MiniBatch {
                size,
                drop_last: false,
            } => size > 1 && self.n % size == 1,
            _ => false,
        };
        if self.merge_single_last && single_tail && batches > 1 {
            batches - 1
        } else {
            batches
        }
    }

    /// The batches of epoch `epoch`: every index of `0..n` exactly once (less the
    /// dropped tail with `drop_last`).
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// let b = Batcher::new(5, BatchMode::MiniBatch { size: 2, drop_last: true })?;
    /// assert_eq!(b.epoch(0), vec![vec![0, 1], vec![2, 3]]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn epoch(&self, epoch: u64) -> Vec<Vec<usize>> {
        let order = match self.seed {
            Some(seed) => permutation(self.n, seed, epoch),
            None => (0..self.n).collect(),
        };
        self.batches_of(&order)
    }

    /// Cuts a given order of the `n` indices into batches, as [`Batcher::epoch`] cuts its own
    /// (same sizes, `drop_last` and merging): for orders chosen elsewhere, such as a curriculum.
    ///
    /// ```
    /// use gradus_data::{BatchMode, Batcher};
    /// let b = Batcher::new(5, BatchMode::MiniBatch { size: 2, drop_last: true })?;
    /// assert_eq!(b.batches_of(&[4, 3, 2, 1, 0]), vec![vec![4, 3], vec![2, 1]]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn batches_of(&self, order: &[usize]) -> Vec<Vec<usize>> {
        let size = self.mode.size(self.n);
        let kept = self.batches_per_epoch();
        let mut batches: Vec<Vec<usize>> = order
            .chunks(size)
            .take(self.mode.batches_per_epoch(self.n))
            .map(<[usize]>::to_vec)
            .collect();
        if batches.len() > kept {
            // merge_single_last: the one-sample tail joins the batch before it
            if let Some(tail) = batches.pop() {
                if let Some(last) = batches.last_mut() {
                    last.extend(tail);
                }
            }
        }
        batches
    }
}

/// A permutation of `0..n` that depends only on `(seed, epoch)`.
///
/// ```
/// use gradus_data::batch::permutation;
/// let p = permutation(5, 42, 0);
/// let mut sorted = p.clone();
/// sorted.sort();
/// assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
/// assert_eq!(p, permutation(5, 42, 0));
/// ```
pub fn permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = rng_for(seed, epoch);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = below(&mut rng, i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// The PCG stream (increment) used for every generator; any fixed value works.
const STREAM: u128 = 0x6772_6164_7573_2d64_6174_612d_7368_7566;

/// A generator for `(seed, epoch)`: both go through SplitMix64 (a bijection on
/// `u64`) into the two halves of the 128-bit PCG state, so the map is injective.
fn rng_for(seed: u64, epoch: u64) -> Pcg64 {
    let state = (u128::from(splitmix64(seed)) << 64) | u128::from(splitmix64(epoch));
    Pcg64::new(state, STREAM)
}

/// SplitMix64's output function: a bijective 64-bit mixer.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An unbiased integer in `0..bound` (`bound >= 1`), by Lemire's multiply-and-reject.
fn below(rng: &mut Pcg64, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(bound);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}
