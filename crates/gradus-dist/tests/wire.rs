//! Gradients on the wire in their own dtype, and the fixed-order sum as a reduce-scatter
//! (all-to-all) then an all-gather: the rank-order sum's bits on every rank and in every run,
//! whatever the rank count and bucket length; f32 models within f32 precision of one process.

use gradus_dist::bucket::plan_buckets;
use gradus_dist::{Communicator, GradientReducer, LocalGroup, ReduceOrder, WireDtype};
use gradus_nn::Param;
use gradus_tensor::{DType, Tensor};

/// Rank `r`'s value `i`: magnitudes far apart, so that the sum's bits depend on its order.
fn value(r: usize, i: usize) -> f64 {
    let scale = [1e16, 1.0, -1e16, 3.0][r % 4];
    scale * (1.0 + i as f64 / 7.0) + (r * 31 + i) as f64 * 0.1
}

#[test]
fn fixed_sums_are_the_rank_order_sum_for_any_rank_count_and_length() {
    for ranks in 1..=4 {
        // lengths below, at and off multiples of the rank count, and an empty bucket
        for len in [0, 1, 2, 5, 7, 8, 13] {
            for wire in [WireDtype::F64, WireDtype::F32] {
                let out = LocalGroup::run(ranks, |c| {
                    let mut v: Vec<f64> = (0..len).map(|i| value(c.rank(), i)).collect();
                    c.reduce_sum_wire(&mut v, ReduceOrder::Fixed, wire).unwrap();
                    v
                });
                let expected: Vec<f64> = (0..len)
                    .map(|i| {
                        if ranks == 1 {
                            return value(0, i); // one rank: left as it is
                        }
                        let w = |r| match wire {
                            WireDtype::F32 => f64::from(value(r, i) as f32),
                            WireDtype::F64 => value(r, i),
                        };
                        let s = (1..ranks).fold(w(0), |s, r| s + w(r));
                        match wire {
                            WireDtype::F32 => f64::from(s as f32), // rounded once
                            WireDtype::F64 => s,
                        }
                    })
                    .collect();
                for v in &out {
                    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(v), bits(&expected), "{ranks} ranks, {len}, {wire:?}");
                }
            }
        }
    }
}

#[test]
fn transport_order_f32_sums_add_in_f32() {
    let out = LocalGroup::run(3, |c| {
        // 2^24 + 1 + 1: f32 additions lose both ones, an f64 sum keeps them
        let mut v = vec![[16_777_216.0, 1.0, 1.0][c.rank()], c.rank() as f64];
        c.reduce_sum_wire(&mut v, ReduceOrder::Transport, WireDtype::F32)
            .unwrap();
        v
    });
    for v in out {
        assert_eq!(v, vec![16_777_216.0, 3.0]);
    }
}

#[test]
fn all_to_all_hands_rank_r_chunk_r_of_every_rank() {
    let out = LocalGroup::run(3, |c| {
        let r = c.rank() as f64;
        let send: Vec<f64> = (0..6).map(|i| 10.0 * r + i as f64).collect();
        let mut recv = vec![0.0; 6];
        c.all_to_all(&send, &mut recv).unwrap();
        let send32: Vec<f32> = send.iter().map(|&v| v as f32).collect();
        let mut recv32 = vec![0.0f32; 6];
        c.all_to_all_f32(&send32, &mut recv32).unwrap();
        let bad = c.all_to_all(&send[..5], &mut recv[..5]).unwrap_err();
        (recv, recv32, bad.to_string())
    });
    for (r, (recv, recv32, bad)) in out.into_iter().enumerate() {
        let want: Vec<f64> = (0..3)
            .flat_map(|k| {
                [
                    10.0 * k as f64 + 2.0 * r as f64,
                    10.0 * k as f64 + 2.0 * r as f64 + 1.0,
                ]
            })
            .collect();
        assert_eq!(recv, want);
        assert_eq!(
            recv32.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            want
        );
        assert!(bad.contains("multiple of 3"), "{bad}");
    }
}

#[test]
fn bucket_caps_count_wire_bytes() {
    // 4 parameters of 9 values (+ 1 presence each): 40 bytes each in f32, 80 in f64
    let numels = [9, 9, 9, 9];
    assert_eq!(plan_buckets(&numels, 80, WireDtype::F32).len(), 2);
    assert_eq!(plan_buckets(&numels, 80, WireDtype::F64).len(), 4);
}

/// Features and targets of the 12-sample regression the model fits.
fn sample(i: usize) -> ([f32; 3], f32) {
    let x = [
        (i as f32 * 0.37).sin(),
        (i as f32 * 0.91).cos(),
        i as f32 / 12.0 - 0.5,
    ];
    (x, x[0] - 2.0 * x[1] + 0.5 * x[2] + 0.1)
}

/// A linear model in `dtype` (`w` [3, 1], `b` [1]).
fn model(dtype: DType) -> Vec<(String, Param)> {
    let w = Tensor::randn(&[3, 1], dtype, 7);
    let b = Tensor::randn(&[1], dtype, 8);
    vec![("w".into(), Param::new(w)), ("b".into(), Param::new(b))]
}

/// The mean squared error over `samples`.
fn loss(named: &[(String, Param)], samples: &[usize], dtype: DType) -> Tensor {
    let x: Vec<f32> = samples.iter().flat_map(|&i| sample(i).0).collect();
    let y: Vec<f32> = samples.iter().map(|&i| sample(i).1).collect();
    let x = Tensor::from_vec(x, &[samples.len(), 3])
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let y = Tensor::from_vec(y, &[samples.len(), 1])
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let e = x
        .matmul(&named[0].1.tensor())
        .unwrap()
        .add(&named[1].1.tensor())
        .unwrap()
        .sub(&y)
        .unwrap();
    e.mul(&e).unwrap().mean_all().unwrap()
}

/// Every rank's mean gradients of the 12-sample batch (rank r's shard: r, r + N, ...), the
/// bytes all-reduced and the wire dtype.
fn ddp_grads(
    ranks: usize,
    dtype: DType,
    order: ReduceOrder,
    overlap: bool,
) -> Vec<(Vec<Vec<f64>>, usize, WireDtype)> {
    LocalGroup::run(ranks, |c| {
        let named = model(dtype);
        let shard: Vec<usize> = (c.rank()..12).step_by(ranks).collect();
        let root = loss(&named, &shard, dtype);
        let reducer = GradientReducer::new(25.0, order).unwrap();
        let weight = shard.len() as f64;
        let (bytes, wire) = if overlap {
            let sums = reducer
                .backward_all_reduce_sum(&c, &named, weight, &root)
                .unwrap();
            sums.backward().clone().unwrap();
            sums.write_mean(&named, 12.0).unwrap();
            (sums.bytes(), sums.wire())
        } else {
            root.backward().unwrap();
            let sent = reducer.all_reduce_mean(&c, &named, weight, 12.0).unwrap();
            (sent, WireDtype::for_params(&named))
        };
        let grads = named
            .iter()
            .map(|(_, p)| {
                let g = p.tensor().grad().unwrap();
                assert_eq!(g.dtype(), dtype);
                g.to_vec_f64()
            })
            .collect();
        (grads, bytes, wire)
    })
}

#[test]
fn an_f32_model_travels_as_f32_and_matches_one_process_within_f32_precision() {
    let one = model(DType::F32);
    let all: Vec<usize> = (0..12).collect();
    loss(&one, &all, DType::F32).backward().unwrap();
    let reference: Vec<Vec<f64>> = one
        .iter()
        .map(|(_, p)| p.tensor().grad().unwrap().to_vec_f64())
        .collect();
    for ranks in [2, 3] {
        for order in [ReduceOrder::Fixed, ReduceOrder::Transport] {
            for overlap in [false, true] {
                let out = ddp_grads(ranks, DType::F32, order, overlap);
                for (grads, bytes, wire) in &out {
                    assert_eq!(*wire, WireDtype::F32);
                    // 3 + 1 values and a presence value per parameter, 4 bytes each
                    assert_eq!(*bytes, 4 * (4 + 2));
                    for (g, r) in grads.iter().flatten().zip(reference.iter().flatten()) {
                        assert!(
                            (g - r).abs() <= 1e-5 * (1.0 + r.abs()),
                            "{ranks} ranks, {order:?}, overlap {overlap}: {g} against {r}"
                        );
                    }
                }
                if order == ReduceOrder::Fixed {
                    // the same bits on every rank, and in a second run
                    let again = ddp_grads(ranks, DType::F32, order, overlap);
                    for (o, a) in out.iter().zip(&again) {
                        assert_eq!(bits(&o.0), bits(&out[0].0));
                        assert_eq!(bits(&o.0), bits(&a.0));
                    }
                }
            }
        }
    }
}

fn bits(g: &[Vec<f64>]) -> Vec<Vec<u64>> {
    g.iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn an_f64_model_still_travels_as_f64_with_the_rank_order_sum() {
    for ranks in [2, 3] {
        let out = ddp_grads(ranks, DType::F64, ReduceOrder::Fixed, true);
        // the rank-order f64 sum of the ranks' weighted gradients, as before f32 wires
        let shards: Vec<Vec<Vec<f64>>> = (0..ranks)
            .map(|r| {
                let named = model(DType::F64);
                let shard: Vec<usize> = (r..12).step_by(ranks).collect();
                loss(&named, &shard, DType::F64).backward().unwrap();
                named
                    .iter()
                    .map(|(_, p)| {
                        let g = p.tensor().grad().unwrap().to_vec_f64();
                        g.iter().map(|v| v * shard.len() as f64).collect()
                    })
                    .collect()
            })
            .collect();
        let expected: Vec<Vec<f64>> = (0..2)
            .map(|p| {
                (0..shards[0][p].len())
                    .map(|i| (1..ranks).fold(shards[0][p][i], |s, r| s + shards[r][p][i]) / 12.0)
                    .collect()
            })
            .collect();
        for (grads, bytes, wire) in &out {
            assert_eq!((*wire, *bytes), (WireDtype::F64, 8 * (4 + 2)));
            assert_eq!(bits(grads), bits(&expected), "{ranks} ranks");
        }
    }
}
