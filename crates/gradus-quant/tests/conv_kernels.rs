//! The convolution layers' fast paths against scalar definitions: `QConv2d` (packed int8 GEMM,
//! fused epilogue) bit for bit on every int8 path this CPU runs, and `F32Conv2d` (the direct
//! kernel at stride 1, im2col + GEMM otherwise) to f32 rounding, at odd shapes, on 1 and 3
//! threads.

use gradus_quant::conv2d::{ConvGeometry, QConv2d, Scratch};
use gradus_quant::f32_conv2d::F32Conv2d;
use gradus_quant::scheme::ActQuant;
use gradus_tensor::gemm_i8::Int8Path;
use gradus_tensor::{DType, Rng};

fn values(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f32> {
    Rng::seed(seed)
        .uniform(&[n], lo, hi, DType::F32)
        .to_vec::<f32>()
        .unwrap()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// `(n, h, w, geometry)`: LeNet's two layers, odd sizes, strides and paddings that differ by
/// axis, kernels wider than 8 (the general copy), 1x1, one input channel and 17 outputs (a
/// second, partial panel of 16).
fn cases() -> Vec<(usize, usize, usize, ConvGeometry)> {
    let g = |i, o, k, s, p| ConvGeometry {
        in_channels: i,
        out_channels: o,
        kernel: k,
        stride: s,
        padding: p,
    };
    vec![
        (3, 28, 28, g(1, 6, (5, 5), (1, 1), (2, 2))),
        (2, 14, 14, g(6, 16, (5, 5), (1, 1), (0, 0))),
        (5, 7, 9, g(3, 17, (3, 2), (2, 1), (1, 0))),
        (1, 6, 13, g(2, 5, (2, 11), (1, 1), (0, 1))),
        (4, 5, 4, g(5, 3, (1, 1), (1, 2), (0, 0))),
        (2, 3, 3, g(1, 1, (3, 3), (1, 1), (2, 2))),
    ]
}

/// Each image's output from the definition: the integer sum over channels and taps of
/// `(q(x) - z) · w` (padding counts as real 0.0, that is `q - z = 0`), then
/// `sum as f32 · (s_x · s_w) + b` and ReLU if asked, in the order the layer documents.
fn reference(q: &QConv2d, x: &[f32], (n, h, w): (usize, usize, usize), relu: bool) -> Vec<f32> {
    let g = q.geometry;
    let ((kh, kw), (sy, sx), (py, px)) = (g.kernel, g.stride, g.padding);
    let (oh, ow) = g.output(h, w);
    let (c, o) = (g.in_channels, g.out_channels);
    let z = q.input.zero_point as i32;
    let mut y = Vec::with_capacity(n * o * oh * ow);
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0i32;
                    for (ic, ky, kx) in (0..c).flat_map(|ic| {
                        (0..kh).flat_map(move |ky| (0..kw).map(move |kx| (ic, ky, kx)))
                    }) {
                        let (iy, ix) = (
                            (oy * sy + ky) as isize - py as isize,
                            (ox * sx + kx) as isize - px as isize,
                        );
                        if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                            let v = x[((b * c + ic) * h + iy as usize) * w + ix as usize];
                            let wq = q.weight[((oc * c + ic) * kh + ky) * kw + kx] as i32;
                            acc += (q.input.quantize(v) as i32 - z) * wq;
                        }
                    }
                    let v = acc as f32 * (q.input.scale * q.weight_scale[oc]) + q.bias[oc];
                    y.push(if relu { v.max(0.0) } else { v });
                }
            }
        }
    }
    y
}

#[test]
fn qconv2d_equals_the_integer_definition_on_every_path_and_pool() {
    let paths = Int8Path::all_available();
    eprintln!("int8 paths on this CPU: {paths:?}");
    for (case, (n, h, w, g)) in cases().into_iter().enumerate() {
        let seed = 10 * case as u64;
        let wt = values(g.out_channels * g.patch(), -0.5, 0.5, seed);
        let bias = values(g.out_channels, -0.3, 0.3, seed + 1);
        let x = values(n * g.in_channels * h * w, -0.7, 1.3, seed + 2);
        let mut q = QConv2d::quantize(&wt, Some(&bias), g).unwrap();
        // a range that clips some inputs at both ends and a zero point inside it
        q.input = ActQuant::from_range(-0.5, 1.0);
        for relu in [false, true] {
            let want = reference(&q, &x, (n, h, w), relu);
            for &path in &paths {
                for threads in [1, 3] {
                    let got = in_pool(threads, || {
                        let (mut y, mut s) = (vec![f32::NAN; 3], Scratch::default());
                        // twice with one scratch: the second call reuses grown buffers
                        for _ in 0..2 {
                            q.forward_with(path, &x, (n, h, w), relu, &mut y, &mut s)
                                .unwrap();
                        }
                        y
                    });
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "{g:?} on {n}x{h}x{w}, relu {relu}, {path:?}, {threads} threads"
                    );
                }
            }
        }
    }
}

#[test]
fn qconv2d_refuses_a_kernel_larger_than_the_padded_input() {
    let g = ConvGeometry {
        in_channels: 1,
        out_channels: 2,
        kernel: (5, 5),
        stride: (1, 1),
        padding: (1, 1),
    };
    let q = QConv2d::quantize(&[0.1; 50], None, g).unwrap();
    let e = q
        .forward(
            &[0.0; 4],
            (1, 2, 2),
            &mut Vec::new(),
            &mut Scratch::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("larger than the input 2x2"), "{e}");
}

/// The f32 definition, summed in f64.
fn reference_f32(
    wt: &[f32],
    bias: &[f32],
    g: ConvGeometry,
    x: &[f32],
    (n, h, w): (usize, usize, usize),
) -> Vec<f64> {
    let ((kh, kw), (sy, sx), (py, px)) = (g.kernel, g.stride, g.padding);
    let (oh, ow) = g.output(h, w);
    let (c, o) = (g.in_channels, g.out_channels);
    let mut y = Vec::with_capacity(n * o * oh * ow);
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias[oc] as f64;
                    for (ic, ky, kx) in (0..c).flat_map(|ic| {
                        (0..kh).flat_map(move |ky| (0..kw).map(move |kx| (ic, ky, kx)))
                    }) {
                        let (iy, ix) = (
                            (oy * sy + ky) as isize - py as isize,
                            (ox * sx + kx) as isize - px as isize,
                        );
                        if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                            let v = x[((b * c + ic) * h + iy as usize) * w + ix as usize];
                            s += v as f64 * wt[((oc * c + ic) * kh + ky) * kw + kx] as f64;
                        }
                    }
                    y.push(s);
                }
            }
        }
    }
    y
}

#[test]
fn f32_conv2d_matches_the_definition_and_is_the_same_in_any_pool() {
    for (case, (n, h, w, g)) in cases().into_iter().enumerate() {
        let seed = 100 + 10 * case as u64;
        let wt = values(g.out_channels * g.patch(), -0.5, 0.5, seed);
        let bias = values(g.out_channels, -0.3, 0.3, seed + 1);
        let x = values(n * g.in_channels * h * w, -0.7, 1.3, seed + 2);
        let f = F32Conv2d::new(wt.clone(), Some(bias.clone()), g).unwrap();
        let run = |threads: usize, relu: bool| {
            in_pool(threads, || {
                let (mut y, mut s) = (Vec::new(), Default::default());
                for _ in 0..2 {
                    f.forward_act(&x, (n, h, w), relu, &mut y, &mut s).unwrap();
                }
                y
            })
        };
        let want = reference_f32(&wt, &bias, g, &x, (n, h, w));
        let plain = run(1, false);
        assert_eq!(plain.len(), want.len(), "{g:?}");
        for (at, (&got, &exact)) in plain.iter().zip(&want).enumerate() {
            assert!(
                (got as f64 - exact).abs() <= 1e-5 * exact.abs().max(1.0),
                "{g:?} at {at}: {got} vs {exact}"
            );
        }
        let relu: Vec<f32> = plain.iter().map(|v| v.max(0.0)).collect();
        assert_eq!(run(1, true), relu, "fused ReLU, {g:?}");
        assert_eq!(run(3, false), plain, "3 threads, {g:?}");
        assert_eq!(run(3, true), relu, "3 threads, fused ReLU, {g:?}");
    }
}

#[test]
fn one_scratch_serves_layers_of_different_geometries() {
    // a model's convolutions share one scratch: alternate two layers through it
    let cs = cases();
    let layers: Vec<_> = cs[..2]
        .iter()
        .map(|&(n, h, w, g)| {
            let wt = values(g.out_channels * g.patch(), -0.5, 0.5, 7);
            let x = values(n * g.in_channels * h * w, 0.0, 1.0, 8);
            (F32Conv2d::new(wt, None, g).unwrap(), x, (n, h, w))
        })
        .collect();
    let alone: Vec<Vec<f32>> = layers
        .iter()
        .map(|(f, x, d)| {
            let mut y = Vec::new();
            f.forward(x, *d, &mut y, &mut Default::default()).unwrap();
            y
        })
        .collect();
    let mut s = Default::default();
    for _ in 0..2 {
        for ((f, x, d), want) in layers.iter().zip(&alone) {
            let mut y = Vec::new();
            f.forward(x, *d, &mut y, &mut s).unwrap();
            assert_eq!(&y, want);
        }
    }
}
