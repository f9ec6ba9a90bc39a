//! The pool's other threads kept awake between kernels (`gradus_tensor::threads::warm`): its own
//! test binary, as it builds rayon's global pool, once per process.

use gradus_tensor::threads::{init_global_pool, spinning, warm, SPIN};
use gradus_tensor::{DType, Tensor};

#[test]
fn warm_wakes_the_pool_which_sleeps_after_spin_and_wakes_again() {
    init_global_pool(Some(2)).unwrap();
    let a = Tensor::randn(&[300, 200], DType::F32, 1);
    let b = Tensor::randn(&[200, 300], DType::F32, 2);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| a.matmul(&b).unwrap().to_vec::<f32>().unwrap());
    // a kernel inside a pool of the caller's own (which calls `warm` there) leaves the global
    // pool asleep
    assert!(!spinning());
    if std::thread::available_parallelism().unwrap().get() < 2 {
        // more threads than cores: spinning would take the core from the work
        warm();
        assert!(!spinning());
        return;
    }
    // each try right after `warm`, so the check does not depend on how fast this thread runs
    let armed = || {
        (0..100).any(|_| {
            warm();
            spinning()
        })
    };
    assert!(armed());
    // a product split across the spinning pool: the same bits as on one thread
    assert_eq!(a.matmul(&b).unwrap().to_vec::<f32>().unwrap(), single);
    // with no kernel for `SPIN` the threads sleep (rayon's own idle loop), and wake again
    let slept = (0..1000).any(|_| {
        std::thread::sleep(SPIN);
        !spinning()
    });
    assert!(slept, "the pool's threads never stopped spinning");
    assert!(armed());
    assert_eq!(a.matmul(&b).unwrap().to_vec::<f32>().unwrap(), single);
}
