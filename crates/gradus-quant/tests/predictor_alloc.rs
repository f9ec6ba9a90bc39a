//! The `Predictor` allocates nothing once it has run at a batch size: allocations made by the
//! calling thread are counted around later calls (the GEMMs of these sizes run on that thread).

use gradus_quant::Predictor;
use gradus_run::ModelSpec;
use gradus_tensor::{DType, Rng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn no_allocation_after_the_first_call_at_a_batch_size() {
    for (model, shape) in [
        (r#"{"kind":"mlp","hidden":[32,16]}"#, "[20]"),
        (r#"{"kind":"cnn"}"#, "[1,28,28]"),
    ] {
        let spec: ModelSpec = serde_json::from_str(&format!(
            r#"{{"data":{{"format":"mnist","path":"x"}},"model":{model},"task":"classification",
            "outputs":10,"input_shape":{shape},"dtype":"f32","features":[],"target":null,
            "vocab":null,"scaler":null,"users_items":null}}"#
        ))
        .unwrap();
        let net = spec.build(&mut Rng::seed(0)).unwrap();
        let p = Predictor::new(net.as_ref(), &spec).unwrap();
        let per: usize = p.input_shape().iter().product();
        let x = Rng::seed(1)
            .uniform(&[5 * per], 0.0, 1.0, DType::F32)
            .to_vec::<f32>()
            .unwrap();
        let mut y = Vec::new();
        p.predict_into(&x, 5, &mut y).unwrap();
        let before = allocations();
        p.predict_into(&x, 5, &mut y).unwrap();
        p.predict_into(&x[..2 * per], 2, &mut y).unwrap();
        p.predict_into(&x, 5, &mut y).unwrap();
        assert_eq!(allocations() - before, 0, "{} allocated", spec.model.kind);
    }
}
