//! Saving and loading the checkpoint of a 50 M-parameter model: an MLP 5000-5000-5000-10
//! (50,060,010 f32 parameters) after one Adam step, so the file holds the weights and both
//! moments (12 bytes per parameter, about 600 MB). Saving streams the tensors to a temporary
//! file, fsyncs and renames it; loading streams the file (header, then each tensor into its
//! destination) to restore model and optimizer.
//! Reports the median of 5 timed runs of each (after one untimed run) with the file size and
//! throughput; the loads read a file the page cache holds. The file is written to the system's
//! temporary directory and removed afterwards. On Linux it also reports the peak extra resident
//! memory of the first save and the first load (`peak_extra_bytes`: the high-water mark, reset
//! through `/proc/self/clear_refs`, minus the resident size before; the page cache is not
//! counted; the fresh optimizer's buffers are made resident before).
//! Accepts `--threads N`.

use gradus_bench::{median_seconds, report};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::checkpoint::{self, RunState};

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`), where there is one.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident memory that `f` adds, where the platform can tell (Linux).
fn peak_extra(f: impl FnOnce()) -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let before = status_bytes("VmRSS")?;
    f();
    Some(status_bytes("VmHWM")?.saturating_sub(before))
}

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let sizes = [5000, 5000, 5000, 10];
    let model = Mlp::new(&sizes, Activation::ReLU, &mut Rng::seed(0));
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let n: usize = params.iter().map(Tensor::numel).sum();
    let mut optimizer = Optimizer::new(Adam::new(1e-3), &params).expect("adam");
    let x = Tensor::randn(&[2, sizes[0]], DType::F32, 1);
    let y = model.forward(&x).expect("forward");
    y.mul(&y)
        .and_then(|s| s.sum_all())
        .and_then(|l| l.backward())
        .expect("backward");
    optimizer.step().expect("step");

    let dir = std::env::temp_dir().join(format!("gradus-bench-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("checkpoint.safetensors");
    let progress = RunState::default();
    // the peaks first, before the timed runs leave freed buffers resident in the allocator
    let save_peak =
        peak_extra(|| checkpoint::save(&path, &model, &optimizer, None, &progress).expect("save"));
    let save = median_seconds(1, 5, || {
        checkpoint::save(&path, &model, &optimizer, None, &progress).expect("save")
    });
    let bytes = std::fs::metadata(&path).expect("checkpoint").len() as f64;
    let fresh = Mlp::new(&sizes, Activation::ReLU, &mut Rng::seed(1));
    let fresh_params: Vec<Tensor> = fresh.parameters().iter().map(|p| p.tensor()).collect();
    let mut fresh_opt = Optimizer::new(Adam::new(1e-3), &fresh_params).expect("adam");
    // the fresh optimizer's zeroed buffers are not resident until written: fault them in first,
    // so that the peak counts what loading adds, not pages the first step would touch anyway
    for state in fresh_opt.states_mut() {
        for buffer in state.slots.iter_mut().flatten() {
            *buffer = gradus_optim::Buffer::full(buffer.shape(), 1.0, buffer.dtype());
        }
    }
    let load_peak = peak_extra(|| {
        checkpoint::load(&path, &fresh, &mut fresh_opt, None).expect("load");
    });
    let load = median_seconds(1, 5, || {
        checkpoint::load(&path, &fresh, &mut fresh_opt, None).expect("load");
    });
    let _ = std::fs::remove_dir_all(&dir);
    for (name, s, peak) in [
        ("checkpoint_save_50m", save, save_peak),
        ("checkpoint_load_50m", load, load_peak),
    ] {
        report(
            name,
            s,
            serde_json::json!({"params": n, "bytes": bytes, "gb_per_s": bytes / s / 1e9,
                "peak_extra_bytes": peak, "threads": threads}),
        );
    }
}
