//! The flat gradient buffer: after the bucketed all-reduce (overlapped with backward or after
//! it) the gradients of a bucket are views of one buffer, in bucket order, holding exactly the
//! means a per-tensor write gives: `(rank-order sum of the ranks' weighted gradients) / total`,
//! rounded once to the parameter's dtype.

use gradus_dist::bucket::plan_buckets;
use gradus_dist::{Communicator, GradientReducer, LocalGroup, ReduceOrder, WireDtype};
use gradus_nn::Param;
use gradus_tensor::{DType, Result, Tensor};

/// Parameters in `dtypes` (one after another, cycling): `w1` [4, 3], `b1` [3], `unused` [2]
/// (no loss reaches it), `w2` [3, 2], `b2` [2]; `w1` is also used by the last layer (tied).
fn params(dtypes: &[DType]) -> Vec<(String, Param)> {
    let shapes: [(&str, &[usize]); 5] = [
        ("w1", &[4, 3]),
        ("b1", &[3]),
        ("unused", &[2]),
        ("w2", &[3, 2]),
        ("b2", &[2]),
    ];
    shapes
        .iter()
        .enumerate()
        .map(|(k, (name, shape))| {
            let t = Tensor::randn(shape, dtypes[k % dtypes.len()], 20 + k as u64);
            (name.to_string(), Param::new(t))
        })
        .collect()
}

/// Rank `rank`'s loss: a two-layer tanh network on its own inputs, the output fed back
/// through `w1` (tied).
fn loss(named: &[(String, Param)], rank: usize) -> Result<Tensor> {
    let get = |n: &str| {
        let t = named.iter().find(|(k, _)| k == n).unwrap().1.tensor();
        t.to_dtype(DType::F64)
    };
    let x = Tensor::randn(&[5, 4], DType::F64, 100 + rank as u64);
    let h = x.matmul(&get("w1")?)?.add(&get("b1")?)?.tanh()?;
    let y = h.matmul(&get("w2")?)?.add(&get("b2")?)?.tanh()?;
    let back = y.matmul(&get("w2")?.t()?)?.matmul(&get("w1")?.t()?)?;
    back.mul(&back)?.mean_all()
}

/// After every rank's reduction: each parameter's gradient (none where absent) with the
/// address of its first value and its dtype.
type Grads = Vec<Option<(Vec<f64>, usize, DType)>>;

fn reduce(ranks: usize, dtypes: &[DType], cap_mb: f64, overlap: bool) -> Vec<Grads> {
    LocalGroup::run(ranks, |c| {
        let named = params(dtypes);
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
            .map(|(_, p)| {
                p.tensor().grad().map(|g| {
                    let address = match g.dtype() {
                        DType::F32 => g.with_data(|v: &[f32]| v.as_ptr() as usize),
                        _ => g.with_data(|v: &[f64]| v.as_ptr() as usize),
                    };
                    (g.to_vec_f64(), address.unwrap(), g.dtype())
                })
            })
            .collect()
    })
}

/// What a per-tensor write of the means gives: every rank's gradient times its weight, sent
/// as `wire`, added in rank order in f64 and rounded once to `wire`, divided by the total in
/// f64 and rounded to the parameter's dtype.
fn per_tensor_means(ranks: usize, dtypes: &[DType], wire: WireDtype) -> Vec<Option<Vec<f64>>> {
    let on_wire = |v: f64| match wire {
        WireDtype::F32 => f64::from(v as f32),
        WireDtype::F64 => v,
    };
    let own: Vec<Vec<Option<Vec<f64>>>> = (0..ranks)
        .map(|r| {
            let named = params(dtypes);
            loss(&named, r).unwrap().backward().unwrap();
            named
                .iter()
                .map(|(_, p)| {
                    let g = p.tensor().grad()?.to_vec_f64();
                    Some(g.iter().map(|v| on_wire(v * (r as f64 + 1.0))).collect())
                })
                .collect()
        })
        .collect();
    let total = (1..=ranks).sum::<usize>() as f64;
    (0..own[0].len())
        .map(|p| {
            let first = own[0][p].as_ref()?;
            let dtype = dtypes[p % dtypes.len()];
            let means = (0..first.len())
                .map(|i| {
                    let sum = (1..ranks).fold(first[i], |s, r| s + own[r][p].as_ref().unwrap()[i]);
                    on_wire(sum) / total
                })
                .collect::<Vec<f64>>();
            let t = Tensor::from_vec(means, &[first.len()]).unwrap();
            Some(t.to_dtype(dtype).unwrap().to_vec_f64())
        })
        .collect()
}

#[test]
fn a_buckets_gradients_are_views_of_one_buffer_in_bucket_order() {
    // one bucket for everything (25 MB), and buckets of one to three parameters (60 bytes)
    for dtypes in [
        vec![DType::F32],
        vec![DType::F64],
        vec![DType::F32, DType::F64],
    ] {
        let numels = [12, 3, 2, 6, 2];
        let wire = WireDtype::for_dtypes(dtypes.iter().cycle().take(5).copied());
        for cap in [25.0, 6e-5] {
            for overlap in [false, true] {
                for grads in reduce(2, &dtypes, cap, overlap) {
                    assert!(grads[2].is_none(), "no loss reaches `unused`");
                    for bucket in plan_buckets(&numels, (cap * 1e6) as usize, wire) {
                        // per dtype: each present gradient starts where the one before it in
                        // the bucket ends
                        for dtype in &dtypes {
                            let mut end: Option<usize> = None;
                            for &i in &bucket {
                                let Some((values, address, d)) = &grads[i] else {
                                    continue;
                                };
                                if d != dtype {
                                    continue;
                                }
                                if let Some(end) = end {
                                    assert_eq!(*address, end, "{dtypes:?} cap {cap} param {i}");
                                }
                                end = Some(address + values.len() * d.size_in_bytes());
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn bucket_views_hold_the_per_tensor_means_bit_for_bit() {
    for dtypes in [
        vec![DType::F32],
        vec![DType::F64],
        vec![DType::F32, DType::F64],
    ] {
        let wire = WireDtype::for_dtypes(dtypes.iter().cycle().take(5).copied());
        for ranks in [1, 2, 3] {
            let expected = per_tensor_means(ranks, &dtypes, wire);
            for cap in [25.0, 6e-5] {
                for overlap in [false, true] {
                    for grads in reduce(ranks, &dtypes, cap, overlap) {
                        for (p, (g, e)) in grads.iter().zip(&expected).enumerate() {
                            let g = g.as_ref().map(|(v, _, d)| {
                                assert_eq!(*d, dtypes[p % dtypes.len()]);
                                v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>()
                            });
                            let e = e
                                .as_ref()
                                .map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>());
                            assert_eq!(g, e, "{dtypes:?}, {ranks} ranks, cap {cap}, param {p}");
                        }
                    }
                }
            }
        }
    }
}
