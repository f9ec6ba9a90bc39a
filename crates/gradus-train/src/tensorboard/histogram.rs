//! Histograms as TensorBoard stores them ([`HistogramProto`]): count, sum, sum of squares,
//! extremes and equal-width buckets given by their right edges.

use super::proto::HistogramProto;

/// Buckets per histogram (PyTorch's `add_histogram` with `bins="tensorflow"` uses about 30
/// non-empty ones too).
pub const BUCKETS: usize = 30;

/// The histogram of the finite values in `values` (NaN and infinities are left out): `buckets`
/// equal-width buckets from the smallest to the largest value, bucket `i` holding the values in
/// `[edge[i-1], edge[i])` and the last one its right edge too; one bucket when all values are
/// equal; no bucket for no value.
///
/// ```
/// use gradus_train::tensorboard::histogram::histogram;
/// let h = histogram(&[0.0, 1.0, 1.0, 4.0], 4);
/// assert_eq!((h.min, h.max, h.num, h.sum, h.sum_squares), (0.0, 4.0, 4.0, 6.0, 18.0));
/// assert_eq!(h.bucket_limit, vec![1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(h.bucket, vec![1.0, 2.0, 0.0, 1.0]);
/// ```
pub fn histogram(values: &[f64], buckets: usize) -> HistogramProto {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (mut min, mut max, mut num, mut sum, mut sum_squares) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0, 0.0);
    for v in finite.clone() {
        min = min.min(v);
        max = max.max(v);
        num += 1.0;
        sum += v;
        sum_squares += v * v;
    }
    if num == 0.0 {
        return HistogramProto::default();
    }
    let n = if max > min { buckets.max(1) } else { 1 };
    let width = (max - min) / n as f64;
    let mut bucket = vec![0.0; n];
    for v in finite {
        let i = if width > 0.0 {
            (((v - min) / width) as usize).min(n - 1)
        } else {
            0
        };
        bucket[i] += 1.0;
    }
    let bucket_limit = (1..=n)
        .map(|i| if i == n { max } else { min + width * i as f64 })
        .collect();
    HistogramProto {
        min,
        max,
        num,
        sum,
        sum_squares,
        bucket_limit,
        bucket,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finite_value_lands_in_one_bucket() {
        let values: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
        let h = histogram(&values, BUCKETS);
        assert_eq!(h.bucket.len(), BUCKETS);
        assert_eq!(h.bucket.iter().sum::<f64>(), 1000.0);
        assert_eq!(*h.bucket_limit.last().unwrap(), 50.0);
        assert_eq!(h.min, -50.0);
    }

    #[test]
    fn equal_values_and_non_finite_ones() {
        let h = histogram(&[2.0, f64::NAN, 2.0, f64::INFINITY], BUCKETS);
        assert_eq!((h.num, h.min, h.max), (2.0, 2.0, 2.0));
        assert_eq!((h.bucket_limit, h.bucket), (vec![2.0], vec![2.0]));
        assert_eq!(histogram(&[], BUCKETS), HistogramProto::default());
    }
}
