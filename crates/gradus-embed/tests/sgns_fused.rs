//! The fused skip-gram step against the composed one (lookups, products, `bce_with_logits`,
//! autodiff) in f64: same loss, same gradients, same SparseAdam updates; its gradient against
//! central differences; and training results that do not depend on the number of threads.

use gradus_embed::{
    sgns_grad, sgns_sgd, train_skipgram, SkipGram, SkipGramConfig, SkipGramOptimizer,
    SparseEmbedding,
};
use gradus_nn::loss::{bce_with_logits, Reduction};
use gradus_optim::SparseAdam;
use gradus_tensor::{DType, Rng, Tensor};

const VOCAB: usize = 7;
const DIM: usize = 5;
// repeated centers (2), contexts shared with negatives (3, 1), a center that is also a target
const CENTERS: [usize; 4] = [2, 0, 2, 6];
const CONTEXTS: [usize; 4] = [3, 1, 1, 2];
const NEGATIVES: [usize; 12] = [1, 5, 3, 3, 4, 0, 6, 1, 1, 5, 2, 0];

fn model(seed: u64) -> SkipGram {
    let mut rng = Rng::seed(seed);
    SkipGram {
        input: SparseEmbedding::new(rng.uniform(&[VOCAB, DIM], -0.8, 0.8, DType::F64)),
        output: SparseEmbedding::new(rng.uniform(&[VOCAB, DIM], -0.8, 0.8, DType::F64)),
    }
}

/// The composed loss and dense gradients `[VOCAB · DIM]` of both tables (`SkipGram::step`'s
/// graph, without the optimizer).
fn composed(m: &SkipGram) -> (f64, Vec<f64>, Vec<f64>) {
    let (b, k) = (CENTERS.len(), NEGATIVES.len() / CENTERS.len());
    let mut ids = Vec::new();
    let mut target = Vec::new();
    for i in 0..b {
        ids.push(CONTEXTS[i]);
        ids.extend_from_slice(&NEGATIVES[i * k..(i + 1) * k]);
        target.push(1.0f64);
        target.extend(std::iter::repeat_n(0.0, k));
    }
    let u = m.input.lookup(&CENTERS).unwrap();
    let v = m.output.lookup(&ids).unwrap();
    let scores = v
        .output
        .reshape(&[b, k + 1, DIM])
        .unwrap()
        .mul(&u.output.unsqueeze(1).unwrap())
        .unwrap()
        .sum(&[-1], false)
        .unwrap();
    let t = Tensor::from_vec(target, &[b, k + 1]).unwrap();
    let loss = bce_with_logits(&scores, &t, Reduction::Sum)
        .unwrap()
        .mul_scalar(1.0 / b as f64)
        .unwrap();
    loss.backward().unwrap();
    let dense = |l: &gradus_embed::Lookup| {
        let g = l.grad().unwrap().unwrap();
        let vals = g.values().to_vec_f64();
        let mut d = vec![0.0; VOCAB * DIM];
        for (s, &r) in g.indices().iter().enumerate() {
            for j in 0..DIM {
                d[r * DIM + j] += vals[s * DIM + j];
            }
        }
        d
    };
    (loss.item().unwrap(), dense(&u), dense(&v))
}

fn tables(m: &SkipGram) -> (Vec<f64>, Vec<f64>) {
    (
        m.input.weight.tensor().to_vec::<f64>().unwrap(),
        m.output.weight.tensor().to_vec::<f64>().unwrap(),
    )
}

fn fused(input: &[f64], output: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let g = sgns_grad(input, output, DIM, &CENTERS, &CONTEXTS, &NEGATIVES).unwrap();
    let dense = |rows: &[usize], vals: &[f64]| {
        let mut d = vec![0.0; VOCAB * DIM];
        for (s, &r) in rows.iter().enumerate() {
            d[r * DIM..(r + 1) * DIM].copy_from_slice(&vals[s * DIM..(s + 1) * DIM]);
        }
        d
    };
    (
        g.loss,
        dense(&g.input_rows, &g.input_grad),
        dense(&g.output_rows, &g.output_grad),
    )
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{k}]: {x} vs {y}"
        );
    }
}

#[test]
fn fused_loss_and_gradients_equal_the_composed_graph() {
    let m = model(3);
    let (input, output) = tables(&m);
    let (l0, gi0, go0) = composed(&m);
    let (l1, gi1, go1) = fused(&input, &output);
    assert!((l0 - l1).abs() < 1e-12, "loss {l0} vs {l1}");
    assert_close(&gi1, &gi0, 1e-12, "input grad");
    assert_close(&go1, &go0, 1e-12, "output grad");
    // the rows listed are exactly the rows touched, each once
    let g = sgns_grad(&input, &output, DIM, &CENTERS, &CONTEXTS, &NEGATIVES).unwrap();
    assert_eq!(g.input_rows, vec![2, 0, 6]);
    assert_eq!(g.output_rows, vec![3, 1, 5, 4, 0, 6, 2]);
}

#[test]
fn fused_gradient_matches_central_differences() {
    // torch gradcheck's tolerances: eps 1e-6, atol 1e-5, rtol 1e-3
    let m = model(8);
    let (input, output) = tables(&m);
    let (_, gi, go) = fused(&input, &output);
    let loss = |i: &[f64], o: &[f64]| fused(i, o).0;
    for which in 0..2 {
        let base = if which == 0 { &input } else { &output };
        let analytic = if which == 0 { &gi } else { &go };
        for k in 0..base.len() {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus[k] += 1e-6;
            minus[k] -= 1e-6;
            let num = if which == 0 {
                (loss(&plus, &output) - loss(&minus, &output)) / 2e-6
            } else {
                (loss(&input, &plus) - loss(&input, &minus)) / 2e-6
            };
            let a = analytic[k];
            assert!(
                (a - num).abs() <= 1e-5 + 1e-3 * num.abs(),
                "table {which} [{k}]: analytic {a}, numeric {num}"
            );
        }
    }
}

#[test]
fn fused_steps_update_the_tables_as_the_composed_steps() {
    let (a, b) = (model(5), model(5));
    let params = |m: &SkipGram| [m.input.weight.clone(), m.output.weight.clone()];
    let mut oa = SparseAdam::new(&params(&a), 0.05).unwrap();
    let mut ob = SparseAdam::new(&params(&b), 0.05).unwrap();
    for _ in 0..4 {
        let la = a.step(&mut oa, &CENTERS, &CONTEXTS, &NEGATIVES).unwrap();
        let lb = b
            .step_fused(&mut ob, &CENTERS, &CONTEXTS, &NEGATIVES)
            .unwrap();
        assert!((la - lb).abs() < 1e-12, "loss {la} vs {lb}");
    }
    let ((ia, oa_), (ib, ob_)) = (tables(&a), tables(&b));
    assert_close(&ib, &ia, 1e-12, "input table");
    assert_close(&ob_, &oa_, 1e-12, "output table");
    // input row 1 is never a center: it keeps its init
    assert_eq!(ia[DIM..2 * DIM], tables(&model(5)).0[DIM..2 * DIM]);
}

#[test]
fn bad_batches_are_errors_naming_the_problem() {
    let (input, output) = tables(&model(1));
    let e = sgns_grad(&input, &output, DIM, &[0, 1], &[1], &[]).unwrap_err();
    assert!(e.to_string().contains("2 centers, 1 contexts"), "{e}");
    let e = sgns_grad(&input, &output, DIM, &[0], &[VOCAB], &[]).unwrap_err();
    assert!(
        e.to_string().contains("id 7 is outside a table of 7 rows"),
        "{e}"
    );
    assert!(sgns_grad(&input, &output, DIM, &[], &[], &[]).is_err());
}

#[test]
fn training_does_not_depend_on_the_number_of_threads() {
    let mut rng = Rng::seed(2);
    let text: Vec<String> = (0..3000).map(|_| format!("w{}", rng.below(40))).collect();
    let cfg = SkipGramConfig {
        dim: 12,
        min_count: 1,
        batch: 300,
        epochs: 1,
        ..Default::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| train_skipgram(&text, &cfg).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.losses, two.losses);
    assert_eq!(
        one.vectors.nearest("w0", 5).unwrap(),
        two.vectors.nearest("w0", 5).unwrap()
    );
}

#[test]
fn word2vec_sgd_on_one_pair_is_one_sgd_step_on_its_loss() {
    // distinct targets: the in-place updates equal p - lr · ∂loss/∂p from the fused gradient
    // (itself equal to the composed graph above); a batch of one pair makes mean = sum
    let (input, output) = tables(&model(9));
    let (c, ctx, neg) = ([4], [2], [0, 6, 3]);
    let g = sgns_grad(&input, &output, DIM, &c, &ctx, &neg).unwrap();
    let (mut i1, mut o1) = (input.clone(), output.clone());
    let loss = sgns_sgd(&mut i1, &mut o1, DIM, &c, &ctx, &neg, 0.3).unwrap();
    assert!((loss - g.loss).abs() < 1e-12, "{loss} vs {}", g.loss);
    let (mut i0, mut o0) = (input, output);
    for (rows, grad, table) in [
        (&g.input_rows, &g.input_grad, &mut i0),
        (&g.output_rows, &g.output_grad, &mut o0),
    ] {
        for (s, &r) in rows.iter().enumerate() {
            for j in 0..DIM {
                table[r * DIM + j] -= 0.3 * grad[s * DIM + j];
            }
        }
    }
    assert_close(&i1, &i0, 1e-12, "input table");
    assert_close(&o1, &o0, 1e-12, "output table");
}

#[test]
fn sgd_config_errors_name_the_key() {
    let text: Vec<String> = ["a", "b"]
        .repeat(10)
        .into_iter()
        .map(String::from)
        .collect();
    let cfg = SkipGramConfig {
        min_count: 1,
        lr: 0.01,
        optimizer: SkipGramOptimizer::Sgd { min_lr: 0.1 },
        ..Default::default()
    };
    let e = train_skipgram(&text, &cfg).unwrap_err().to_string();
    assert!(e.contains("`lr`") && e.contains("min_lr 0.1"), "{e}");
}
