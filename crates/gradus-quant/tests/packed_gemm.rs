//! The packed int8 GEMM against the plain scalar definition, integer for integer, on every path
//! this CPU runs; `QLinear`'s fused epilogue against dequantizing the old kernel's i32 product.

use gradus_quant::linear::{QLinear, Scratch};
use gradus_quant::packed_gemm::{gemm_i32, reference, PackedWeights};
use gradus_quant::scheme::ActQuant;
use gradus_tensor::gemm_i8::{gemm_u8i8_with, Int8Path};
use gradus_tensor::{DType, Rng};

fn uniform(n: usize, seed: u64) -> Vec<f64> {
    Rng::seed(seed)
        .uniform(&[n], 0.0, 1.0, DType::F64)
        .to_vec_f64()
}

/// Activations in `0..=127` and weights in `-127..=127`, the extremes included often (a path that
/// saturated or truncated would show there).
fn operands(m: usize, n: usize, k: usize, seed: u64) -> (Vec<u8>, Vec<i8>) {
    let u = uniform(m * k + n * k, seed);
    let a = u[..m * k]
        .iter()
        .enumerate()
        .map(|(i, x)| if i % 7 == 0 { 127 } else { (x * 128.0) as u8 })
        .collect();
    let w = u[m * k..]
        .iter()
        .enumerate()
        .map(|(i, x)| match i % 5 {
            0 => -127,
            1 => 127,
            _ => (x * 254.0 - 127.0) as i8,
        })
        .collect();
    (a, w)
}

/// `a` `[m, k]` copied into rows `lda` apart, the gaps filled with `fill`.
fn strided(a: &[u8], m: usize, k: usize, lda: usize, fill: u8) -> Vec<u8> {
    let mut out = vec![fill; m * lda];
    for i in 0..m {
        out[i * lda..i * lda + k].copy_from_slice(&a[i * k..(i + 1) * k]);
    }
    out
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn every_path_equals_the_scalar_definition_on_odd_shapes() {
    let paths = Int8Path::all_available();
    eprintln!("int8 paths on this CPU: {paths:?}");
    for &(m, n, k) in &[
        (1, 1, 1),
        (1, 5, 3),
        (1, 10, 784),
        (2, 17, 5),
        (3, 7, 33),
        (4, 16, 4),
        (5, 13, 95),
        (7, 33, 130),
        (9, 31, 257),
        (64, 130, 300), // above the threading threshold: row tasks
        (2, 130, 1101), // above it with one row block: panel tasks
        (256, 10, 256), // one panel of 10 columns
        // the 512-bit tile (8 rows x 2 panels): row remainders of 4, 2 and 1, a lone last panel
        (19, 50, 45),
        (15, 40, 31),
        (37, 48, 203), // threaded: row tasks of 4-row multiples
        // one or two rows: 8 panels at once, then the rest one by one
        (2, 150, 77),
        (1, 200, 9),
        (0, 3, 4),
        (3, 0, 4),
        (2, 3, 0),
    ] {
        let (a, w) = operands(m, n, k, (m * 1000 + n * 10 + k) as u64);
        let mut want = vec![i32::MIN; m * n];
        reference(m, n, k, &a, &w, &mut want);
        let packed = PackedWeights::pack(&w, n, k);
        let kp = packed.k_padded();
        // padding of 255 past `k`: it meets zero weights, whatever it holds
        for (lda, fill) in [(kp, 0), (kp + 5, 255)] {
            let a = strided(&a, m, k, lda, fill);
            for &path in &paths {
                for threads in [1, 3] {
                    let mut got = vec![i32::MIN; m * n];
                    in_pool(threads, || gemm_i32(path, m, &a, lda, &packed, &mut got));
                    assert_eq!(
                        got, want,
                        "{path:?}, {threads} threads, [{m}, {k}] x [{n}, {k}], rows {lda} apart"
                    );
                }
            }
        }
    }
}

#[test]
fn the_range_limits_are_exact() {
    let k = 1001;
    for (x, v) in [(127u8, -127i8), (127, 127), (0, -127)] {
        let (a, w) = (vec![x; 2 * 1004], vec![v; 3 * k]);
        let packed = PackedWeights::pack(&w, 3, k);
        for path in Int8Path::all_available() {
            let mut c = [0; 6];
            gemm_i32(path, 2, &a, 1004, &packed, &mut c);
            assert_eq!(c, [x as i32 * v as i32 * k as i32; 6], "{path:?}");
        }
    }
}

#[test]
#[should_panic(expected = "rows 3 apart")]
fn rows_closer_than_the_padded_k_are_refused() {
    let packed = PackedWeights::pack(&[1; 6], 2, 3);
    gemm_i32(Int8Path::Portable, 2, &[0; 8], 3, &packed, &mut [0; 4]);
}

/// The layer as it was computed before the packed kernel: the portable i32 product, then
/// dequantization, bias (and ReLU) per element.
fn unfused(l: &QLinear, x: &[f32], rows: usize, relu: bool) -> Vec<f32> {
    let (k, n) = (l.in_features, l.out_features);
    let mut q = vec![0u8; rows * k];
    let params: Vec<ActQuant> = x
        .chunks(k)
        .zip(q.chunks_mut(k))
        .map(|(xr, qr)| {
            let p = ActQuant::of(xr);
            xr.iter().zip(qr).for_each(|(&v, q)| *q = p.quantize(v));
            p
        })
        .collect();
    let mut acc = vec![0i32; rows * n];
    gemm_u8i8_with(Int8Path::Portable, rows, n, k, &q, &l.weight, &mut acc);
    let row_sums: Vec<i32> = l
        .weight
        .chunks(k)
        .map(|r| r.iter().map(|&v| v as i32).sum())
        .collect();
    let mut y = vec![0f32; rows * n];
    for ((yr, ar), p) in y.chunks_mut(n).zip(acc.chunks(n)).zip(&params) {
        let z = p.zero_point as i32;
        for (j, (y, &acc)) in yr.iter_mut().zip(ar).enumerate() {
            let v = (acc - z * row_sums[j]) as f32 * (p.scale * l.weight_scale[j]) + l.bias[j];
            *y = if relu { v.max(0.0) } else { v };
        }
    }
    y
}

#[test]
fn qlinear_with_its_fused_epilogue_equals_the_unfused_layer_bit_for_bit() {
    for &(rows, inp, out) in &[
        (1, 784, 512),
        (5, 37, 11),
        (13, 130, 33),
        (64, 257, 40),
        (19, 45, 50),
    ] {
        let u = uniform(out * inp + out + rows * inp, (rows * inp + out) as u64);
        let w: Vec<f32> = u[..out * inp]
            .iter()
            .map(|v| (*v as f32 - 0.5) * 0.6)
            .collect();
        let b: Vec<f32> = u[out * inp..out * inp + out]
            .iter()
            .map(|v| *v as f32 - 0.5)
            .collect();
        let x: Vec<f32> = u[out * inp + out..]
            .iter()
            .map(|v| *v as f32 * 3.0 - 1.0)
            .collect();
        let l = QLinear::quantize(&w, Some(&b), out, inp).unwrap();
        for relu in [false, true] {
            let want = unfused(&l, &x, rows, relu);
            assert!(want.iter().any(|&v| v < 0.0) != relu, "ReLU shows");
            for path in Int8Path::all_available() {
                let (mut y, mut s) = (Vec::new(), Scratch::default());
                in_pool(2, || l.forward_with(path, &x, rows, relu, &mut y, &mut s)).unwrap();
                assert_eq!(y, want, "{path:?} [{rows}, {inp}] -> {out}, relu {relu}");
            }
        }
        let (mut y, mut yr, mut s) = (Vec::new(), Vec::new(), Scratch::default());
        l.forward(&x, rows, &mut y, &mut s).unwrap();
        l.forward_relu(&x, rows, &mut yr, &mut s).unwrap();
        assert_eq!(y, unfused(&l, &x, rows, false));
        assert_eq!(yr, unfused(&l, &x, rows, true));
    }
}
