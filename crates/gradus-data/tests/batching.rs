//! Batching, splits, scaling, text windows and the in-memory dataset.

use gradus_data::batch::permutation;
use gradus_data::text::{CharVocab, TextDataset};
use gradus_data::{
    split_dataset, train_val_split, BatchMode, Batcher, DataError, Dataset, Standardizer, Targets,
    Validation,
};

fn mini(size: usize, drop_last: bool) -> BatchMode {
    BatchMode::MiniBatch { size, drop_last }
}

fn sorted(batches: &[Vec<usize>]) -> Vec<usize> {
    let mut all: Vec<usize> = batches.concat();
    all.sort_unstable();
    all
}

#[test]
fn every_index_exactly_once_per_epoch() {
    for mode in [
        BatchMode::Full,
        BatchMode::Stochastic,
        mini(7, false),
        mini(100, false),
    ] {
        let batcher = Batcher::new(50, mode).unwrap().shuffled(3);
        for epoch in 0..5 {
            let batches = batcher.epoch(epoch);
            assert_eq!(batches.len(), batcher.batches_per_epoch());
            assert_eq!(
                sorted(&batches),
                (0..50).collect::<Vec<_>>(),
                "{mode:?} epoch {epoch}"
            );
        }
    }
}

#[test]
fn order_is_a_function_of_seed_and_epoch() {
    let a = Batcher::new(1000, mini(32, false)).unwrap().shuffled(11);
    let b = Batcher::new(1000, mini(32, false)).unwrap().shuffled(11);
    assert_eq!(a.epoch(4), b.epoch(4)); // a "resumed" batcher regenerates epoch 4
    assert_ne!(a.epoch(4), a.epoch(5));
    assert_ne!(
        a.epoch(4),
        Batcher::new(1000, mini(32, false))
            .unwrap()
            .shuffled(12)
            .epoch(4)
    );
    assert_ne!(a.epoch(0).concat(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn permutation_is_pinned_so_resumes_survive_upgrades() {
    // If these change, runs resumed from old checkpoints would see other orders.
    // The values were also computed by an independent Python implementation of
    // the documented algorithm (SplitMix64 -> Pcg64::new -> Lemire -> Fisher-Yates).
    assert_eq!(permutation(10, 0, 0), [9, 5, 1, 7, 2, 8, 0, 6, 4, 3]);
    assert_eq!(permutation(10, 0, 1), [4, 7, 1, 8, 0, 9, 2, 6, 3, 5]);
}

#[test]
fn permutations_are_roughly_uniform() {
    // Position of element 0 over many epochs: each of 4 slots about 1/4 of the time.
    let mut hits = [0usize; 4];
    for epoch in 0..4000 {
        let p = permutation(4, 5, epoch);
        hits[p.iter().position(|&v| v == 0).unwrap()] += 1;
    }
    assert!(hits.iter().all(|&h| (850..1150).contains(&h)), "{hits:?}");
}

#[test]
fn drop_last_drops_only_the_short_tail() {
    let keep = Batcher::new(10, mini(4, false))
        .unwrap()
        .shuffled(1)
        .epoch(0);
    assert_eq!(keep.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    let drop = Batcher::new(10, mini(4, true))
        .unwrap()
        .shuffled(1)
        .epoch(0);
    assert_eq!(drop, keep[..2].to_vec());
    let exact = Batcher::new(8, mini(4, true)).unwrap().epoch(0);
    assert_eq!(exact, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    assert!(Batcher::new(3, mini(4, true)).unwrap().epoch(0).is_empty());
}

#[test]
fn stochastic_gives_batches_of_one_and_full_one_batch() {
    let sgd = Batcher::new(20, BatchMode::Stochastic)
        .unwrap()
        .shuffled(9)
        .epoch(2);
    assert_eq!(sgd.len(), 20);
    assert!(sgd.iter().all(|b| b.len() == 1));
    let full = Batcher::new(20, BatchMode::Full).unwrap().epoch(0);
    assert_eq!(full, vec![(0..20).collect::<Vec<_>>()]);
    assert!(Batcher::new(0, BatchMode::Full)
        .unwrap()
        .epoch(0)
        .is_empty());
}

#[test]
fn no_shuffle_keeps_natural_order() {
    let b = Batcher::new(5, mini(2, false)).unwrap();
    assert_eq!(b.epoch(0), vec![vec![0, 1], vec![2, 3], vec![4]]);
    assert_eq!(b.epoch(0), b.epoch(9));
}

#[test]
fn train_val_split_is_a_deterministic_partition() {
    let (train, val) = train_val_split(100, 0.25, 42).unwrap();
    assert_eq!((train.len(), val.len()), (75, 25));
    let mut all = [train.clone(), val.clone()].concat();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert!(val.windows(2).all(|w| w[0] < w[1]));
    assert_ne!(val, (75..100).collect::<Vec<_>>()); // random, not the tail
    assert_eq!(
        train_val_split(100, 0.25, 42).unwrap(),
        (train, val.clone())
    );
    assert_ne!(train_val_split(100, 0.25, 43).unwrap().1, val);
    assert_eq!(train_val_split(100, 0.0, 1).unwrap().1, Vec::<usize>::new());
    for bad in [1.0, -0.1, f64::NAN] {
        assert!(matches!(
            train_val_split(10, bad, 0),
            Err(DataError::InvalidArgument(_))
        ));
    }
    assert!(train_val_split(1, 0.6, 0).is_err());
}

fn toy(n: usize, num_classes: usize) -> Dataset {
    let labels = (0..n).map(|i| (i % num_classes) as u32).collect();
    let x = (0..n * 2).map(|v| v as f32).collect();
    Dataset::new(
        x,
        vec![2],
        Targets::Classes {
            labels,
            num_classes,
        },
    )
    .unwrap()
}

#[test]
fn split_dataset_holdout_and_separate_file() {
    let (train, val) = split_dataset(
        toy(10, 2),
        Validation::Holdout {
            fraction: 0.2,
            seed: 5,
        },
    )
    .unwrap();
    let val = val.unwrap();
    assert_eq!((train.len(), val.len()), (8, 2));
    let mut firsts: Vec<f32> = train
        .features()
        .iter()
        .chain(val.features())
        .step_by(2)
        .copied()
        .collect();
    firsts.sort_by(f32::total_cmp);
    assert_eq!(firsts, (0..10).map(|i| (2 * i) as f32).collect::<Vec<_>>());
    let (train, val) = split_dataset(toy(6, 3), Validation::Separate(toy(4, 2))).unwrap();
    assert_eq!(
        (train.num_classes(), val.unwrap().num_classes()),
        (Some(3), Some(3))
    );
    assert!(split_dataset(toy(6, 3), Validation::Disabled)
        .unwrap()
        .1
        .is_none());
    let wrong_shape = Dataset::new(
        vec![0.0; 3],
        vec![3],
        Targets::Values {
            values: vec![1.0],
            dim: 1,
        },
    )
    .unwrap();
    assert!(split_dataset(toy(6, 3), Validation::Separate(wrong_shape)).is_err());
}

#[test]
fn batch_gathers_contiguous_rows_and_targets() {
    let ds = toy(5, 3);
    let b = ds.batch(&[4, 0, 4]);
    assert_eq!(b.x, vec![8.0, 9.0, 0.0, 1.0, 8.0, 9.0]);
    assert_eq!(b.x_shape, vec![3, 2]);
    assert_eq!(
        b.y,
        Targets::Classes {
            labels: vec![1, 0, 1],
            num_classes: 3
        }
    );
    assert_eq!(
        b.y.one_hot().unwrap(),
        vec![0., 1., 0., 1., 0., 0., 0., 1., 0.]
    );
    assert_eq!(ds.subset(&[1]).features(), &[2.0, 3.0]);
}

#[test]
fn dataset_new_rejects_inconsistent_buffers() {
    let classes = |labels: Vec<u32>, k| Targets::Classes {
        labels,
        num_classes: k,
    };
    assert!(Dataset::new(vec![0.0; 4], vec![2], classes(vec![0, 2], 2)).is_err());
    assert!(Dataset::new(vec![0.0; 4], vec![2], classes(vec![0, 1], 2)).is_ok());
    assert!(Dataset::new(vec![0.0; 4], vec![0], classes(vec![], 2)).is_err());
    assert!(Dataset::new(vec![0.0; 4], vec![], classes(vec![0], 2)).is_err());
    assert!(Dataset::new(
        vec![0.0; 2],
        vec![1],
        Targets::Values {
            values: vec![0.0; 3],
            dim: 2
        }
    )
    .is_err());
    assert!(Dataset::new(vec![], vec![1], classes(vec![], 1 << 21)).is_err());
}

#[test]
fn standardizer_fits_training_rows_only() {
    // Column 0 varies, column 1 is constant; row 3 is an outlier kept out of the fit.
    let x = vec![1.0, 7.0, 2.0, 7.0, 3.0, 7.0, 1000.0, 7.0];
    let mut ds = Dataset::new(
        x,
        vec![2],
        Targets::Values {
            values: vec![0.0; 4],
            dim: 1,
        },
    )
    .unwrap();
    let s = Standardizer::fit_rows(&ds, &[0, 1, 2]).unwrap();
    assert_eq!(s.mean(), &[2.0, 7.0]);
    assert!((s.std()[0] - (2.0f32 / 3.0).sqrt()).abs() < 1e-6);
    assert_eq!(s.std()[1], 1.0);
    s.transform(&mut ds).unwrap();
    let f = ds.features();
    assert!((f[0] + 1.224_744_9).abs() < 1e-5 && f[2] == 0.0 && f[1] == 0.0 && f[7] == 0.0);
    assert!(f[6] > 1000.0);
    let mut y = vec![3.0f32, 7.0];
    s.transform_slice(&mut y).unwrap();
    s.inverse_transform_slice(&mut y).unwrap();
    assert!((y[0] - 3.0).abs() < 1e-6 && y[1] == 7.0);
    assert!(s.transform_slice(&mut [1.0, 2.0, 3.0]).is_err());
    assert!(Standardizer::fit_rows(&ds, &[]).is_err());
    let mut other = toy(2, 2).subset(&[0]);
    assert!(Standardizer::fit_slice(&[1.0, 2.0, 3.0], 3)
        .unwrap()
        .transform(&mut other)
        .is_err());
}

#[test]
fn standardizer_round_trips_through_serde() {
    let s = Standardizer::fit_slice(&[1.0, 5.0, 3.0, 9.0], 2).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, r#"{"mean":[2.0,7.0],"std":[1.0,2.0]}"#);
    assert_eq!(serde_json::from_str::<Standardizer>(&json).unwrap(), s);
    let zero_std = r#"{"mean":[2.0],"std":[0.0]}"#;
    assert!(serde_json::from_str::<Standardizer>(zero_std).is_err());
    let ragged = r#"{"mean":[2.0,1.0],"std":[1.0]}"#;
    assert!(serde_json::from_str::<Standardizer>(ragged).is_err());
}

#[test]
fn char_vocab_is_sorted_and_serializable() {
    let vocab = CharVocab::from_text("héllo wörld");
    assert_eq!(vocab.chars().iter().collect::<String>(), " dhlorwéö");
    let ids = vocab.encode("wörld").unwrap();
    assert_eq!(vocab.decode(&ids).unwrap(), "wörld");
    let json = serde_json::to_string(&vocab).unwrap();
    assert_eq!(json, r#"{"chars":" dhlorwéö"}"#);
    assert_eq!(serde_json::from_str::<CharVocab>(&json).unwrap(), vocab);
    assert!(serde_json::from_str::<CharVocab>(r#"{"chars":"ba"}"#).is_err());
    assert!(serde_json::from_str::<CharVocab>(r#"{"chars":"aa"}"#).is_err());
    let err = vocab.encode("hallo").unwrap_err();
    assert!(
        matches!(err, DataError::UnknownChar { ch: 'a', offset: 1 }),
        "{err:?}"
    );
    assert!(matches!(
        vocab.decode(&[9]),
        Err(DataError::UnknownToken {
            id: 9,
            vocab_size: 9
        })
    ));
}

#[test]
fn text_windows_shift_targets_by_one() {
    let ds = TextDataset::new((0..11).collect(), 4).unwrap();
    assert_eq!(ds.len(), 2); // starts 0 and 4 (8 would need tokens up to 12)
    assert_eq!(ds.window(1), (&[4, 5, 6, 7][..], &[5, 6, 7, 8][..]));
    let every = ds.clone().with_stride(1).unwrap();
    assert_eq!(every.len(), 7);
    assert_eq!(every.window(6), (&[6, 7, 8, 9][..], &[7, 8, 9, 10][..]));
    let b = every.batch(&[6, 0]);
    assert_eq!((b.batch_size, b.block_size), (2, 4));
    assert_eq!(b.inputs, vec![6, 7, 8, 9, 0, 1, 2, 3]);
    assert_eq!(b.targets, vec![7, 8, 9, 10, 1, 2, 3, 4]);
    assert!(TextDataset::new(vec![1, 2], 0).is_err());
    assert!(ds.with_stride(0).is_err());
    let windows = Batcher::new(every.len(), BatchMode::Full).unwrap().epoch(0);
    assert_eq!(every.batch(&windows[0]).inputs.len(), 7 * 4);
}

#[test]
fn batcher_round_trips_through_serde_and_tolerates_size_zero() {
    let b = Batcher::new(9, mini(4, true)).unwrap().shuffled(3);
    let json = serde_json::to_string(&b).unwrap();
    let back: Batcher = serde_json::from_str(&json).unwrap();
    assert_eq!(back.epoch(2), b.epoch(2));
    let zero = json.replace("\"size\":4", "\"size\":0");
    assert_ne!(zero, json);
    let odd: Batcher = serde_json::from_str(&zero).unwrap();
    assert_eq!(sorted(&odd.epoch(0)), (0..9).collect::<Vec<_>>());
}
