//! Data-parallel training over ranks as threads ([`LocalGroup`]): N ranks with the same global
//! batch reach one process's parameters (up to summation order), every rank holds the same bits,
//! only rank 0 writes, and a run stopped on 2 ranks resumes on 4.
//! (The same checks over real MPI processes: `tests/distributed/ci.sh`.)

use gradus_data::{BatchMode, Dataset, Targets};
use gradus_dist::{Communicator, GradientReducer, LocalGroup, ReduceOrder};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer, Schedule};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::parallel::DataParallel;
use gradus_train::task::Task;
use gradus_train::{TrainOptions, Trainer};
use std::path::Path;
use std::sync::Arc;

/// 37 noisy samples of y = sin(3 x0) + x1 (37: the last batch of 8 holds 5, fewer than 4 ranks
/// times 2, and batches of 3 leave ranks empty on 4 ranks).
fn data() -> Dataset {
    let x: Vec<f32> = Tensor::randn(&[37, 2], DType::F32, 7).to_vec().unwrap();
    let y: Vec<f32> = x.chunks(2).map(|r| (3.0 * r[0]).sin() + r[1]).collect();
    Dataset::new(x, vec![2], Targets::Values { values: y, dim: 1 }).unwrap()
}

fn trainer(batch: usize, max_steps: Option<u64>, parallel: Option<DataParallel>) -> Trainer {
    // a different seed per rank: the broadcast from rank 0 must make the models equal
    let seed = parallel.as_ref().map_or(0, |p| p.rank() as u64 * 100);
    let model = Mlp::new(&[2, 16, 1], Activation::Tanh, &mut Rng::seed(seed));
    model.cast(DType::F64).unwrap();
    let optimizer = Optimizer::with_params(Adam::new(0.01), &model.parameters()).unwrap();
    Trainer {
        model: Box::new(model),
        optimizer,
        schedule: Schedule::Constant(0.01),
        plateau: None,
        task: Task::Regression { outputs: 1 },
        options: TrainOptions {
            epochs: 4,
            max_steps,
            batch: BatchMode::MiniBatch {
                size: batch,
                drop_last: false,
            },
            seed: 3,
            dtype: DType::F64,
            quiet: true,
            parallel,
            ..TrainOptions::default()
        },
        model_metadata: Default::default(),
    }
}

fn params(t: &Trainer) -> Vec<f64> {
    t.model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

/// Trains on `ranks` threads into `out`; returns each rank's final parameters.
fn train_on(
    ranks: usize,
    batch: usize,
    max_steps: Option<u64>,
    out: &Path,
    resume: bool,
) -> Vec<Vec<f64>> {
    // small buckets: several all-reduces per step
    let reducer = GradientReducer::new(0.0002, ReduceOrder::Fixed).unwrap();
    train_with(ranks, batch, max_steps, out, resume, reducer)
}

/// [`train_on`] with the gradients averaged by `reducer`.
fn train_with(
    ranks: usize,
    batch: usize,
    max_steps: Option<u64>,
    out: &Path,
    resume: bool,
    reducer: GradientReducer,
) -> Vec<Vec<f64>> {
    let data = data();
    std::thread::scope(|s| {
        let handles: Vec<_> = LocalGroup::new(ranks)
            .into_iter()
            .map(|c| {
                let data = &data;
                s.spawn(move || {
                    let p = DataParallel::new(Arc::new(c), reducer);
                    let mut t = trainer(batch, max_steps, Some(p));
                    t.fit(data, None, out, resume).unwrap();
                    params(&t)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn single(batch: usize, out: &Path) -> Vec<f64> {
    let mut t = trainer(batch, None, None);
    t.fit(&data(), None, out, false).unwrap();
    params(&t)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn n_ranks_reach_the_parameters_of_one_process_with_the_same_global_batch() {
    for batch in [8, 3] {
        let dir = tempfile::tempdir().unwrap();
        let one = single(batch, &dir.path().join("one"));
        for ranks in [1, 2, 4] {
            let out = dir.path().join(format!("n{ranks}"));
            let all = train_on(ranks, batch, None, &out, false);
            for (r, p) in all.iter().enumerate() {
                assert_eq!(
                    p.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    all[0].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "rank {r} of {ranks} differs from rank 0"
                );
            }
            let d = max_diff(&all[0], &one);
            assert!(
                d < 1e-12,
                "batch {batch}, {ranks} ranks: {d:e} from one process"
            );
            assert!(out.join("model.safetensors").exists());
        }
    }
}

#[test]
fn the_same_run_twice_on_4_ranks_gives_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let a = train_on(4, 8, None, &dir.path().join("a"), false);
    let b = train_on(4, 8, None, &dir.path().join("b"), false);
    assert_eq!(
        a[0].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b[0].iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn a_run_stopped_on_2_ranks_resumes_on_4_to_the_uninterrupted_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let one = single(8, &dir.path().join("one"));
    let out = dir.path().join("run");
    train_on(2, 8, Some(7), &out, false); // 5 batches an epoch: stops inside epoch 2
    let resumed = train_on(4, 8, None, &out, true);
    let d = max_diff(&resumed[0], &one);
    assert!(d < 1e-12, "{d:e} from the uninterrupted run");
}

#[test]
fn only_rank_0_writes_the_run_directory() {
    let data = data();
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for c in LocalGroup::new(2) {
            let (data, dir) = (&data, dir.path());
            s.spawn(move || {
                let rank = c.rank();
                let p = DataParallel::new(Arc::new(c), GradientReducer::default());
                let mut t = trainer(8, None, Some(p));
                // each rank its own directory, to see who writes
                let out = dir.join(format!("rank{rank}"));
                t.fit(data, None, &out, false).unwrap();
            });
        }
    });
    for f in [
        "model.safetensors",
        "metrics.csv",
        "checkpoint.safetensors",
        "summary.json",
    ] {
        assert!(
            dir.path().join("rank0").join(f).exists(),
            "rank 0 wrote no {f}"
        );
        assert!(
            !dir.path().join("rank1").join(f).exists(),
            "rank 1 wrote {f}"
        );
    }
}

#[test]
fn all_reduces_overlapped_with_backward_give_the_parameters_of_all_reduces_after_it() {
    // 0.0002 MB: one bucket per parameter; 0.0003: the 16x1 layer and its bias share one; 25:
    // one bucket for the whole model
    let dir = tempfile::tempdir().unwrap();
    for order in [ReduceOrder::Fixed, ReduceOrder::Transport] {
        for cap in [0.0002, 0.0003, 25.0] {
            let reducer = GradientReducer::new(cap, order).unwrap();
            let run = |overlap: bool| {
                let out = dir.path().join(format!("{order:?}-{cap}-{overlap}"));
                train_with(3, 8, None, &out, false, reducer.with_overlap(overlap))
            };
            let (after, overlapped) = (run(false), run(true));
            for (a, o) in after.iter().zip(&overlapped) {
                assert_eq!(
                    a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    o.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{order:?}, bucket_cap_mb = {cap}"
                );
            }
        }
    }
}
