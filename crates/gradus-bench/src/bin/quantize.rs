//! Inference of the MNIST MLP 784-512-256-10 (ReLU) and of LeNet (the `cnn` kind) at batch 1
//! (latency) and batch 256 (throughput), three ways: the module's `forward` under `no_grad`
//! (`_f32`), the tape-free f32 `Predictor` (`_predictor`) and int8 (`_int8`, `gradus-quant`: int8
//! weights; dynamic per-row activations for Linear, calibrated ones for Conv2d):
//! `{mlp,cnn}_infer_b{1,256}_{f32,predictor,int8}`.
//!
//! `--only mlp` runs the MLP alone; `--int8-path avx2|avx512vnni|avxvnni|portable` runs the int8
//! products on that path instead of the fastest this CPU has; `--onnx-dir DIR` also writes `DIR/mlp.onnx` and `DIR/cnn.onnx`
//! (`gradus export --onnx` of the same models) for onnxruntime. `bench/quantize_compare.py` and
//! `bench/inference_compare.py` run it beside PyTorch (and onnxruntime).

use gradus_nn::Module;
use gradus_quant::{convert::quantize_model, Predictor};
use gradus_run::ModelSpec;
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::gemm_i8::Int8Path;
use gradus_tensor::{DType, Rng, Tensor};
use prost::Message;

fn spec(kind: &str, input_shape: &str) -> ModelSpec {
    serde_json::from_str(&format!(
        r#"{{"data":{{"format":"mnist","path":"x"}},"model":{kind},
            "task":"classification","outputs":10,"input_shape":{input_shape},"dtype":"f32",
            "features":[],"target":null,"vocab":null,"scaler":null,"users_items":null}}"#
    ))
    .expect("a model spec")
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let path = match arg("--int8-path").as_deref() {
        None => Int8Path::best(),
        Some("avx2") => Int8Path::Avx2,
        Some("avx512vnni") => Int8Path::Avx512Vnni,
        Some("avxvnni") => Int8Path::AvxVnni,
        Some("portable") => Int8Path::Portable,
        Some(other) => {
            eprintln!("--int8-path: unknown path `{other}` (avx2, avx512vnni, avxvnni, portable)");
            std::process::exit(2);
        }
    };
    if !path.available() {
        eprintln!("--int8-path: this CPU cannot run {path:?}");
        std::process::exit(2);
    }
    println!("int8 GEMM path: {path:?}");
    let models = [
        ("mlp", spec(r#"{"kind":"mlp","hidden":[512,256]}"#, "[784]")),
        ("cnn", spec(r#"{"kind":"cnn"}"#, "[1,28,28]")),
    ];
    let only = arg("--only");
    for (name, spec) in &models {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let model = spec.build(&mut Rng::seed(0)).expect("a model");
        model.eval();
        if let Some(dir) = arg("--onnx-dir") {
            let proto = gradus_run::onnx::to_onnx(model.as_ref(), spec).expect("exportable");
            let path = std::path::Path::new(&dir).join(format!("{name}.onnx"));
            std::fs::write(&path, proto.encode_to_vec()).expect("the ONNX file written");
        }
        run(name, model.as_ref(), spec, threads, path);
    }
}

/// Times the three ways of running `model` at batch 1 and 256.
fn run(name: &str, model: &dyn Module, spec: &ModelSpec, threads: usize, path: Int8Path) {
    let sample = spec.model_input_shape();
    let per: usize = sample.iter().product();
    let predictor = Predictor::new(model, spec).expect("a predictor");
    let (mut q, _) = quantize_model(model, spec).expect("quantizable");
    let calib = Rng::seed(2).uniform(&[64 * per], 0.0, 1.0, DType::F32);
    q.calibrate(&[(calib.to_vec::<f32>().expect("f32"), 64)])
        .expect("calibrated");
    q.int8_path = path;
    let report = |case: &str, batch: usize, s: f64| {
        let extra = serde_json::json!({"samples_per_s": batch as f64 / s, "threads": threads});
        gradus_bench::report(&format!("{name}_infer_b{batch}_{case}"), s, extra);
    };
    for batch in [1usize, 256] {
        let shape: Vec<usize> = std::iter::once(batch)
            .chain(sample.iter().copied())
            .collect();
        let x = Rng::seed(1).uniform(&shape, 0.0, 1.0, DType::F32);
        let xv = x.to_vec::<f32>().expect("f32");
        let reps = match (name, batch) {
            ("mlp", 1) => 2000,
            (_, 1) => 500,
            _ => 50,
        };
        let f = || {
            let y: Tensor = no_grad(|| model.forward(&x)).expect("forward");
            std::hint::black_box(y);
        };
        report(
            "f32",
            batch,
            gradus_bench::median_seconds(reps / 10, reps, f),
        );
        let mut out = Vec::new();
        let p = || {
            predictor
                .predict_into(&xv, batch, &mut out)
                .expect("predict");
            std::hint::black_box(&out);
        };
        report(
            "predictor",
            batch,
            gradus_bench::median_seconds(reps / 10, reps, p),
        );
        let i = || {
            q.predict_into(&xv, batch, &mut out).expect("forward");
            std::hint::black_box(&out);
        };
        report(
            "int8",
            batch,
            gradus_bench::median_seconds(reps / 10, reps, i),
        );
    }
}
