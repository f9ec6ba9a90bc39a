use super::*;
use crate::precision::convert::f32_to_bf16_bits;
use crate::Rng;

/// Normal values rounded to bf16, every 11th one exactly zero and every 13th negated zero.
fn operand(len: usize, seed: u64) -> Vec<u16> {
    let u = Rng::seed(seed).normal(&[len], 0.0, 1.0, crate::DType::F32);
    let u = u.to_vec::<f32>().unwrap();
    u.iter()
        .enumerate()
        .map(|(i, &x)| match (i % 11, i % 13) {
            (0, _) => 0,
            (_, 0) => 0x8000,
            _ => f32_to_bf16_bits(x),
        })
        .collect()
}

fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 1, 2),
    (3, 5, 7),
    (8, 32, 2),
    (9, 33, 17),
    (16, 64, 256),
    (13, 70, 301),  // odd k over three k-blocks
    (65, 300, 513), // above PARALLEL_WORK: tasks on rayon, edge rows and columns
    (130, 7, 64),
    (0, 3, 4),
    (3, 0, 4),
    (2, 3, 0),
];

#[test]
fn every_available_path_equals_the_portable_one_on_odd_shapes_and_thread_counts() {
    let paths = Bf16Path::all_available();
    eprintln!("bf16 GEMM paths on this CPU: {paths:?}");
    for &(m, n, k) in SHAPES {
        let seed = (m * 1_000_000 + n * 1000 + k) as u64;
        let (a, b) = (operand(m * k, seed), operand(k * n, seed + 1));
        // row-major operands, and the same values through transposed (column-major) views
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        let mut want = vec![f32::NAN; m * n];
        portable((m, n, k), (&a, (k, 1)), (&b, (n, 1)), &mut want);
        for &path in &paths {
            for threads in [1, 3] {
                let mut got = vec![f32::NAN; m * n];
                on_threads(threads, || {
                    gemm_bf16_with(path, (m, n, k), (&a, (k, 1)), (&b, (n, 1)), &mut got)
                });
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{path:?} on {threads} threads, {m}x{k}x{n}");
                let mut got_t = vec![f32::NAN; m * n];
                on_threads(threads, || {
                    gemm_bf16_with(path, (m, n, k), (&at, (1, m)), (&bt, (1, k)), &mut got_t)
                });
                let same = got_t
                    .iter()
                    .zip(&want)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "{path:?} transposed views, {threads} threads, {m}x{k}x{n}"
                );
            }
        }
    }
}

fn transpose(x: &[u16], rows: usize, cols: usize) -> Vec<u16> {
    let mut t = vec![0; x.len()];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = x[i * cols + j];
        }
    }
    t
}

#[test]
fn results_are_within_the_f32_accumulation_bound_of_exact_sums() {
    let (m, n, k) = (17, 40, 777);
    let (a, b) = (operand(m * k, 5), operand(k * n, 6));
    let f = |x: u16| f32::from_bits((x as u32) << 16) as f64;
    for path in Bf16Path::all_available() {
        let mut c = vec![0.0f32; m * n];
        gemm_bf16_with(path, (m, n, k), (&a, (k, 1)), (&b, (n, 1)), &mut c);
        for i in 0..m {
            for j in 0..n {
                let terms = (0..k).map(|p| f(a[i * k + p]) * f(b[p * n + j]));
                let exact: f64 = terms.clone().sum();
                let mag: f64 = terms.map(f64::abs).sum();
                // k roundings, each at most 2^-24 of a partial sum bounded by `mag`
                let err = (c[i * n + j] as f64 - exact).abs();
                assert!(
                    err <= k as f64 * 2f64.powi(-24) * mag,
                    "{path:?} {err} {mag}"
                );
            }
        }
    }
}

#[test]
fn the_reference_adds_the_odd_product_of_a_pair_first() {
    // products 1, 2^24 (pair 0) and -2^24, 1 (pair 1): the instruction's order
    // 2^24 + 1 (ties to 2^24), + 1 (2^24 again), - 2^24 gives 0; in index order 1 would remain
    let a = [1.0f32, 16777216.0, -16777216.0, 1.0].map(f32_to_bf16_bits);
    let b = [f32_to_bf16_bits(1.0); 4];
    for path in Bf16Path::all_available() {
        let mut c = [f32::NAN];
        gemm_bf16_with(path, (1, 1, 4), (&a, (4, 1)), (&b, (1, 1)), &mut c);
        assert_eq!(c[0], 0.0, "{path:?}");
    }
}

#[test]
fn denormal_inputs_count_as_zero_and_denormal_sums_flush_to_zero() {
    let tiny = 0x0001u16; // the smallest bf16 denormal
    let one = f32_to_bf16_bits(1.0);
    let small = f32_to_bf16_bits(2f32.powi(-70)); // its square is 2^-140: an f32 denormal
    let cases: [([u16; 2], [u16; 2], f32); 3] = [
        ([tiny, 0], [one, 0], 0.0),
        ([small, 0], [small, 0], 0.0),
        ([small, one], [small, one], 1.0),
    ];
    for path in Bf16Path::all_available() {
        for (a, b, want) in cases {
            let mut c = [f32::NAN];
            gemm_bf16_with(path, (1, 1, 2), (&a, (2, 1)), (&b, (1, 1)), &mut c);
            assert_eq!(c[0].to_bits(), want.to_bits(), "{path:?} {a:?} {b:?}");
        }
    }
    // tiny magnitudes over the whole exponent range: every path agrees to the bit
    let (m, n, k) = (9, 35, 41);
    let mut rng = Rng::seed(3);
    let e = rng.uniform(&[m * k + k * n], -75.0, -55.0, crate::DType::F32);
    let v: Vec<u16> = e
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, &x)| match i % 7 {
            0 => (i % 127) as u16 | if i % 2 == 0 { 0x8000 } else { 0 },
            _ => f32_to_bf16_bits(if i % 3 == 0 { -1.0 } else { 1.0 } * 2f32.powf(x)),
        })
        .collect();
    let (a, b) = v.split_at(m * k);
    let mut want = vec![f32::NAN; m * n];
    portable((m, n, k), (a, (k, 1)), (b, (n, 1)), &mut want);
    assert!(want.contains(&0.0) && want.iter().any(|&x| x != 0.0));
    for path in Bf16Path::all_available() {
        let mut got = vec![f32::NAN; m * n];
        gemm_bf16_with(path, (m, n, k), (a, (k, 1)), (b, (n, 1)), &mut got);
        let same = got
            .iter()
            .zip(&want)
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{path:?}");
    }
}

#[test]
#[should_panic(expected = "[2, 3] @ [3, 2]")]
fn short_views_panic_with_the_shapes() {
    let mut c = [0.0f32; 4];
    gemm_bf16((2, 2, 3), &[0; 5], (3, 1), &[0; 6], (2, 1), &mut c);
}
