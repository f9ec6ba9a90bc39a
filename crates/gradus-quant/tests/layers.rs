//! Quantized layers against their f32 definitions: quantize→dequantize error bounds, `QLinear`
//! and `QConv2d` against f32 products, and the model file read back bit for bit.

use gradus_quant::conv2d::{ConvGeometry, QConv2d};
use gradus_quant::f32_conv2d::F32Conv2d;
use gradus_quant::linear::{QLinear, Scratch};
use gradus_quant::observer::MinMaxObserver;
use gradus_quant::scheme::{quantize_per_channel, ActQuant};
use gradus_tensor::{DType, Rng};

fn values(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f32> {
    Rng::seed(seed)
        .uniform(&[n], lo, hi, DType::F32)
        .to_vec::<f32>()
        .unwrap()
}

#[test]
fn weights_dequantize_within_half_a_step_of_their_channel() {
    let (out, per) = (7, 33);
    let mut w = values(out * per, -1.0, 1.0, 1);
    w[per..2 * per].iter_mut().for_each(|v| *v *= 100.0); // a channel of a different magnitude
    let (q, s) = quantize_per_channel(&w, out, per);
    for (o, (row, qrow)) in w.chunks(per).zip(q.chunks(per)).enumerate() {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            (s[o] - max / 127.0).abs() <= f32::EPSILON * max,
            "scale of channel {o}"
        );
        assert!(
            qrow.iter().any(|&v| v.abs() == 127),
            "the largest value maps to ±127"
        );
        for (&x, &qv) in row.iter().zip(qrow) {
            let err = (x - qv as f32 * s[o]).abs();
            assert!(
                err <= 0.5 * s[o] * (1.0 + 1e-5),
                "channel {o}: {x} -> {qv}, error {err}"
            );
        }
    }
}

#[test]
fn activations_dequantize_within_half_a_step_and_zero_is_exact() {
    let x = values(1000, -0.7, 3.1, 2);
    let q = ActQuant::of(&x);
    assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
    for &v in &x {
        let back = q.dequantize(q.quantize(v));
        assert!(
            (back - v).abs() <= 0.5 * q.scale * (1.0 + 1e-4),
            "{v} -> {back}"
        );
    }
    // values outside the range clamp to its ends
    assert_eq!(q.quantize(100.0), 127);
    assert_eq!(q.quantize(-100.0), 0);
    // only non-negative values (after ReLU): zero point 0, all 127 steps for the values
    assert_eq!(ActQuant::from_range(0.0, 2.0).zero_point, 0);
    // an observer over batches sees their union
    let mut o = MinMaxObserver::default();
    o.observe(&x[..500]);
    o.observe(&x[500..]);
    assert_eq!(o.quantizer(), q);
}

#[test]
fn qlinear_matches_the_f32_product_within_the_quantization_error() {
    let (rows, inp, out) = (5, 37, 11);
    let (w, b, x) = (
        values(out * inp, -0.3, 0.3, 3),
        values(out, -1.0, 1.0, 4),
        values(rows * inp, -1.0, 2.0, 5),
    );
    let l = QLinear::quantize(&w, Some(&b), out, inp).unwrap();
    let (mut y, mut s) = (Vec::new(), Scratch::default());
    l.forward(&x, rows, &mut y, &mut s).unwrap();
    for r in 0..rows {
        let xr = &x[r * inp..(r + 1) * inp];
        let xq = ActQuant::of(xr);
        for o in 0..out {
            let wr = &w[o * inp..(o + 1) * inp];
            let exact: f32 = xr.iter().zip(wr).map(|(a, b)| a * b).sum::<f32>() + b[o];
            // |Δ(x·w)| ≤ Σ |x| Δw + |w| Δx + Δx Δw, each Δ at most half a step
            let (dw, dx) = (0.5 * l.weight_scale[o], 0.5 * xq.scale);
            let bound: f32 = xr
                .iter()
                .zip(wr)
                .map(|(a, b)| a.abs() * dw + b.abs() * dx + dx * dw)
                .sum();
            let got = y[r * out + o];
            assert!(
                (got - exact).abs() <= bound * 1.01 + 1e-5,
                "[{r}, {o}]: {got} vs {exact} (bound {bound})"
            );
        }
    }
    // each row is quantized alone: a row's output does not depend on the other rows
    let mut one = Vec::new();
    l.forward(&x[inp..2 * inp], 1, &mut one, &mut s).unwrap();
    assert_eq!(one, y[out..2 * out]);
    assert!(
        l.forward(&x[..inp + 1], 1, &mut y, &mut s).is_err(),
        "wrong input length"
    );
}

#[test]
fn qconv2d_matches_a_direct_f32_convolution() {
    let g = ConvGeometry {
        in_channels: 2,
        out_channels: 3,
        kernel: (3, 3),
        stride: (1, 1),
        padding: (1, 1),
    };
    let (n, h, w) = (2, 5, 6);
    let wt = values(3 * 2 * 9, -0.5, 0.5, 6);
    let bias = values(3, -0.1, 0.1, 7);
    let x = values(n * 2 * h * w, -0.5, 1.0, 8);
    let mut c = QConv2d::quantize(&wt, Some(&bias), g).unwrap();
    let mut o = MinMaxObserver::default();
    o.observe(&x);
    c.input = o.quantizer();
    let (mut y, mut s) = (Vec::new(), gradus_quant::conv2d::Scratch::default());
    let (oh, ow) = c.forward(&x, (n, h, w), &mut y, &mut s).unwrap();
    assert_eq!((oh, ow), (5, 6));
    let (dx, max_x) = (0.5 * c.input.scale, 1.0f32);
    for b in 0..n {
        for oc in 0..3 {
            let dw = 0.5 * c.weight_scale[oc];
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut exact = bias[oc];
                    let mut bound = 0.0;
                    for ic in 0..2 {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) =
                                    (oy as isize + ky as isize - 1, ox as isize + kx as isize - 1);
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xv = x[((b * 2 + ic) * h + iy as usize) * w + ix as usize];
                                let wv = wt[((oc * 2 + ic) * 3 + ky) * 3 + kx];
                                exact += xv * wv;
                                bound += max_x * dw + wv.abs() * dx + dx * dw;
                            }
                        }
                    }
                    let got = y[((b * 3 + oc) * oh + oy) * ow + ox];
                    assert!(
                        (got - exact).abs() <= bound * 1.01 + 1e-5,
                        "[{b}, {oc}, {oy}, {ox}]: {got} vs {exact}"
                    );
                }
            }
        }
    }
}

#[test]
fn stored_weights_outside_the_symmetric_range_are_refused() {
    let e = QLinear::from_parts(vec![-128, 0], vec![1.0], vec![0.0], 1, 2).unwrap_err();
    assert!(e.to_string().contains("-128"), "{e}");
    assert!(
        QLinear::from_parts(vec![1, 0, 3], vec![1.0], vec![0.0], 1, 2).is_err(),
        "wrong length"
    );
}

/// `f`'s output computed in a rayon pool of `threads` threads.
fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn conv_layers_run_a_batch_as_its_images_alone_bit_for_bit_in_any_pool() {
    let g = ConvGeometry {
        in_channels: 3,
        out_channels: 4,
        kernel: (3, 3),
        stride: (2, 1),
        padding: (1, 2),
    };
    let (n, h, w) = (7, 6, 5);
    let image = 3 * h * w;
    let wt = values(4 * 3 * 9, -0.5, 0.5, 9);
    let bias = values(4, -0.1, 0.1, 10);
    let x = values(n * image, -0.5, 1.0, 11);
    let mut q = QConv2d::quantize(&wt, Some(&bias), g).unwrap();
    let mut o = MinMaxObserver::default();
    o.observe(&x);
    q.input = o.quantizer();
    let f = F32Conv2d::new(wt.clone(), Some(bias.clone()), g).unwrap();
    let run = |threads: usize, x: &[f32], n: usize| {
        in_pool(threads, || {
            let (mut yq, mut yf) = (Vec::new(), Vec::new());
            q.forward(x, (n, h, w), &mut yq, &mut Default::default())
                .unwrap();
            f.forward(x, (n, h, w), &mut yf, &mut Default::default())
                .unwrap();
            (yq, yf)
        })
    };
    let (yq, yf) = run(1, &x, n);
    let per_image = yq.len() / n;
    // the f32 layer against the definition (strides and padding that differ by axis)
    let (oh, ow) = g.output(h, w);
    assert_eq!(yf.len(), n * 4 * oh * ow);
    for (at, got) in yf.iter().enumerate() {
        let (b, oc, oy, ox) = (at / per_image, at / (oh * ow) % 4, at / ow % oh, at % ow);
        let mut exact = bias[oc];
        for (ic, ky, kx) in
            (0..3).flat_map(|c| (0..3).flat_map(move |y| (0..3).map(move |x| (c, y, x))))
        {
            let (iy, ix) = ((oy * 2 + ky) as isize - 1, (ox + kx) as isize - 2);
            if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                let v = x[b * image + ic * h * w + iy as usize * w + ix as usize];
                exact += v * wt[((oc * 3 + ic) * 3 + ky) * 3 + kx];
            }
        }
        assert!(
            (got - exact).abs() < 1e-5,
            "[{b}, {oc}, {oy}, {ox}]: {got} vs {exact}"
        );
    }
    for threads in [2, 3] {
        assert_eq!(
            run(threads, &x, n),
            (yq.clone(), yf.clone()),
            "{threads} threads"
        );
    }
    for i in 0..n {
        let (one_q, one_f) = run(3, &x[i * image..(i + 1) * image], 1);
        assert_eq!(one_q, yq[i * per_image..(i + 1) * per_image], "image {i}");
        assert_eq!(one_f, yf[i * per_image..(i + 1) * per_image], "image {i}");
    }
}
