//! Inference of the MNIST MLP 784-512-256-10 (ReLU) in f32 (no tape) and int8
//! (`gradus-quant`: int8 weights, dynamic per-row activations), at batch 1 (latency) and batch 256
//! (throughput): `mlp_infer_b{1,256}_{f32,int8}`. `bench/quantize_compare.py` runs it beside
//! PyTorch's `quantize_dynamic` on the same model.

use gradus_quant::convert::quantize_model;
use gradus_run::ModelSpec;
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{DType, Rng, Tensor};

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let spec: ModelSpec = serde_json::from_str(
        r#"{"data":{"format":"mnist","path":"x"},"model":{"kind":"mlp","hidden":[512,256]},
            "task":"classification","outputs":10,"input_shape":[784],"dtype":"f32",
            "features":[],"target":null,"vocab":null,"scaler":null,"users_items":null}"#,
    )
    .expect("a model spec");
    let model = spec.build(&mut Rng::seed(0)).expect("an MLP");
    model.eval();
    let (q, _) = quantize_model(model.as_ref(), &spec).expect("quantizable");
    println!(
        "int8 GEMM path: {:?}",
        gradus_tensor::gemm_i8::Int8Path::best()
    );
    for batch in [1usize, 256] {
        let x = Rng::seed(1).uniform(&[batch, 784], 0.0, 1.0, DType::F32);
        let xv = x.to_vec::<f32>().expect("f32");
        let reps = if batch == 1 { 2000 } else { 50 };
        let f = || {
            let y: Tensor = no_grad(|| model.forward(&x)).expect("forward");
            std::hint::black_box(y);
        };
        let s = gradus_bench::median_seconds(reps / 10, reps, f);
        let extra = serde_json::json!({"samples_per_s": batch as f64 / s, "threads": threads});
        gradus_bench::report(&format!("mlp_infer_b{batch}_f32"), s, extra);
        let mut out = Vec::new();
        let i = || {
            q.predict_into(&xv, batch, &mut out).expect("forward");
            std::hint::black_box(&out);
        };
        let s = gradus_bench::median_seconds(reps / 10, reps, i);
        let extra = serde_json::json!({"samples_per_s": batch as f64 / s, "threads": threads});
        gradus_bench::report(&format!("mlp_infer_b{batch}_int8"), s, extra);
    }
}
