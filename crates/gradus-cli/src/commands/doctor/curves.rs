//! A finished run's curves (`metrics.csv`, and `steps.csv` when there is one): divergence,
//! oscillation, plateau and overfitting onset, each from the per-epoch losses.

use super::{Finding, Severity};
use serde_json::{json, Value};
use std::path::Path;

/// A training loss rising by more than this share from one epoch to the next counts as a rise.
pub const RISE: f64 = 0.01;
/// Less total improvement than this share of the loss, for [`PLATEAU_EPOCHS`] epochs or more, is
/// a plateau.
pub const PLATEAU_GAIN: f64 = 0.01;
/// The shortest plateau reported, in epochs.
pub const PLATEAU_EPOCHS: usize = 5;
/// The validation loss must end this share above its minimum to call it overfitting.
pub const OVERFIT_RISE: f64 = 0.02;

/// Per-epoch losses read from `metrics.csv`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    /// The epochs (1-based), in order.
    pub epochs: Vec<usize>,
    /// Training loss per epoch.
    pub train: Vec<f64>,
    /// Validation loss per epoch, when the run validated.
    pub val: Vec<Option<f64>>,
}

/// Parses `metrics.csv` text (columns `epoch`, `train_loss`, `val_loss` found by name).
///
/// # Errors
/// A missing column or a row whose epoch or training loss is not a number, naming the line.
pub fn parse_metrics(text: &str, file: &str) -> Result<Curves, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(format!("{file}: empty"))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter().position(|c| *c == name).ok_or(format!(
            "{file}: no `{name}` column in the header `{header}`"
        ))
    };
    let (e, t, v) = (col("epoch")?, col("train_loss")?, col("val_loss").ok());
    let mut c = Curves::default();
    for (i, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let num = |j: usize| f.get(j).copied().unwrap_or("");
        let bad = |what: &str| format!("{file}, line {}: {what} `{line}`", i + 1);
        c.epochs.push(
            num(e)
                .parse()
                .map_err(|_| bad("epoch is not a whole number in"))?,
        );
        c.train.push(
            num(t)
                .parse()
                .map_err(|_| bad("train_loss is not a number in"))?,
        );
        c.val.push(v.and_then(|j| num(j).parse().ok()));
    }
    if c.epochs.is_empty() {
        return Err(format!("{file}: no epoch recorded"));
    }
    Ok(c)
}

/// The first step of `steps.csv` text whose loss is not finite.
pub fn first_non_finite_step(text: &str) -> Option<u64> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let (s, l) = (
        header.iter().position(|c| *c == "step")?,
        header.iter().position(|c| *c == "loss")?,
    );
    lines.find_map(|line| {
        let f: Vec<&str> = line.split(',').collect();
        let loss: f64 = f.get(l)?.parse().ok()?;
        (!loss.is_finite())
            .then(|| f.get(s)?.parse().ok())
            .flatten()
    })
}

/// The diagnosis of the run folder `dir`; the extra JSON holds the epochs found.
///
/// # Errors
/// When `metrics.csv` is missing or cannot be parsed.
pub fn diagnose(dir: &Path) -> Result<(Vec<Finding>, Value), String> {
    let path = dir.join("metrics.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (is {} a run folder written by `gradus train`?)",
            path.display(),
            dir.display()
        )
    })?;
    let curves = parse_metrics(&text, &path.display().to_string())?;
    let bad_step = std::fs::read_to_string(dir.join("steps.csv"))
        .ok()
        .and_then(|t| first_non_finite_step(&t));
    let (findings, extra) = judge(&curves, bad_step);
    Ok((findings, extra))
}

/// The findings for these curves (and the first non-finite step's loss, if any).
pub fn judge(c: &Curves, bad_step: Option<u64>) -> (Vec<Finding>, Value) {
    let mut findings = Vec::new();
    let mut extra = json!({ "epochs": c.epochs.len() });
    if let Some(f) = divergence(c, bad_step) {
        findings.push(f);
        return (findings, extra);
    }
    findings.extend(oscillation(c));
    if let Some((start, f)) = plateau(c) {
        extra["plateau_epoch"] = start.into();
        findings.push(f);
    }
    if let Some((best, onset, f)) = overfitting(c) {
        extra["best_val_epoch"] = best.into();
        extra["overfitting_epoch"] = onset.into();
        findings.push(f);
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "curves",
            format!(
                "{} epochs: no divergence, oscillation, plateau or overfitting found",
                c.epochs.len()
            ),
        ));
    }
    (findings, extra)
}

/// A non-finite loss, or a final training loss over twice its lowest and above its first.
fn divergence(c: &Curves, bad_step: Option<u64>) -> Option<Finding> {
    let fix = "lower optimizer.lr (`gradus doctor CONFIG` suggests one), clip gradients \
               (optimizer.clip_grad_norm = 1.0) or standardize the features";
    if let Some(i) = c.train.iter().position(|l| !l.is_finite()) {
        let at = bad_step.map_or(String::new(), |s| format!(" (first at step {s})"));
        return Some(Finding::problem(
            "divergence",
            Severity::Serious,
            format!(
                "the training loss is not finite from epoch {}{at}",
                c.epochs[i]
            ),
            fix,
        ));
    }
    if let Some(s) = bad_step {
        return Some(Finding::problem(
            "divergence",
            Severity::Serious,
            format!("a step's loss is not finite (step {s} in steps.csv)"),
            fix,
        ));
    }
    let (lo, lo_at) = c
        .train
        .iter()
        .enumerate()
        .map(|(i, &l)| (l, i))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    let (first, last) = (c.train[0], *c.train.last()?);
    (last > 2.0 * lo && last > first).then(|| {
        Finding::problem(
            "divergence",
            Severity::Serious,
            format!(
                "the training loss diverged: lowest {lo:.4e} at epoch {}, {last:.4e} at the end (it started at {first:.4e})",
                c.epochs[lo_at]
            ),
            fix,
        )
    })
}

/// The training loss rising by more than [`RISE`] in at least 3 epochs and a quarter of them.
fn oscillation(c: &Curves) -> Option<Finding> {
    let diffs = c.train.len().saturating_sub(1);
    let rises = c
        .train
        .windows(2)
        .filter(|w| w[1] > w[0] + RISE * w[0].abs())
        .count();
    (diffs >= 4 && rises >= 3 && 4 * rises >= diffs).then(|| {
        Finding::problem(
            "oscillation",
            Severity::Warning,
            format!(
                "the training loss rose (by more than {:.0}%) from one epoch to the next {rises} times in {diffs}",
                100.0 * RISE
            ),
            "halve optimizer.lr, raise batch.size, or clip gradients (optimizer.clip_grad_norm = 1.0)",
        )
    })
}

/// The earliest epoch after which the training loss improves by less than [`PLATEAU_GAIN`] of
/// itself for at least [`PLATEAU_EPOCHS`] epochs, to the end.
fn plateau(c: &Curves) -> Option<(usize, Finding)> {
    let n = c.train.len();
    let mut later_min = f64::INFINITY;
    let mut start = None;
    for p in (0..n.saturating_sub(1)).rev() {
        later_min = later_min.min(c.train[p + 1]);
        if c.train[p] - later_min < PLATEAU_GAIN * c.train[p].abs() {
            start = Some(p);
        } else {
            break;
        }
    }
    let p = start?;
    let length = n - 1 - p;
    (length >= PLATEAU_EPOCHS).then(|| {
        let epoch = c.epochs[p];
        (epoch, Finding::problem(
            "plateau",
            Severity::Warning,
            format!(
                "the training loss has improved by less than {:.0}% since epoch {epoch} ({length} epochs, {:.4e} -> {:.4e})",
                100.0 * PLATEAU_GAIN, c.train[p], c.train[n - 1]
            ),
            "if the loss is still high, raise optimizer.lr or restart it (schedule.name = \
             \"onecycle\" or \"warm_restarts\"); if it is as low as it gets, stop there \
             (train.early_stopping_patience = 5) or train fewer epochs",
        ))
    })
}

/// The validation loss lowest at some epoch, then ending [`OVERFIT_RISE`] above it at least two
/// epochs later while the training loss keeps falling: (best epoch, first epoch after it).
fn overfitting(c: &Curves) -> Option<(usize, usize, Finding)> {
    let val: Vec<(usize, f64)> = c
        .val
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v)))
        .collect();
    let &(b, best) = val.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let &(last_i, last) = val.last()?;
    let later = val.iter().filter(|(i, _)| *i > b).count();
    let train_falls = c.train[last_i] < c.train[b];
    (later >= 2 && last > best * (1.0 + OVERFIT_RISE) && train_falls).then(|| {
        let (best_epoch, onset) = (c.epochs[b], c.epochs[b + 1]);
        (best_epoch, onset, Finding::problem(
            "overfitting",
            Severity::Warning,
            format!(
                "the validation loss is lowest at epoch {best_epoch} ({best:.4e}) and rises from epoch {onset} ({last:.4e} at the end) while the training loss keeps falling ({:.4e} -> {:.4e})",
                c.train[b], c.train[last_i]
            ),
            format!("stop early: train.early_stopping_patience = 3 with train.restore_best = true (keeps epoch {best_epoch}'s weights), or regularize (optimizer.weight_decay, dropout, more data)"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves(train: &[f64], val: &[f64]) -> Curves {
        Curves {
            epochs: (1..=train.len()).collect(),
            train: train.to_vec(),
            val: val.iter().map(|&v| Some(v)).collect(),
        }
    }

    #[test]
    fn metrics_csv_is_read_by_column_name() {
        let text = "epoch,step,train_loss,val_loss,grad_norm\n1,10,0.5,,1\n2,20,0.25,0.3,1\n";
        let c = parse_metrics(text, "m.csv").unwrap();
        assert_eq!(c.epochs, vec![1, 2]);
        assert_eq!(c.train, vec![0.5, 0.25]);
        assert_eq!(c.val, vec![None, Some(0.3)]);
        let e = parse_metrics("epoch,loss\n1,2\n", "m.csv").unwrap_err();
        assert!(e.contains("train_loss"), "{e}");
        let e = parse_metrics("epoch,train_loss\n1,x\n", "m.csv").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_steadily_falling_loss_has_no_finding() {
        let train: Vec<f64> = (0..20).map(|e| 0.9f64.powi(e)).collect();
        let (f, _) = judge(&curves(&train, &train), None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Ok);
    }

    #[test]
    fn oscillation_and_divergence_are_found() {
        let zigzag: Vec<f64> = (0..12)
            .map(|e| if e % 2 == 0 { 1.0 } else { 0.8 })
            .collect();
        let (f, _) = judge(&curves(&zigzag, &zigzag), None);
        assert!(f.iter().any(|f| f.check == "oscillation"), "{f:?}");
        let (f, _) = judge(&curves(&[1.0, 0.5, 0.4, 3.0], &[]), None);
        assert_eq!(
            (f[0].check, f[0].severity),
            ("divergence", Severity::Serious)
        );
        let (f, _) = judge(&curves(&[1.0, f64::NAN], &[]), Some(17));
        assert!(f[0].message.contains("step 17"), "{f:?}");
    }

    #[test]
    fn first_non_finite_step_is_read_from_steps_csv() {
        let text = "step,epoch,samples,loss,lr,grad_norm\n1,1,4,0.5,0.1,1\n2,1,4,NaN,0.1,1\n";
        assert_eq!(first_non_finite_step(text), Some(2));
        assert_eq!(first_non_finite_step("step,loss\n1,0.5\n"), None);
    }
}
