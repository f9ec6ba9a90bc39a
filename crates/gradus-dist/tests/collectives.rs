//! The collectives over a thread group, the bucketed gradient mean against its definition, and
//! the federated partitions.

use gradus_dist::bucket::{check_in_sync, flatten_params};
use gradus_dist::fedavg::{partition, FedAvg, Partition};
use gradus_dist::{Communicator, DistError, GradientReducer, LocalGroup, ReduceOrder};
use gradus_nn::Param;
use gradus_tensor::{DType, Tensor};

#[test]
fn fixed_order_sums_give_every_rank_the_same_bits_and_the_rank_order_sum() {
    // values whose sum depends on the order: 1e16 + 1 - 1e16
    let vals = [1e16, 1.0, -1e16, 3.0];
    let out = LocalGroup::run(4, |c| {
        let mut v = vec![vals[c.rank()]];
        c.reduce_sum(&mut v, ReduceOrder::Fixed).unwrap();
        v[0]
    });
    let expected: f64 = ((1e16 + 1.0) + -1e16) + 3.0;
    assert!(
        out.iter().all(|&v| v.to_bits() == expected.to_bits()),
        "{out:?}"
    );
}

#[test]
fn gather_and_broadcast_move_every_rank_s_values() {
    let out = LocalGroup::run(3, |c| {
        let mut all = vec![0.0; 6];
        c.all_gather(&[c.rank() as f64, 10.0], &mut all).unwrap();
        let mut b = vec![c.rank() as f64 + 0.5];
        c.broadcast(&mut b, 2).unwrap();
        (all, b[0])
    });
    for (all, b) in out {
        assert_eq!(all, vec![0.0, 10.0, 1.0, 10.0, 2.0, 10.0]);
        assert_eq!(b, 2.5);
    }
}

#[test]
fn ranks_passing_buffers_of_different_lengths_get_an_error_naming_the_rank() {
    let out = LocalGroup::run(2, |c| {
        let mut v = vec![0.0; 1 + c.rank()];
        c.all_reduce_sum(&mut v)
    });
    assert!(matches!(
        out[0],
        Err(DistError::LengthMismatch {
            rank: 1,
            got: 2,
            expected: 1,
            ..
        })
    ));
}

fn param(values: &[f64]) -> Param {
    Param::new(Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap())
}

#[test]
fn the_bucketed_mean_is_the_sample_weighted_mean_of_the_ranks_gradients() {
    // rank r: gradient (r + 1) * [1, 2, 3] on `a`, [r] on `b` (none on rank 0), none on `c`;
    // weights 1, 2, 3; buckets so small each parameter has its own
    let out = LocalGroup::run(3, |c| {
        let r = c.rank() as f64;
        let named = vec![
            ("a".to_string(), param(&[0.0; 3])),
            ("b".to_string(), param(&[0.0])),
            ("c".to_string(), param(&[0.0; 2])),
        ];
        let g = |v: Vec<f64>| Some(Tensor::from_vec(v.clone(), &[v.len()]).unwrap());
        named[0]
            .1
            .tensor()
            .set_grad(g(vec![r + 1.0, 2.0 * (r + 1.0), 3.0 * (r + 1.0)]));
        if c.rank() > 0 {
            named[1].1.tensor().set_grad(g(vec![r]));
        }
        let reducer = GradientReducer::new(1e-6, ReduceOrder::Fixed).unwrap();
        let sent = reducer.all_reduce_mean(&c, &named, r + 1.0, 6.0).unwrap();
        let grads: Vec<Option<Vec<f64>>> = named
            .iter()
            .map(|(_, p)| p.tensor().grad().map(|g| g.to_vec_f64()))
            .collect();
        (grads, sent)
    });
    // a: sum_r (r+1)^2 [1,2,3] / 6 = 14/6 [1,2,3]; b: (2*1 + 3*2) / 6 (rank 0 counts as 0)
    for (grads, sent) in out {
        let a = grads[0].clone().unwrap();
        for (k, v) in a.iter().enumerate() {
            assert!((v - 14.0 / 6.0 * (k + 1) as f64).abs() < 1e-15);
        }
        assert!((grads[1].clone().unwrap()[0] - 8.0 / 6.0).abs() < 1e-15);
        assert_eq!(grads[2], None, "no rank had a gradient for c");
        assert_eq!(sent, 8 * (4 + 2 + 3));
    }
}

#[test]
fn ranks_out_of_sync_are_named_with_the_parameter() {
    let out = LocalGroup::run(2, |c| {
        let named = vec![("w".to_string(), param(&[1.0, c.rank() as f64]))];
        check_in_sync(&c, &named)
    });
    assert!(out[0].is_ok());
    let e = out[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("rank 1") && e.contains("w[1]"), "{e}");
}

#[test]
fn flattening_follows_the_parameter_order() {
    let named = vec![
        ("a".to_string(), param(&[1.0, 2.0])),
        ("b".to_string(), Param::new(Tensor::ones(&[1], DType::F32))),
    ];
    assert_eq!(flatten_params(&named), vec![1.0, 2.0, 1.0]);
}

#[test]
fn every_partition_deals_each_sample_to_exactly_one_client() {
    let labels: Vec<usize> = (0..600).map(|i| (i * 7) % 10).collect();
    for how in [
        Partition::Iid,
        Partition::Shards {
            shards_per_client: 2,
        },
        Partition::Dirichlet { alpha: 0.3 },
    ] {
        let parts = partition(&labels, 30, how, 1).unwrap();
        let mut all: Vec<usize> = parts.concat();
        all.sort_unstable();
        assert_eq!(all, (0..600).collect::<Vec<_>>(), "{how:?}");
        assert_eq!(
            parts,
            partition(&labels, 30, how, 1).unwrap(),
            "{how:?} is seeded"
        );
    }
}

#[test]
fn shards_give_each_client_at_most_two_labels_and_iid_gives_most_all_ten() {
    let labels: Vec<usize> = (0..1000).map(|i| i % 10).collect();
    let kinds = |p: &[usize]| {
        let mut l: Vec<usize> = p.iter().map(|&i| labels[i]).collect();
        l.sort_unstable();
        l.dedup();
        l.len()
    };
    let shards = partition(
        &labels,
        50,
        Partition::Shards {
            shards_per_client: 2,
        },
        0,
    )
    .unwrap();
    assert!(shards.iter().all(|p| kinds(p) <= 2));
    let iid = partition(&labels, 50, Partition::Iid, 0).unwrap();
    let mean = iid.iter().map(|p| kinds(p)).sum::<usize>() as f64 / 50.0;
    assert!(
        mean > 7.0,
        "IID clients of 20 samples see {mean} labels on average"
    );
}

#[test]
fn bad_settings_are_refused_with_their_key() {
    let labels = vec![0usize; 10];
    let e = partition(&labels, 20, Partition::Iid, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("20 clients for 10 samples"), "{e}");
    let e = partition(&labels, 2, Partition::Dirichlet { alpha: 0.0 }, 0).unwrap_err();
    assert!(e.to_string().contains("federated.alpha"), "{e}");
    let f = FedAvg {
        clients: 10,
        fraction: 1.5,
        local_epochs: 1,
        local_batch: 1,
        mu: 0.0,
    };
    assert!(f
        .validate()
        .unwrap_err()
        .to_string()
        .contains("federated.fraction"));
    assert!(GradientReducer::new(0.0, ReduceOrder::Fixed).is_err());
}
