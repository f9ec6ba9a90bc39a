//! Axis ticks at round values: 1, 2 or 5 times a power of ten on a linear axis (Heckbert's "nice
//! numbers", as matplotlib's `MaxNLocator` and d3's `ticks` choose them), powers of ten on a
//! logarithmic one, and labels as short as the step allows (`0.25`, `1e-4`, never `3.055e-1`).

/// Round tick values covering `[lo, hi]`, about `target` of them (at least 2 when `lo < hi`),
/// each a multiple of a step of 1, 2 or 5 times a power of ten.
///
/// ```
/// use gradus_run::report::ticks::linear_ticks;
/// assert_eq!(linear_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
/// assert_eq!(linear_ticks(0.31, 0.97, 4), vec![0.4, 0.6, 0.8]);
/// ```
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let usable = lo.is_finite() && hi.is_finite() && hi > lo;
    if !usable {
        return if lo.is_finite() { vec![lo] } else { vec![] };
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|k| round_to_step(k as f64 * step, step))
        .collect()
}

/// The step of [`linear_ticks`]: `raw` rounded to 1, 2 or 5 times a power of ten (Heckbert's
/// rounding: below 1.5 to 1, below 3 to 2, below 7 to 5, else 10).
///
/// ```
/// use gradus_run::report::ticks::nice_step;
/// assert_eq!(nice_step(0.17), 0.2);
/// assert_eq!(nice_step(30.0), 50.0);
/// ```
pub fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// `v` rounded to the decimals of `step`, so `3 * 0.1` is `0.3`, not `0.30000000000000004`.
fn round_to_step(v: f64, step: f64) -> f64 {
    let d = decimals(step);
    let p = 10f64.powi(d as i32);
    (v * p).round() / p
}

/// Decimals needed to write multiples of `step` exactly (0 for steps of 1 and more).
fn decimals(step: f64) -> usize {
    let mut d = 0;
    while d < 12
        && ((step * 10f64.powi(d as i32)).round() - step * 10f64.powi(d as i32)).abs() > 1e-9
    {
        d += 1;
    }
    d
}

/// Ticks for a logarithmic axis over positive `[lo, hi]`: the powers of ten inside it, with 2
/// and 5 times them when it spans three decades or fewer, and every other power when it spans
/// more than eight.
///
/// ```
/// use gradus_run::report::ticks::log_ticks;
/// assert_eq!(log_ticks(0.03, 2.0), vec![0.05, 0.1, 0.2, 0.5, 1.0, 2.0]);
/// assert_eq!(log_ticks(1e-6, 1e2), vec![1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2]);
/// ```
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let usable = lo > 0.0 && hi >= lo && hi.is_finite();
    if !usable {
        return vec![];
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let span = e1 - e0;
    let mults: &[f64] = if span <= 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let every = if span > 8 { 2 } else { 1 };
    let mut ticks = Vec::new();
    for e in e0..=e1 {
        if (e - e0) % every != 0 {
            continue;
        }
        for &m in mults {
            let v = format!("{m}e{e}").parse::<f64>().unwrap_or(f64::NAN);
            if (lo * (1.0 - 1e-12)..=hi * (1.0 + 1e-12)).contains(&v) {
                ticks.push(v);
            }
        }
    }
    ticks
}

/// A tick label: the value with the decimals of `step` on a linear axis (`0.25`, `1200`), and on
/// a log axis (`step` = 0) plain decimals from 0.001 to 9999 and `1e-5` / `2e6` outside.
///
/// ```
/// use gradus_run::report::ticks::label;
/// assert_eq!(label(0.30000000000000004, 0.1), "0.3");
/// assert_eq!(label(1500.0, 500.0), "1500");
/// assert_eq!(label(1e-5, 0.0), "1e-5");
/// assert_eq!(label(0.02, 0.0), "0.02");
/// ```
pub fn label(v: f64, step: f64) -> String {
    if step > 0.0 {
        let d = decimals(step);
        if step >= 1e-4 && v.abs() < 1e6 {
            return format!("{v:.d$}");
        }
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e4).contains(&a) {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return s.to_string();
    }
    let e = a.log10().floor() as i32;
    let m = v / 10f64.powi(e);
    let m = format!("{m:.2}");
    let m = m.trim_end_matches('0').trim_end_matches('.');
    format!("{m}e{e}")
}

/// True when positive values from `lo` to `hi` span enough decades (a factor of 50 or more) to
/// read better on a logarithmic axis.
///
/// ```
/// assert!(gradus_run::report::ticks::wants_log(0.01, 2.3));
/// assert!(!gradus_run::report::ticks::wants_log(0.2, 0.9));
/// ```
pub fn wants_log(lo: f64, hi: f64) -> bool {
    lo > 0.0 && hi.is_finite() && hi / lo >= 50.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_inside_the_range() {
        for (lo, hi) in [(0.3055, 2.31), (-7.0, 13.0), (1.0, 518.0), (0.9712, 0.9868)] {
            let t = linear_ticks(lo, hi, 5);
            assert!((2..=11).contains(&t.len()), "{lo}..{hi}: {t:?}");
            let step = t[1] - t[0];
            let s = nice_step(step * 0.999);
            assert!(
                (s - step).abs() < 1e-9 * s.abs(),
                "{t:?} step {step} not 1/2/5e k"
            );
            assert!(t.iter().all(|v| (lo..=hi).contains(v)), "{t:?}");
            for v in &t {
                assert!(label(*v, step).len() <= 7, "label {}", label(*v, step));
            }
        }
        assert_eq!(
            linear_ticks(1.0, 518.0, 5),
            vec![100.0, 200.0, 300.0, 400.0, 500.0]
        );
    }

    #[test]
    fn log_labels_are_short() {
        let labels: Vec<String> = log_ticks(2e-7, 3e3)
            .iter()
            .map(|&v| label(v, 0.0))
            .collect();
        assert_eq!(labels, ["1e-5", "0.001", "0.1", "10", "1000"]);
        let labels: Vec<String> = log_ticks(2e-5, 30.0)
            .iter()
            .map(|&v| label(v, 0.0))
            .collect();
        assert_eq!(labels, ["1e-4", "0.001", "0.01", "0.1", "1", "10"]);
    }
}
