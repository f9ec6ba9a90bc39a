//! Loss values against hand computations of PyTorch's formulas, for the options the reference
//! file does not cover: class weights, ignore_index, reductions, NLL and KL divergence.

use gradus_nn::loss::{self, CrossEntropyOptions, Reduction};
use gradus_tensor::Tensor;

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

/// log_softmax of each row.
fn log_softmax_rows(v: &[f64], c: usize) -> Vec<f64> {
    v.chunks(c)
        .flat_map(|r| {
            let lse = r.iter().map(|x| x.exp()).sum::<f64>().ln();
            r.iter().map(move |x| x - lse).collect::<Vec<_>>()
        })
        .collect()
}

/// Class indices as the tensor the losses take (whole numbers; f64 here, f32 elsewhere).
fn classes(labels: &[usize]) -> Tensor {
    let v: Vec<f64> = labels.iter().map(|&c| c as f64).collect();
    Tensor::from_vec(v, &[labels.len()]).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn weighted_cross_entropy_with_ignore_and_smoothing() {
    let logits = [0.2, -1.0, 0.5, 1.5, 0.0, -0.3, 0.7, 0.7, 0.1];
    let (targets, w, eps) = ([2usize, 1, 0], [0.5, 2.0, 1.5], 0.3);
    let lp = log_softmax_rows(&logits, 3);
    // sample 1 (target 1) is ignored
    let kept = [0usize, 2];
    let nll: f64 = kept
        .iter()
        .map(|&i| -w[targets[i]] * lp[i * 3 + targets[i]])
        .sum();
    let smooth: f64 = kept
        .iter()
        .map(|&i| -(0..3).map(|c| w[c] * lp[i * 3 + c]).sum::<f64>())
        .sum();
    let denom: f64 = kept.iter().map(|&i| w[targets[i]]).sum();
    let want = (1.0 - eps) * nll / denom + eps / 3.0 * smooth / denom;
    let o = CrossEntropyOptions {
        weight: Some(t(&w, &[3])),
        ignore_index: Some(1),
        label_smoothing: eps,
        reduction: Reduction::Mean,
    };
    let got = loss::cross_entropy(&t(&logits, &[3, 3]), &classes(&targets), &o)
        .unwrap()
        .item()
        .unwrap();
    assert!(close(got, want), "{got} vs {want}");
    let none = loss::cross_entropy(
        &t(&logits, &[3, 3]),
        &classes(&targets),
        &CrossEntropyOptions {
            reduction: Reduction::None,
            ..o.clone()
        },
    )
    .unwrap();
    assert_eq!(none.to_vec_f64()[1], 0.0);
    let sum = loss::cross_entropy(
        &t(&logits, &[3, 3]),
        &classes(&targets),
        &CrossEntropyOptions {
            reduction: Reduction::Sum,
            ..o
        },
    )
    .unwrap();
    assert!(close(
        sum.item().unwrap(),
        (1.0 - eps) * nll + eps / 3.0 * smooth
    ));
}

#[test]
fn cross_entropy_rejects_bad_targets_and_weights() {
    let logits = t(&[0.0; 6], &[2, 3]);
    let default = CrossEntropyOptions::default();
    assert!(loss::cross_entropy(&logits, &classes(&[0, 3]), &default).is_err());
    assert!(loss::cross_entropy(&logits, &classes(&[0]), &default).is_err());
    let bad_w = CrossEntropyOptions {
        weight: Some(t(&[1.0, 1.0], &[2])),
        ..Default::default()
    };
    assert!(loss::cross_entropy(&logits, &classes(&[0, 1]), &bad_w).is_err());
    // an ignored target may be out of range, as PyTorch's -100
    let ignore = CrossEntropyOptions {
        ignore_index: Some(100),
        ..Default::default()
    };
    assert!(loss::cross_entropy(&logits, &classes(&[0, 100]), &ignore).is_ok());
}

#[test]
fn nll_ignores_label_smoothing_and_takes_log_probs() {
    let lp = [-0.5, -1.0, -2.0, -0.1];
    let o = CrossEntropyOptions {
        label_smoothing: 0.5,
        ..Default::default()
    };
    let got = loss::nll_loss(&t(&lp, &[2, 2]), &classes(&[1, 0]), &o)
        .unwrap()
        .item()
        .unwrap();
    assert!(close(got, (1.0 + 2.0) / 2.0));
}

#[test]
fn kl_divergence_reductions() {
    let (logq, p): ([f64; 4], [f64; 4]) = ([-1.0, -0.5, -2.0, -0.2], [0.25, 0.75, 0.0, 1.0]);
    let pointwise: Vec<f64> = p
        .iter()
        .zip(&logq)
        .map(|(&p, &q)| if p > 0.0 { p * (p.ln() - q) } else { 0.0 })
        .collect();
    let total: f64 = pointwise.iter().sum();
    let run = |r| loss::kl_div(&t(&logq, &[2, 2]), &t(&p, &[2, 2]), r).unwrap();
    assert!(close(run(Reduction::Sum).item().unwrap(), total));
    assert!(close(
        run(Reduction::BatchMean).item().unwrap(),
        total / 2.0
    ));
    assert!(close(run(Reduction::Mean).item().unwrap(), total / 4.0));
    assert!(run(Reduction::None)
        .to_vec_f64()
        .iter()
        .zip(&pointwise)
        .all(|(a, b)| close(*a, *b)));
}

#[test]
fn an_empty_batch_reduces_as_torch() {
    // torch: mean and batchmean of no values are 0 / 0 = NaN, sum is 0
    let empty = t(&[], &[0, 3]);
    let r = |red| loss::reduce(&empty, red).unwrap().item().unwrap();
    assert!(r(Reduction::Mean).is_nan());
    assert!(r(Reduction::BatchMean).is_nan());
    assert_eq!(r(Reduction::Sum), 0.0);
}

#[test]
fn regression_losses_by_hand() {
    let (x, y) = (t(&[1.0, -2.0, 0.5], &[3]), t(&[0.0, 0.0, 0.0], &[3]));
    assert!(close(
        loss::mse_loss(&x, &y, Reduction::Mean)
            .unwrap()
            .item()
            .unwrap(),
        5.25 / 3.0
    ));
    assert!(close(
        loss::l1_loss(&x, &y, Reduction::Sum)
            .unwrap()
            .item()
            .unwrap(),
        3.5
    ));
    // delta 1: 0.5 (d = 1 is on the linear branch: 1 * (1 - 0.5)), 1.5, 0.125
    assert!(close(
        loss::huber_loss(&x, &y, 1.0, Reduction::Sum)
            .unwrap()
            .item()
            .unwrap(),
        0.5 + 1.5 + 0.125
    ));
    // BCE: log(1 + e^-x) for target 1 at large x stays finite and accurate
    let big = loss::bce_with_logits(
        &t(&[800.0, -800.0], &[2]),
        &t(&[1.0, 0.0], &[2]),
        Reduction::Sum,
    )
    .unwrap();
    assert_eq!(big.item().unwrap(), 0.0);
    let wrong =
        loss::bce_with_logits(&t(&[800.0], &[1]), &t(&[0.0], &[1]), Reduction::Mean).unwrap();
    assert!(close(wrong.item().unwrap(), 800.0));
}

#[test]
fn a_bad_target_is_named_with_its_loss_position_and_value() {
    let logits = t(&[0.0; 9], &[3, 3]);
    let o = CrossEntropyOptions::default();
    for (bad, problem) in [
        (-1.0, "is negative"),
        (0.5, "is not a whole number"),
        (f64::NAN, "is not a whole number"),
        (3.0, "is out of range for an axis of size 3"),
    ] {
        let targets = t(&[0.0, 2.0, bad], &[3]);
        let ce = loss::cross_entropy(&logits, &targets, &o).unwrap_err();
        assert_eq!(
            ce.to_string(),
            format!("cross_entropy: index {bad} at position [2] {problem}")
        );
        let nll = loss::nll_loss(&logits, &targets, &o).unwrap_err();
        assert_eq!(
            nll.to_string(),
            format!("nll_loss: index {bad} at position [2] {problem}")
        );
    }
    // targets of another shape than [N]
    assert!(loss::cross_entropy(&logits, &t(&[0.0; 3], &[3, 1]), &o).is_err());
}

#[test]
fn ignore_index_may_be_negative_as_pytorchs_minus_100() {
    let logits = [0.2, -1.0, 0.5, 1.5, 0.0, -0.3, 0.7, 0.7, 0.1];
    let lp = log_softmax_rows(&logits, 3);
    let o = CrossEntropyOptions {
        ignore_index: Some(-100),
        ..Default::default()
    };
    // the ignored sample neither adds to the sum nor counts in the mean
    let got = loss::cross_entropy(&t(&logits, &[3, 3]), &t(&[2.0, -100.0, 0.0], &[3]), &o)
        .unwrap()
        .item()
        .unwrap();
    let want = -(lp[2] + lp[6]) / 2.0;
    assert!(close(got, want), "{got} vs {want}");
    // any other negative target is still an error
    assert!(loss::cross_entropy(&t(&logits, &[3, 3]), &t(&[2.0, -1.0, 0.0], &[3]), &o).is_err());
}

#[test]
fn targets_in_f32_give_the_loss_and_gradient_of_targets_in_f64() {
    let logits = t(&[0.2, -1.0, 0.5, 1.5, 0.0, -0.3, 0.7, 0.7, 0.1], &[3, 3]);
    let o = CrossEntropyOptions {
        weight: Some(t(&[0.5, 2.0, 1.5], &[3])),
        ignore_index: Some(1),
        label_smoothing: 0.1,
        reduction: Reduction::Mean,
    };
    let run = |targets: Tensor| {
        let x = logits.detach().requires_grad_(true);
        let l = loss::cross_entropy(&x, &targets, &o).unwrap();
        l.backward().unwrap();
        (l.item().unwrap(), x.grad().unwrap().to_vec_f64())
    };
    let f64_targets = classes(&[2, 1, 0]);
    let f32_targets = f64_targets.to_dtype(gradus_tensor::DType::F32).unwrap();
    assert_eq!(run(f64_targets), run(f32_targets));
}
