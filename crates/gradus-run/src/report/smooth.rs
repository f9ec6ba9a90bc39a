//! TensorBoard's scalar smoothing: an exponential moving average, debiased so the first points
//! are not pulled towards zero (TensorBoard's `vz_line_chart2` `resmoothDataset`).

/// The smoothing weight the report uses (TensorBoard's slider, from 0: none, to 0.999).
pub const REPORT_WEIGHT: f64 = 0.9;

/// `values` smoothed with `weight`: `last = weight * last + (1 - weight) * v`, divided by
/// `1 - weight^n` after `n` finite values. Non-finite values pass through unchanged and do not
/// enter the average; a constant series stays constant.
///
/// ```
/// use gradus_run::report::smooth::ema;
/// let s = ema(&[1.0, 0.0], 0.5);
/// // 0.5 / (1 - 0.5) = 1; (0.25 + 0) / (1 - 0.25) = 1/3
/// assert_eq!(s, vec![1.0, 1.0 / 3.0]);
/// ```
pub fn ema(values: &[f64], weight: f64) -> Vec<f64> {
    let (mut last, mut n) = (0.0, 0i32);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * weight + (1.0 - weight) * v;
            n += 1;
            let debias = 1.0 - weight.powi(n);
            if debias > 0.0 {
                last / debias
            } else {
                v
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::ema;

    #[test]
    fn constant_series_stays_constant_and_weight_zero_is_identity() {
        assert!(ema(&[2.5; 50], 0.9).iter().all(|v| (v - 2.5).abs() < 1e-12));
        assert_eq!(ema(&[3.0, 1.0, 2.0], 0.0), vec![3.0, 1.0, 2.0]);
    }

    #[test]
    fn matches_the_recurrence_by_hand_and_skips_nan() {
        // weight 0.6 (TensorBoard's default): l1 = 0.4*4 = 1.6, /0.4 = 4;
        // l2 = 0.96 + 0.8 = 1.76, /(1 - 0.36) = 2.75; NaN passes; l3 = 1.056 + 0.4 = 1.456, /0.784
        let s = ema(&[4.0, 2.0, f64::NAN, 1.0], 0.6);
        assert!(
            (s[0] - 4.0).abs() < 1e-12 && (s[1] - 2.75).abs() < 1e-12,
            "{s:?}"
        );
        assert!(s[2].is_nan());
        assert!((s[3] - 1.456 / 0.784).abs() < 1e-12, "{s:?}");
    }
}
