//! Calibration observers: the percentile observer on known distributions, and on calibration data
//! with an outlier, where it keeps the range of the normal values and the quantized convolution's
//! error on normal inputs is lower than with min/max.

use gradus_quant::conv2d::{ConvGeometry, QConv2d};
use gradus_quant::f32_conv2d::{F32Conv2d, Scratch};
use gradus_quant::model::Op;
use gradus_quant::observer::{MinMaxObserver, Observer, PercentileObserver};
use gradus_quant::QuantizedModel;
use gradus_tensor::{DType, Rng};

fn values(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Vec<f32> {
    Rng::seed(seed)
        .uniform(shape, lo, hi, DType::F32)
        .to_vec::<f32>()
        .unwrap()
}

#[test]
fn percentiles_of_known_distributions() {
    // the integers 0..=10000 in a scrambled order, over three batches: rank i is the value i
    let x: Vec<f32> = (0..=10_000u32)
        .map(|i| ((i * 7919) % 10_001) as f32)
        .collect();
    let mut o = PercentileObserver::new(99.0);
    x.chunks(4000).for_each(|c| o.observe(c));
    assert_eq!(o.range(), Some((100.0, 9900.0)));
    // 99.99th: rank 0.9999 · 10000 = 9999; interpolation between ranks: 99.995th → 9999.5
    assert_eq!(PercentileObserver::new(99.99).range(), None);
    let mut o = PercentileObserver::new(99.995);
    o.observe(&x);
    let (lo, hi) = o.range().unwrap();
    assert!(
        (lo - 0.5).abs() < 1e-3 && (hi - 9999.5).abs() < 1e-3,
        "{lo} {hi}"
    );
    // 100 is the min/max range
    let mut o = PercentileObserver::new(100.0);
    o.observe(&x);
    assert_eq!(o.range(), Some((0.0, 10_000.0)));
    // standard normal: the 99.9th percentile is 3.0902 (scipy.stats.norm.ppf(0.999))
    let z = Rng::seed(7)
        .normal(&[400_000], 0.0, 1.0, DType::F32)
        .to_vec::<f32>()
        .unwrap();
    let mut o = PercentileObserver::new(99.9);
    o.observe(&z);
    let (lo, hi) = o.range().unwrap();
    assert!(
        (hi - 3.0902).abs() < 0.05 && (lo + 3.0902).abs() < 0.05,
        "{lo} {hi}"
    );
}

#[test]
fn percentile_calibration_ignores_an_outlier_and_lowers_the_conv_error() {
    let g = ConvGeometry {
        in_channels: 2,
        out_channels: 4,
        kernel: (3, 3),
        stride: (1, 1),
        padding: (1, 1),
    };
    let (w, b) = (values(&[4 * 18], -0.5, 0.5, 1), values(&[4], -0.1, 0.1, 2));
    let conv = QConv2d::quantize(&w, Some(&b), g).unwrap();
    let (n, h, wd) = (8, 10, 10);
    let mut calib = values(&[n * 2 * h * wd], 0.0, 1.0, 3);
    calib[123] = 50.0; // one outlier in 1600 values
    let batches = vec![(calib.clone(), n)];
    let model = |observer| {
        let mut q = QuantizedModel::new(vec![Op::Conv(conv.clone())], vec![2, h, wd]);
        q.calibrate_with(&batches, observer).unwrap();
        q
    };
    let minmax = model(Observer::MinMax);
    let pct = model(Observer::Percentile(99.9));
    let input = |q: &QuantizedModel| match &q.ops[0] {
        Op::Conv(c) => c.input,
        _ => unreachable!("one conv"),
    };
    // min/max stretches its 127 steps over the outlier; the percentile range stays near [0, 1]
    let mut mm = MinMaxObserver::default();
    mm.observe(&calib);
    assert_eq!(input(&minmax), mm.quantizer());
    assert!((input(&minmax).scale - 50.0 / 127.0).abs() < 1e-6);
    let s = input(&pct).scale * 127.0;
    assert!(s > 0.99 && s < 1.0, "percentile range top {s}");
    // on normal inputs (no outlier) the percentile-calibrated conv is closer to the f32 conv
    let x = values(&[n * 2 * h * wd], 0.0, 1.0, 4);
    let f = F32Conv2d::new(w.clone(), Some(b.clone()), g).unwrap();
    let mut want = Vec::new();
    f.forward(&x, (n, h, wd), &mut want, &mut Scratch::default())
        .unwrap();
    let err = |q: &QuantizedModel| {
        let mut y = Vec::new();
        q.predict_into(&x, n, &mut y).unwrap();
        let sq: f32 = y.iter().zip(&want).map(|(a, b)| (a - b) * (a - b)).sum();
        (sq / y.len() as f32).sqrt()
    };
    let (e_mm, e_pct) = (err(&minmax), err(&pct));
    assert!(
        e_pct * 10.0 < e_mm,
        "rms error: percentile {e_pct}, min/max {e_mm}"
    );
}

#[test]
fn percentile_outside_its_range_is_an_error() {
    let mut q = QuantizedModel::new(vec![Op::Flatten], vec![2]);
    for p in [0.0, 50.0, 100.5, f64::NAN] {
        let e = q
            .calibrate_with(&[(vec![0.0, 1.0], 1)], Observer::Percentile(p))
            .unwrap_err();
        assert!(e.to_string().contains("percentile"), "{e}");
    }
}
