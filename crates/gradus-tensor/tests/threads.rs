//! The global pool of `gradus_tensor::threads` (its own test binary: it builds rayon's global
//! pool, once per process).

use gradus_tensor::{DType, Tensor};
use rayon::prelude::*;

#[test]
fn the_main_thread_is_a_worker_of_the_global_pool_and_results_do_not_change() {
    assert!(rayon::current_thread_index().is_none());
    gradus_tensor::threads::init_global_pool(Some(3)).unwrap();
    assert_eq!(rayon::current_num_threads(), 3);
    // the calling thread is one of the three
    assert!(rayon::current_thread_index().is_some());
    let sum: u64 = (0..10_000u64).into_par_iter().sum();
    assert_eq!(sum, 10_000 * 9_999 / 2);
    // a product split across the pool: the same bits as on one thread
    let a = Tensor::randn(&[300, 200], DType::F32, 1);
    let b = Tensor::randn(&[200, 300], DType::F32, 2);
    let c = a.matmul(&b).unwrap().to_vec::<f32>().unwrap();
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| a.matmul(&b).unwrap().to_vec::<f32>().unwrap());
    assert_eq!(c, single);
    // three threads spin between kernels only on a machine with three cores or more (see
    // tests/spinning.rs for the spinning itself)
    let cores = std::thread::available_parallelism().unwrap().get();
    let armed = (0..100).any(|_| {
        gradus_tensor::threads::warm();
        gradus_tensor::threads::spinning()
    });
    assert_eq!(armed, cores >= 3);
    let again = a.matmul(&b).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(again, single);
    // the pool exists now: a second call fails and leaves it as it is
    assert!(gradus_tensor::threads::init_global_pool(Some(2)).is_err());
    assert_eq!(rayon::current_num_threads(), 3);
}
