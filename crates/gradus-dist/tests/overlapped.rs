//! The all-reduce overlapped with backward against the one after it: the same gradients, bit
//! for bit, whatever the buckets, the rank count and the parameters no gradient reaches; and the
//! launcher's rules (buckets in order, started buffers not lent, every bucket run even when the
//! work fails).

use gradus_dist::{Communicator, DistError, GradientReducer, LocalGroup, ReduceOrder, WireDtype};
use gradus_nn::Param;
use gradus_tensor::{DType, Result, Tensor};

/// A two-layer network's parameters (`w1` also used by the last layer, tied), one no loss
/// uses (`unused`, in the first bucket the reducer cuts when `unused_last`), and one only rank
/// 0's loss uses (`rank0`).
fn params(unused_last: bool) -> Vec<(String, Param)> {
    let p = |shape: &[usize], seed| Param::new(Tensor::randn(shape, DType::F64, seed));
    let mut named = vec![
        ("w1".to_string(), p(&[3, 3], 1)),
        ("b1".to_string(), p(&[3], 2)),
        ("rank0".to_string(), p(&[3], 3)),
        ("w2".to_string(), p(&[3, 3], 4)),
        ("b2".to_string(), p(&[3], 5)),
    ];
    let unused = ("unused".to_string(), p(&[2], 6));
    if unused_last {
        named.push(unused);
    } else {
        named.insert(0, unused);
    }
    named
}

fn loss(named: &[(String, Param)], rank: usize) -> Result<Tensor> {
    let get = |n: &str| named.iter().find(|(k, _)| k == n).unwrap().1.tensor();
    let x = Tensor::randn(&[4, 3], DType::F64, 10 + rank as u64);
    let mut h = x.matmul(&get("w1"))?.add(&get("b1"))?.tanh()?;
    if rank == 0 {
        h = h.mul(&get("rank0"))?;
    }
    let h = h
        .matmul(&get("w2"))?
        .add(&get("b2"))?
        .tanh()?
        .matmul(&get("w1"))?;
    h.mul(&h)?.mean_all()
}

/// Every rank's gradients (and bytes sent) after the mean all-reduce, overlapped or after.
fn reduced(
    ranks: usize,
    cap_mb: f64,
    unused_last: bool,
    overlap: bool,
) -> Vec<Vec<Option<Vec<f64>>>> {
    LocalGroup::run(ranks, |c| {
        let named = params(unused_last);
        let reducer = GradientReducer::new(cap_mb, ReduceOrder::Fixed).unwrap();
        let weight = c.rank() as f64 + 1.0;
        let total = (1..=ranks).sum::<usize>() as f64;
        let root = loss(&named, c.rank()).unwrap();
        if overlap {
            let sums = reducer
                .backward_all_reduce_sum(&c, &named, weight, &root)
                .unwrap();
            sums.backward().clone().unwrap();
            sums.write_mean(&named, total).unwrap();
        } else {
            root.backward().unwrap();
            reducer.all_reduce_mean(&c, &named, weight, total).unwrap();
        }
        named
            .iter()
            .map(|(_, p)| p.tensor().grad().map(|g| g.to_vec_f64()))
            .collect()
    })
}

#[test]
fn overlapped_and_after_backward_reductions_give_the_same_gradients() {
    // caps: one bucket per parameter (1e-6 MB), a few parameters per bucket, one bucket
    for ranks in [1, 2, 3] {
        for cap in [1e-6, 1.5e-4, 25.0] {
            for unused_last in [false, true] {
                let after = reduced(ranks, cap, unused_last, false);
                let overlapped = reduced(ranks, cap, unused_last, true);
                assert_eq!(after, overlapped, "{ranks} ranks, cap {cap}, {unused_last}");
                let unused = if unused_last { 5 } else { 0 };
                assert!(overlapped.iter().all(|g| g[unused].is_none()));
                assert!(overlapped.iter().all(|g| g == &overlapped[0]));
            }
        }
    }
}

#[test]
fn the_launcher_starts_buckets_in_order_and_runs_them_all_when_the_work_fails() {
    let out = LocalGroup::run(2, |c| {
        let mut buckets = vec![vec![0.0; 2], vec![0.0; 1]];
        let r = c.rank() as f64;
        let result =
            c.all_reduce_overlapped(&mut buckets, ReduceOrder::Fixed, WireDtype::F64, &mut |l| {
                assert_eq!((l.buckets(), l.started()), (2, 0));
                l.buffer(1)?[0] = r + 1.0;
                l.buffer(0)?.copy_from_slice(&[r, 10.0 * r]);
                l.start_next()?;
                assert_eq!(l.started(), 1);
                let err = l.buffer(0).unwrap_err().to_string();
                assert!(err.contains("already started"), "{err}");
                assert!(l
                    .buffer(2)
                    .unwrap_err()
                    .to_string()
                    .contains("no such bucket"));
                if c.rank() == 1 {
                    return Err(DistError::Invalid("rank 1's backward failed".into()));
                }
                l.start_next()?;
                assert!(l.start_next().is_err(), "every bucket has started");
                Ok(())
            });
        (buckets, result.is_err())
    });
    // rank 1's work failed after starting bucket 0: bucket 1 still ran, on both ranks
    for (buckets, _) in &out {
        assert_eq!(buckets, &vec![vec![1.0, 10.0], vec![3.0]]);
    }
    assert_eq!(
        out.iter().map(|o| o.1).collect::<Vec<_>>(),
        vec![false, true]
    );
}
