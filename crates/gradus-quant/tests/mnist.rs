//! MNIST models trained briefly on the shipped data, then quantized: test accuracy drops by at
//! most 0.3 points (the goal), the file is about 4x smaller, and it reads back to the same
//! predictions.

use gradus_data::mnist::Split;
use gradus_nn::Module;
use gradus_quant::{convert::quantize_model, file};
use gradus_run::{load_model, Config, ModelSpec, RunBuilder};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::DType;
use std::path::{Path, PathBuf};

fn mnist() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    p.to_string_lossy().into_owned()
}

fn train(dir: &Path, model: &str, optimizer: &str) -> PathBuf {
    let config = format!(
        "seed = 1\nepochs = 2\n[data]\nformat = \"mnist\"\npath = {:?}\nlimit = 3000\n\
         [model]\n{model}\n[optimizer]\n{optimizer}\n[batch]\nsize = 50\n",
        mnist()
    );
    let out = dir.join("run");
    let mut run = RunBuilder::new(Config::from_toml_str(&config).unwrap())
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    run.train().unwrap();
    out.join("model.safetensors")
}

/// `(features, labels)` of the first `n` samples of a split, as the model takes them.
fn samples(spec: &ModelSpec, split: Split, n: usize) -> (Vec<f32>, Vec<u32>) {
    let (ds, _, _) = gradus_run::setup::read(&spec.data, &mnist(), split, spec.like()).unwrap();
    let ds = ds.subset(&(0..n.min(ds.len())).collect::<Vec<_>>());
    let rows = ds.len();
    let (features, _, targets) = ds.into_parts();
    let x = spec.input_tensor(features, rows).unwrap();
    (
        x.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap(),
        targets.labels().unwrap().to_vec(),
    )
}

fn accuracy(logits: &[f32], labels: &[u32]) -> f64 {
    let k = logits.len() / labels.len();
    let right = logits
        .chunks(k)
        .zip(labels)
        .filter(|(r, &l)| {
            let best = r
                .iter()
                .enumerate()
                .fold(0, |b, (i, v)| if *v > r[b] { i } else { b });
            best == l as usize
        })
        .count();
    100.0 * right as f64 / labels.len() as f64
}

fn check(model_file: &Path, min_accuracy: f64) {
    let (model, spec) = load_model(model_file).unwrap();
    let (x, labels) = samples(&spec, Split::Test, 2000);
    let rows = labels.len();
    let mut shape = vec![rows];
    shape.extend(spec.model_input_shape());
    let xt = gradus_tensor::Tensor::from_vec(x.clone(), &shape).unwrap();
    let f32_logits = no_grad(|| model.forward(&xt))
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let (mut q, names) = quantize_model(model.as_ref(), &spec).unwrap();
    let (cal, cal_labels) = samples(&spec, Split::Train, 256);
    let per = cal.len() / cal_labels.len();
    let batches: Vec<_> = cal
        .chunks(64 * per)
        .map(|c| (c.to_vec(), c.len() / per))
        .collect();
    q.calibrate(&batches).unwrap();
    let mut q_logits = Vec::new();
    q.predict_into(&x, rows, &mut q_logits).unwrap();
    let (a32, a8) = (accuracy(&f32_logits, &labels), accuracy(&q_logits, &labels));
    eprintln!(
        "{}: f32 {a32:.2}%, int8 {a8:.2}% on {rows} test images",
        spec.model.kind
    );
    assert!(a32 >= min_accuracy, "the f32 model trained: {a32}");
    assert!(
        a32 - a8 <= 0.3,
        "int8 loses {:.2} points ({a32} -> {a8})",
        a32 - a8
    );

    // the file: about 4x smaller, read back to the same predictions, and run as a Module
    let bytes = file::to_bytes(&q, &names, &spec).unwrap();
    let f32_size = std::fs::metadata(model_file).unwrap().len() as f64;
    let ratio = f32_size / bytes.len() as f64;
    eprintln!(
        "{}: f32 file {f32_size} bytes, int8 file {} bytes ({ratio:.2}x)",
        spec.model.kind,
        bytes.len()
    );
    assert!(ratio > 3.5, "{ratio}");
    let (back, back_spec) = file::from_bytes(&bytes).unwrap();
    assert_eq!(back_spec.model.kind, spec.model.kind);
    let mut again = Vec::new();
    back.predict_into(&x, rows, &mut again).unwrap();
    assert_eq!(again, q_logits);
    let as_module = back.forward(&xt).unwrap();
    assert_eq!(as_module.shape(), &[rows, 10]);
    assert_eq!(as_module.to_vec::<f32>().unwrap(), q_logits);
}

#[test]
fn mnist_mlp_loses_at_most_0_3_points() {
    let dir = tempfile::tempdir().unwrap();
    let f = train(
        dir.path(),
        "kind = \"mlp\"\nhidden = [128]",
        "name = \"adam\"\nlr = 0.001",
    );
    check(&f, 80.0);
}

#[test]
fn mnist_lenet_loses_at_most_0_3_points() {
    let dir = tempfile::tempdir().unwrap();
    let f = train(dir.path(), "kind = \"cnn\"", "name = \"adam\"\nlr = 0.002");
    check(&f, 80.0);
}
