//! Hogwild skip-gram (word2vec's SGD on shared tables, several threads without locks).

use gradus_embed::{
    sgns_sgd, sgns_sgd_hogwild, train_skipgram, AtomicFloat, SharedTable, SkipGramConfig,
    SkipGramOptimizer, SkipGramReport,
};
use gradus_tensor::Rng;

/// Steps, words and pairs, and [`fingerprint`], of `sgd(1)` on [`corpus`], recorded with the
/// single-threaded path before Hogwild was added (commit 460f3a1).
const GOLDEN_COUNTS: (usize, u64, u64) = (31, 6000, 9097);
const GOLDEN_FINGERPRINT: u64 = 0x6d21_23a4_25ed_905c;

fn corpus() -> Vec<String> {
    let mut rng = Rng::seed(2);
    (0..3000).map(|_| format!("w{}", rng.below(40))).collect()
}

/// FNV-1a over the bits of the losses and of every word vector.
fn fingerprint(r: &SkipGramReport) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |x: u64| {
        h ^= x;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    r.losses.iter().for_each(|l| eat(l.to_bits()));
    for i in 0..r.vectors.vocab().len() {
        let w = r.vectors.vocab().word(i);
        r.vectors
            .vector(w)
            .unwrap()
            .iter()
            .for_each(|x| eat(u64::from(x.to_bits())));
    }
    h
}

fn sgd(threads: usize) -> SkipGramConfig {
    SkipGramConfig {
        dim: 12,
        min_count: 1,
        batch: 300,
        epochs: 2,
        lr: 0.025,
        optimizer: SkipGramOptimizer::Sgd { min_lr: 1e-4 },
        threads,
        ..Default::default()
    }
}

#[test]
fn one_thread_gives_the_bits_of_the_single_threaded_path() {
    // recorded with the single-threaded path as it was before Hogwild was added
    let r = train_skipgram(&corpus(), &sgd(1)).unwrap();
    assert_eq!((r.losses.len(), r.words, r.pairs), GOLDEN_COUNTS);
    assert_eq!(fingerprint(&r), GOLDEN_FINGERPRINT);
    // and it is deterministic
    assert_eq!(
        fingerprint(&train_skipgram(&corpus(), &sgd(1)).unwrap()),
        GOLDEN_FINGERPRINT
    );
}

/// A batch with repeated centers, a context that is also a negative and a repeated negative.
const CENTERS: [usize; 4] = [2, 0, 2, 6];
const CONTEXTS: [usize; 4] = [3, 1, 1, 2];
const NEGATIVES: [usize; 12] = [1, 5, 3, 3, 4, 0, 6, 1, 1, 5, 2, 0];

fn tables<T: gradus_tensor::Element>(seed: u64) -> (Vec<T>, Vec<T>) {
    let mut rng = Rng::seed(seed);
    let mut draw = |n: usize| {
        (0..n)
            .map(|_| T::from_f64(rng.uniform_f64() - 0.5))
            .collect()
    };
    (draw(7 * 5), draw(7 * 5))
}

#[test]
fn the_shared_tables_kernel_on_one_thread_is_sgns_sgd_bit_for_bit() {
    fn check<T: AtomicFloat>() {
        let (mut input, mut output) = tables::<T>(4);
        let (si, so) = (SharedTable::new(&input, 5), SharedTable::new(&output, 5));
        for lr in [0.3, 0.05] {
            let a = sgns_sgd(
                &mut input,
                &mut output,
                5,
                &CENTERS,
                &CONTEXTS,
                &NEGATIVES,
                lr,
            )
            .unwrap();
            let b = sgns_sgd_hogwild(&si, &so, &CENTERS, &CONTEXTS, &NEGATIVES, lr).unwrap();
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(si.to_vec(), input);
        assert_eq!(so.to_vec(), output);
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn the_shared_tables_kernel_checks_its_batch() {
    let (input, output) = tables::<f32>(1);
    let (si, so) = (SharedTable::new(&input, 5), SharedTable::new(&output, 5));
    let e = sgns_sgd_hogwild(&si, &so, &[0], &[7], &[], 0.1).unwrap_err();
    assert!(
        e.to_string().contains("id 7 is outside a table of 7 rows"),
        "{e}"
    );
    let narrow = SharedTable::new(&output, 7);
    let e = sgns_sgd_hogwild(&si, &narrow, &[0], &[1], &[], 0.1).unwrap_err();
    assert!(
        e.to_string().contains("rows 5 (input) and 7 (output)"),
        "{e}"
    );
}

#[test]
fn two_threads_count_every_word_and_train_every_piece() {
    // 25,000 tokens: pieces of 10,000, 10,000 and 5,000 per epoch, taken by two threads
    let mut rng = Rng::seed(5);
    let text: Vec<String> = (0..25_000).map(|_| format!("w{}", rng.below(30))).collect();
    let cfg = SkipGramConfig {
        subsample: 0.0,
        window: 1,
        ..sgd(2)
    };
    let r = train_skipgram(&text, &cfg).unwrap();
    assert_eq!(r.words, 50_000);
    // window 1 and no subsampling: every token but a piece's two ends has two contexts
    assert_eq!(r.pairs, 2 * (2 * 25_000 - 2 * 3));
    assert!(r.losses.iter().all(|l| l.is_finite()));
}

#[test]
fn zero_threads_is_an_error_naming_the_key() {
    let e = train_skipgram(&corpus(), &sgd(0)).unwrap_err().to_string();
    assert!(e.contains("`threads`"), "{e}");
}

#[test]
fn shared_tables_give_back_every_row_for_any_row_length() {
    // f32 rows are packed two values to a cell and copied four at a time: odd and short rows too
    for dim in 1..=9 {
        let values: Vec<f32> = (0..3 * dim).map(|i| i as f32 - 0.5).collect();
        let t = SharedTable::new(&values, dim);
        assert_eq!((t.len(), t.dim()), (3 * dim, dim));
        assert_eq!(t.to_vec(), values, "dim {dim}");
        let row: Vec<f32> = (0..dim).map(|i| -(i as f32)).collect();
        t.store_row(1, &row);
        let mut back = vec![0.0; dim];
        t.load_row(1, &mut back);
        assert_eq!(back, row);
        t.load_row(2, &mut back);
        assert_eq!(back, values[2 * dim..]);
        let wide = SharedTable::new(
            &values.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
            dim,
        );
        assert_eq!(
            wide.to_vec(),
            values.iter().map(|&x| f64::from(x)).collect::<Vec<_>>()
        );
    }
}
