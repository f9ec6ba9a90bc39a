//! [`LocalGroup`]: ranks as threads of one process, for tests of data parallelism without MPI and
//! for federated clients run in turn on one machine. Collectives meet at a barrier; a rank that
//! panics leaves the others waiting, so use it where a panic ends the process (tests).

use crate::communicator::{check_all_to_all, check_gather, sum_in_rank_order, Communicator};
use crate::error::{DistError, Result};
use std::sync::{Arc, Barrier, Mutex};

struct Shared {
    barrier: Barrier,
    /// One deposit per rank for the collective under way.
    slots: Mutex<Vec<Vec<f64>>>,
}

/// One rank of a group of threads. Make the group with [`LocalGroup::new`] and move each member
/// into its own thread.
///
/// ```
/// use gradus_dist::{Communicator, LocalGroup};
/// let sums: Vec<Vec<f64>> = std::thread::scope(|s| {
///     let handles: Vec<_> = LocalGroup::new(3)
///         .into_iter()
///         .map(|c| s.spawn(move || {
///             let mut v = vec![c.rank() as f64, 1.0];
///             c.all_reduce_sum(&mut v).unwrap();
///             v
///         }))
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert!(sums.iter().all(|v| v == &vec![3.0, 3.0]));
/// ```
pub struct LocalGroup {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

impl LocalGroup {
    /// `size` communicators (ranks `0..size`) of one group.
    ///
    /// # Panics
    /// If `size` is 0.
    pub fn new(size: usize) -> Vec<LocalGroup> {
        assert!(size > 0, "a group needs at least one rank");
        let shared = Arc::new(Shared {
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
        });
        (0..size)
            .map(|rank| LocalGroup {
                rank,
                size,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Runs `f` on every rank of a new group of `size`, each rank on a thread of its own, and
    /// returns the results by rank.
    ///
    /// # Panics
    /// If `size` is 0, or when `f` panics on a rank (the others may then wait forever: see the
    /// module docs).
    ///
    /// ```
    /// use gradus_dist::{Communicator, LocalGroup};
    /// let sums = LocalGroup::run(3, |c| {
    ///     let mut v = vec![c.rank() as f64, 1.0];
    ///     c.all_reduce_sum(&mut v).unwrap();
    ///     v
    /// });
    /// assert!(sums.iter().all(|v| v == &vec![3.0, 3.0]));
    /// ```
    pub fn run<T: Send>(size: usize, f: impl Fn(LocalGroup) -> T + Sync) -> Vec<T> {
        std::thread::scope(|s| {
            let handles: Vec<_> = LocalGroup::new(size)
                .into_iter()
                .map(|c| {
                    let f = &f;
                    s.spawn(move || f(c))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a rank panicked"))
                .collect()
        })
    }

    /// Deposits `values`, waits for every rank, runs `read` on all deposits, waits again (so no
    /// rank overwrites a slot another is still reading).
    fn exchange<T>(&self, values: &[f64], read: impl FnOnce(&[Vec<f64>]) -> T) -> Result<T> {
        self.slots()?[self.rank] = values.to_vec();
        self.shared.barrier.wait();
        let out = read(&self.slots()?);
        self.shared.barrier.wait();
        Ok(out)
    }

    fn slots(&self) -> Result<std::sync::MutexGuard<'_, Vec<Vec<f64>>>> {
        self.shared
            .slots
            .lock()
            .map_err(|_| DistError::Transport("a rank of the thread group panicked".into()))
    }

    fn check_lengths(op: &'static str, slots: &[Vec<f64>]) -> Result<()> {
        let expected = slots[0].len();
        match slots.iter().position(|s| s.len() != expected) {
            Some(rank) => Err(DistError::LengthMismatch {
                op,
                rank,
                got: slots[rank].len(),
                expected,
            }),
            None => Ok(()),
        }
    }
}

impl Communicator for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_reduce_sum(&self, buf: &mut [f64]) -> Result<()> {
        let mine = buf.to_vec();
        self.exchange(&mine, |slots| {
            Self::check_lengths("all_reduce_sum", slots)?;
            let all: Vec<f64> = slots.concat();
            sum_in_rank_order(&all, buf);
            Ok(())
        })?
    }
    fn all_gather(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        check_gather(send.len(), recv.len(), self.size)?;
        self.exchange(send, |slots| {
            Self::check_lengths("all_gather", slots)?;
            recv.copy_from_slice(&slots.concat());
            Ok(())
        })?
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        let mine: Vec<f64> = buf.iter().map(|&v| f64::from(v)).collect();
        self.exchange(&mine, |slots| {
            Self::check_lengths("all_reduce_sum", slots)?;
            // f32 additions in rank order, as MPI_SUM on MPI_FLOAT adds
            for (i, o) in buf.iter_mut().enumerate() {
                *o = slots[0][i] as f32;
                for s in &slots[1..] {
                    *o += s[i] as f32;
                }
            }
            Ok(())
        })?
    }
    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        check_gather(send.len(), recv.len(), self.size)?;
        let mine: Vec<f64> = send.iter().map(|&v| f64::from(v)).collect();
        self.exchange(&mine, |slots| {
            Self::check_lengths("all_gather", slots)?;
            for (o, &v) in recv.iter_mut().zip(slots.iter().flatten()) {
                *o = v as f32; // f32 values held exactly in f64
            }
            Ok(())
        })?
    }
    fn all_to_all(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        check_all_to_all(send.len(), recv.len(), self.size)?;
        self.exchange(send, |slots| {
            Self::check_lengths("all_to_all", slots)?;
            let c = send.len() / self.size;
            for (k, s) in slots.iter().enumerate() {
                recv[k * c..(k + 1) * c].copy_from_slice(&s[self.rank * c..(self.rank + 1) * c]);
            }
            Ok(())
        })?
    }
    fn all_to_all_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        let wide: Vec<f64> = send.iter().map(|&v| f64::from(v)).collect();
        let mut got = vec![0.0; recv.len()];
        self.all_to_all(&wide, &mut got)?;
        for (o, v) in recv.iter_mut().zip(got) {
            *o = v as f32;
        }
        Ok(())
    }
    fn broadcast(&self, buf: &mut [f64], root: usize) -> Result<()> {
        if root >= self.size {
            return Err(DistError::Invalid(format!(
                "broadcast: root {root} is not a rank of a group of {}",
                self.size
            )));
        }
        let mine = buf.to_vec();
        self.exchange(&mine, |slots| {
            Self::check_lengths("broadcast", slots)?;
            buf.copy_from_slice(&slots[root]);
            Ok(())
        })?
    }
    fn barrier(&self) -> Result<()> {
        self.shared.barrier.wait();
        Ok(())
    }
    fn transport(&self) -> &'static str {
        "threads"
    }
}
