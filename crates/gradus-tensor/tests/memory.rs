//! The storage memory counters, and the peak memory a checkpointed deep model saves. One test in
//! its own binary: the counters are process-wide, so no other test may run beside it.

use gradus_tensor::autodiff::checkpoint;
use gradus_tensor::{memory, DType, Rng, Tensor};

/// Peak bytes above the bytes alive before, of a forward and backward pass through `depth`
/// layers `tanh(h w)` of width 64 on a batch of 128, each layer checkpointed or not.
fn peak_of_step(ws: &[Tensor], x: &Tensor, checkpointed: bool) -> usize {
    let base = memory::live_bytes();
    memory::reset_peak();
    let mut h = x.clone();
    for w in ws {
        let w = w.clone();
        let layer = move |xs: &[Tensor]| xs[0].matmul(&w)?.tanh();
        h = if checkpointed {
            checkpoint(layer, &[&h]).unwrap()
        } else {
            layer(&[h]).unwrap()
        };
    }
    h.mean_all().unwrap().backward().unwrap();
    drop(h);
    ws.iter().for_each(|w| w.set_grad(None));
    memory::peak_bytes() - base
}

#[test]
fn counters_follow_buffers_and_checkpoints_lower_the_peak_of_a_deep_model() {
    // a buffer is counted while any view of it lives
    let before = memory::live_bytes();
    let t = Tensor::zeros(&[1000], DType::F64);
    let view = t.reshape(&[10, 100]).unwrap();
    assert_eq!(memory::live_bytes(), before + 8000);
    drop(t);
    assert_eq!(memory::live_bytes(), before + 8000);
    drop(view);
    assert_eq!(memory::live_bytes(), before);
    memory::reset_peak();
    drop(Tensor::zeros(&[500], DType::F32));
    assert_eq!(memory::peak_bytes(), before + 2000);
    assert_eq!(memory::live_bytes(), before);

    let mut rng = Rng::seed(0);
    let ws: Vec<Tensor> = (0..24)
        .map(|_| {
            rng.normal(&[64, 64], 0.0, 0.125, DType::F32)
                .requires_grad_(true)
        })
        .collect();
    let x = rng.normal(&[128, 64], 0.0, 1.0, DType::F32);
    let plain = peak_of_step(&ws, &x, false);
    let checkpointed = peak_of_step(&ws, &x, true);
    // plain: every layer keeps its product and its tanh (2 x 32 KiB); checkpointed: one output
    // per layer plus one layer's recomputation at a time
    let activation = 128 * 64 * 4;
    assert!(plain >= 2 * 24 * activation, "plain peak {plain}");
    assert!(
        checkpointed * 3 / 2 < plain,
        "checkpointed peak {checkpointed} is not well below the plain {plain}"
    );
    drop((ws, x));
    assert_eq!(memory::live_bytes(), before, "the passes leaked buffers");
}
