//! Unscaled features: the per-column spread and centre of the training features as the model
//! sees them (after `[data] standardize` when it is set), for tabular data (csv, libsvm).

use super::{Finding, Severity};
use gradus_run::Run;

/// The largest over the smallest column standard deviation above which features are unscaled.
pub const STD_RATIO: f64 = 100.0;
/// A column is off-centre when its mean exceeds this many standard deviations (and 1).
pub const OFF_CENTRE: f64 = 3.0;

/// Mean and standard deviation of each of the `width` columns of row-major `x`.
pub fn column_stats(x: &[f32], width: usize) -> Vec<(f64, f64)> {
    let rows = x.len().checked_div(width).unwrap_or(0);
    (0..width)
        .map(|j| {
            let col = || (0..rows).map(move |i| x[i * width + j] as f64);
            let mean = col().sum::<f64>() / rows.max(1) as f64;
            let var = col().map(|v| (v - mean).powi(2)).sum::<f64>() / rows.max(1) as f64;
            (mean, var.sqrt())
        })
        .collect()
}

/// The scale finding of a run's training features (none for image, text and ratings data).
pub fn scale(run: &Run) -> Vec<Finding> {
    if !matches!(run.config.data.format.as_str(), "csv" | "libsvm") {
        return Vec::new();
    }
    vec![scale_of(
        &column_stats(run.train.features(), run.train.feature_len()),
        &run.spec.features,
        run.config.data.standardize,
    )]
}

/// `column j` with its name when known (`` column 3 (`mean area`) ``).
fn column(j: usize, names: &[String]) -> String {
    match names.get(j) {
        Some(n) => format!("column {j} (`{n}`)"),
        None => format!("column {j}"),
    }
}

/// The finding for columns with these (mean, std) and names (empty when unknown).
pub fn scale_of(stats: &[(f64, f64)], names: &[String], standardized: bool) -> Finding {
    let varying: Vec<(usize, f64, f64)> = stats
        .iter()
        .enumerate()
        .filter(|(_, s)| s.1 > 0.0)
        .map(|(j, &(m, s))| (j, m, s))
        .collect();
    let constant = stats.len() - varying.len();
    let (Some(lo), Some(hi)) = (
        varying.iter().min_by(|a, b| a.2.total_cmp(&b.2)),
        varying.iter().max_by(|a, b| a.2.total_cmp(&b.2)),
    ) else {
        return Finding::ok("features", "no column varies: nothing to scale");
    };
    let ratio = hi.2 / lo.2;
    let off: Vec<&(usize, f64, f64)> = varying
        .iter()
        .filter(|(_, m, s)| m.abs() > OFF_CENTRE * s && m.abs() > 1.0)
        .collect();
    let constant_note = if constant > 0 {
        format!("; {constant} constant columns carry no information")
    } else {
        String::new()
    };
    if ratio <= STD_RATIO && off.is_empty() {
        return Finding::ok(
            "features",
            format!(
                "{} columns, standard deviations within a factor {ratio:.1} (limit {STD_RATIO}), none far from zero mean{constant_note}",
                stats.len()
            ),
        );
    }
    let mut message = format!(
        "feature scales differ: column standard deviations from {:.3e} ({}) to {:.3e} ({}), a ratio of {ratio:.2e} (limit {STD_RATIO})",
        lo.2,
        column(lo.0, names),
        hi.2,
        column(hi.0, names)
    );
    if let Some((j, m, s)) = off
        .iter()
        .max_by(|a, b| (a.1 / a.2).abs().total_cmp(&(b.1 / b.2).abs()))
    {
        message.push_str(&format!(
            "; {} columns sit far from zero mean (|mean| > {OFF_CENTRE} std), e.g. {}: mean {m:.3e}, std {s:.3e}",
            off.len(),
            column(*j, names)
        ));
    }
    message.push_str(&constant_note);
    message.push_str(" (columns counted from 0 among the features)");
    let fix = if standardized {
        "the features are standardized already: check the columns named above for outliers or a \
         wrong column type"
    } else {
        "set [data] standardize = true (each column to zero mean and unit variance, fitted on the \
         training split)"
    };
    Finding::problem("features", Severity::Warning, message, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_the_population_mean_and_std() {
        // columns (1, 3) and (10, 10)
        let s = column_stats(&[1.0, 10.0, 3.0, 10.0], 2);
        assert_eq!(s, vec![(2.0, 1.0), (10.0, 0.0)]);
    }

    #[test]
    fn spread_and_centre_decide() {
        assert_eq!(
            scale_of(&[(0.0, 1.0), (0.1, 50.0)], &[], false).severity,
            Severity::Ok
        );
        let f = scale_of(&[(0.0, 1.0), (0.0, 500.0)], &[], false);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.fix.unwrap().contains("standardize = true"));
        let names = ["a".to_string(), "b".to_string()];
        let f = scale_of(&[(0.0, 1.0), (40.0, 2.0)], &names, false);
        assert!(
            f.message.contains("column 1 (`b`): mean 4.000e1"),
            "{}",
            f.message
        );
        let f = scale_of(&[(0.0, 1.0), (5.0, 0.0)], &[], false);
        assert!(f.message.contains("1 constant"), "{}", f.message);
    }
}
