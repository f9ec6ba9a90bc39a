//! `gradus quantize` end to end: train, quantize, then `eval` and `predict` the quantized file;
//! errors name the file or the tensor at fault.

mod common;

use common::{absolute_data, assert_fails_with, gradus, repo, stdout, train, write};

const MNIST_MLP: &str = r#"
seed = 2
epochs = 2
[data]
format = "mnist"
path = "data/mnist"
limit = 2000
test_path = "test"
[model]
kind = "mlp"
hidden = [64]
[optimizer]
name = "adam"
lr = 0.001
[batch]
size = 50
"#;

fn accuracy(eval_output: &str) -> f64 {
    let words: Vec<&str> = eval_output.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "accuracy")
        .expect("an accuracy");
    words[at + 1].parse().unwrap()
}

#[test]
fn a_quantized_mnist_mlp_evaluates_within_0_3_points_and_is_4x_smaller() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "c.toml", &absolute_data(MNIST_MLP));
    let run = train(dir.path(), &cfg, "run", &[]);
    let model = run.join("model.safetensors");
    let q = dir.path().join("model.int8.safetensors");
    let (m, qs) = (model.to_str().unwrap(), q.to_str().unwrap());
    let said = stdout(&gradus(&[
        "quantize",
        m,
        "--calibrate",
        "data/mnist",
        "--out",
        qs,
    ]));
    assert!(said.contains("int8 layers"), "{said}");
    let (f32_acc, int8_acc) = (
        accuracy(&stdout(&gradus(&["eval", m]))),
        accuracy(&stdout(&gradus(&["eval", qs]))),
    );
    assert!(f32_acc > 0.8, "trained: {f32_acc}");
    assert!(
        f32_acc - int8_acc <= 0.003,
        "f32 {f32_acc}, int8 {int8_acc}"
    );
    let ratio = std::fs::metadata(&model).unwrap().len() as f64
        / std::fs::metadata(&q).unwrap().len() as f64;
    assert!(ratio > 3.5, "{ratio}");

    // a tensor renamed in the header (same length, so the file stays valid): eval names it
    let mut b = std::fs::read(&q).unwrap();
    let name = b"\"2.weight_scale\"";
    let at = b
        .windows(name.len())
        .position(|w| w == name)
        .expect("the tensor in the header");
    b[at + 14] = b'X';
    let broken = dir.path().join("broken.safetensors");
    std::fs::write(&broken, b).unwrap();
    assert_fails_with(
        &gradus(&["eval", broken.to_str().unwrap()]),
        &["broken.safetensors", "2.weight_scale", "missing"],
    );
}

#[test]
fn a_quantized_logistic_model_predicts_like_the_f32_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("examples/breast-cancer.toml");
    let run = train(
        dir.path(),
        cfg.to_str().unwrap(),
        "run",
        &["--set", "epochs=5"],
    );
    let model = run.join("model.safetensors");
    let q = dir.path().join("q.safetensors");
    // no convolutions: no calibration needed
    stdout(&gradus(&[
        "quantize",
        model.to_str().unwrap(),
        "--out",
        q.to_str().unwrap(),
    ]));
    let rows = repo().join("data/sklearn/breast_cancer.csv");
    let predict = |m: &std::path::Path| {
        stdout(&gradus(&[
            "predict",
            m.to_str().unwrap(),
            "--input",
            rows.to_str().unwrap(),
        ]))
    };
    let (a, b) = (predict(&model), predict(&q));
    let classes = |t: &str| {
        t.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (ca, cb) = (classes(&a), classes(&b));
    assert_eq!(ca.len(), cb.len());
    let same = ca.iter().zip(&cb).filter(|(x, y)| x == y).count();
    assert!(
        same * 100 >= ca.len() * 99,
        "{same} of {} predictions agree",
        ca.len()
    );
}

#[test]
fn quantize_errors_name_the_file_and_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.safetensors");
    let o = out.to_str().unwrap();
    let junk = write(dir.path(), "junk.safetensors", "not a model");
    assert_fails_with(
        &gradus(&["quantize", &junk, "--out", o]),
        &["junk.safetensors"],
    );
    assert_fails_with(
        &gradus(&["quantize", "no/such/model.safetensors", "--out", o]),
        &["no/such/model.safetensors"],
    );
    // an f32 file is not a quantized file, and a quantized file is not trainable
    assert_fails_with(&gradus(&["eval", &junk]), &["junk.safetensors"]);
}

#[test]
fn a_cnn_quantizes_with_the_percentile_observer_and_a_bad_percentile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.safetensors");
    let o = out.to_str().unwrap();
    assert_fails_with(
        &gradus(&[
            "quantize",
            "no/such/model.safetensors",
            "--out",
            o,
            "--observer",
            "percentile",
            "--percentile",
            "30",
        ]),
        &["--percentile", "30"],
    );
    let cnn = MNIST_MLP
        .replace("limit = 2000", "limit = 300")
        .replace("epochs = 2", "epochs = 1")
        .replace("kind = \"mlp\"\nhidden = [64]", "kind = \"cnn\"");
    let cfg = write(dir.path(), "c.toml", &absolute_data(&cnn));
    let run = train(dir.path(), &cfg, "run", &[]);
    let model = run.join("model.safetensors");
    let quantize = |observer: &str| {
        stdout(&gradus(&[
            "quantize",
            model.to_str().unwrap(),
            "--calibrate",
            "data/mnist",
            "--batches",
            "2",
            "--out",
            o,
            "--observer",
            observer,
            "--percentile",
            "99.9",
        ]))
    };
    assert!(quantize("percentile").contains("5 int8 layers"));
    let pct = std::fs::read(&out).unwrap();
    assert!(quantize("minmax").contains("5 int8 layers"));
    // the calibrated input ranges differ (a clipped range for the ReLU outputs into conv2)
    assert_ne!(pct, std::fs::read(&out).unwrap());
    let acc = accuracy(&stdout(&gradus(&["eval", o])));
    assert!((0.0..=1.0).contains(&acc), "{acc}");
}
