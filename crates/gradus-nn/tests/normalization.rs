//! Normalization layers on tiny batches: batch norm refuses one value per channel in training
//! (PyTorch: "Expected more than 1 value per channel when training") with an error naming the
//! layer, and leaves its running statistics alone; per-sample norms take a batch of one.

use gradus_nn::layers::{BatchNorm, LayerNorm};
use gradus_nn::Module;
use gradus_tensor::{DType, Tensor};

fn stats(bn: &BatchNorm) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    (
        bn.running_mean.tensor().to_vec_f64(),
        bn.running_var.tensor().to_vec_f64(),
        bn.num_batches_tracked.tensor().to_vec_f64(),
    )
}

#[test]
fn batch_norm_1d_on_one_row_in_training_is_an_error_naming_the_layer() {
    let bn = BatchNorm::new_1d(3);
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0], &[1, 3]).unwrap();
    let err = bn
        .forward(&x)
        .expect_err("one value per channel")
        .to_string();
    assert!(err.starts_with("BatchNorm1d: "), "{err}");
    assert!(
        err.contains("expected more than 1 value per channel when training"),
        "{err}"
    );
    assert!(
        err.contains("BatchNorm1d(3)") && err.contains("[1, 3]"),
        "{err}"
    );
    // the running statistics are untouched (they were pulled from 1.0 to 0.9 before)
    assert_eq!(stats(&bn), (vec![0.0; 3], vec![1.0; 3], vec![0.0]));
    // evaluation mode normalizes one row with the running statistics
    bn.eval();
    let y = bn.forward(&x).unwrap().to_vec_f64();
    let want: Vec<f64> = [0.5f64, -1.0, 2.0]
        .iter()
        .map(|v| v / (1.0f64 + 1e-5).sqrt())
        .collect();
    assert!(
        y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
        "{y:?}"
    );
}

#[test]
fn batch_norm_counts_values_per_channel_over_batch_and_positions() {
    // (layer, input shape, accepted in training): errors only at 1 value per channel
    let cases = [
        (BatchNorm::new_1d(3), vec![1, 3, 4], true),
        (BatchNorm::new_1d(3), vec![1, 3, 1], false),
        (BatchNorm::new_1d(3), vec![2, 3], true),
        (BatchNorm::new_1d(3), vec![2, 3, 1], true),
        (BatchNorm::new_2d(2), vec![1, 2, 3, 3], true),
        (BatchNorm::new_2d(2), vec![1, 2, 1, 1], false),
        (BatchNorm::new_2d(2), vec![2, 2, 1, 1], true),
        (BatchNorm::new_2d(2), vec![1, 2, 2, 1], true),
    ];
    for (bn, shape, ok) in cases {
        let n: usize = shape.iter().product();
        let x = Tensor::from_vec((0..n).map(|i| i as f32 * 0.5 - 1.0).collect(), &shape).unwrap();
        match bn.forward(&x) {
            Ok(y) => {
                assert!(ok, "{} accepted {shape:?}", bn.kind());
                assert!(y.to_vec_f64().iter().all(|v| v.is_finite()));
                assert_eq!(stats(&bn).2, vec![1.0]);
            }
            Err(e) => {
                assert!(!ok, "{} refused {shape:?}: {e}", bn.kind());
                assert!(e.to_string().starts_with(bn.kind()), "{e}");
                assert_eq!(stats(&bn).2, vec![0.0]);
            }
        }
    }
}

#[test]
fn batch_norm_on_two_rows_uses_the_unbiased_variance() {
    let bn = BatchNorm::new_1d(1);
    let x = Tensor::from_vec(vec![1.0f32, 3.0], &[2, 1]).unwrap();
    let y = bn.forward(&x).unwrap().to_vec_f64();
    assert!(
        (y[0] + 1.0).abs() < 1e-4 && (y[1] - 1.0).abs() < 1e-4,
        "{y:?}"
    );
    // mean 2, biased variance 1, unbiased 2: running 0.9 * (0, 1) + 0.1 * (2, 2)
    let (mean, var, _) = stats(&bn);
    assert!(
        (mean[0] - 0.2).abs() < 1e-6 && (var[0] - 1.1).abs() < 1e-6,
        "{mean:?} {var:?}"
    );
}

#[test]
fn batch_norm_on_an_empty_batch_gives_an_empty_output_and_keeps_its_statistics() {
    let bn = BatchNorm::new_1d(3);
    let y = bn.forward(&Tensor::zeros(&[0, 3], DType::F32)).unwrap();
    assert_eq!(y.shape(), &[0, 3]);
    assert_eq!(stats(&bn), (vec![0.0; 3], vec![1.0; 3], vec![0.0]));
}

#[test]
fn shape_errors_name_the_normalization_layer() {
    let ones = |s: &[usize]| Tensor::ones(s, DType::F32);
    let e = BatchNorm::new_2d(3)
        .forward(&ones(&[2, 3]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("BatchNorm2d: "), "{e}");
    let e = BatchNorm::new_1d(3)
        .forward(&ones(&[2, 4]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("BatchNorm1d: "), "{e}");
    let e = LayerNorm::new(&[4])
        .forward(&ones(&[2, 3]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("LayerNorm: "), "{e}");
}

#[test]
fn layer_norm_takes_a_batch_of_one_as_pytorch() {
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0], &[1, 3]).unwrap();
    let y = LayerNorm::new(&[3]).forward(&x).unwrap().to_vec_f64();
    // mean 0.5, biased variance 1.5
    let want: Vec<f64> = [0.0f64, -1.5, 1.5]
        .iter()
        .map(|v| v / (1.5f64 + 1e-5).sqrt())
        .collect();
    assert!(
        y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5),
        "{y:?}"
    );
    // one normalized element: each value minus itself, the bias (zeros), no error
    let y = LayerNorm::new(&[1])
        .forward(&Tensor::ones(&[2, 1], DType::F32))
        .unwrap();
    assert_eq!(y.to_vec_f64(), vec![0.0, 0.0]);
}
