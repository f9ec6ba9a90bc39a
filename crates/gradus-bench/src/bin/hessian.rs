//! The top Hessian eigenvalue of the MNIST MLP 784-512-256-10 (ReLU, softmax cross-entropy, f32,
//! 535,818 parameters) on the first `--samples` MNIST training images, by gradus-analysis's
//! Lanczos: the gradus side of `bench/hessian_vs_pyhessian.py`. `--save PATH` writes the weights
//! (safetensors) so that PyTorch analyses the very same model.
//!
//! Prints `hessian_hvp` (one Hessian-vector product from scratch: forward, gradient with its
//! graph, double backward), `hessian_hvp_kept` (one product on a kept gradient graph, as
//! PyHessian's loop does) and `hessian_top_eig_lanczos` (`--steps` Lanczos steps on kept graphs,
//! building the graph included, with the eigenvalue and its residual) as JSON lines; with
//! `--surface N` also `loss_surface` (an N × N filter-normalized loss surface, one run).

use gradus_analysis::lanczos::extreme_eigenvalues;
use gradus_analysis::model_objective::model_objective;
use gradus_analysis::vector::gaussian;
use gradus_bench::{median_seconds, report};
use gradus_data::mnist::{self, Split};
use gradus_nn::{layers::Activation, models::Mlp};
use gradus_tensor::{DType, Rng};
use gradus_train::task::Task;
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let samples: usize = arg("--samples").map_or(Ok(1000), |s| s.parse())?;
    let steps: usize = arg("--steps").map_or(Ok(20), |s| s.parse())?;
    let reps: usize = arg("--reps").map_or(Ok(3), |s| s.parse())?;
    let model = Mlp::new(&[784, 512, 256, 10], Activation::ReLU, &mut Rng::seed(0));
    if let Some(path) = arg("--save") {
        gradus_nn::state_dict::save(&model, path)?;
    }
    // flattened to 784 features, as the MLP takes them
    let (x, _, y) = mnist::load("data/mnist", Split::Train)?.into_parts();
    let data = gradus_data::Dataset::new(x, vec![784], y)?;
    let task = Task::Classification { classes: 10 };
    let batch: Vec<usize> = (0..samples.min(data.len())).collect();
    let f = model_objective(&model, &task, &data, &[batch], DType::F32)?;
    let v = gaussian(&f.values(), &mut Rng::seed(1))?;
    let hvp = median_seconds(1, reps, || {
        f.hvp(&v).unwrap();
    });
    report(
        "hessian_hvp",
        hvp,
        serde_json::json!({"parameters": f.dim(), "samples": samples, "threads": threads}),
    );
    let kept = f.clone().keep_gradient_graphs();
    kept.hvp(&v)?; // builds the graph
    let hvp_kept = median_seconds(0, reps, || {
        kept.hvp(&v).unwrap();
    });
    report(
        "hessian_hvp_kept",
        hvp_kept,
        serde_json::json!({"parameters": f.dim(), "samples": samples, "threads": threads}),
    );
    let mut times = Vec::new();
    let mut found = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let fresh = f.clone().keep_gradient_graphs();
        let e = extreme_eigenvalues(&fresh, 1, steps, 0)?;
        times.push(t.elapsed().as_secs_f64());
        found = Some(e);
    }
    times.sort_by(f64::total_cmp);
    let e = found.expect("at least one repetition");
    report(
        "hessian_top_eig_lanczos",
        times[times.len() / 2],
        serde_json::json!({
            "eigenvalue": e.top[0].value,
            "residual": e.top[0].residual,
            "hvps": e.steps,
            "loss": f.loss()?,
            "threads": threads,
        }),
    );
    if let Some(points) = arg("--surface") {
        let points: usize = points.parse()?;
        let t = Instant::now();
        let grid = gradus_analysis::landscape::surface(&f, points, 1.0, 0)?;
        report(
            "loss_surface",
            t.elapsed().as_secs_f64(),
            serde_json::json!({"points": grid.losses.len() * grid.coordinates.len(),
                "samples": samples, "threads": threads}),
        );
    }
    Ok(())
}
