//! The learning-rate range test ([`gradus_train::lr_finder`]) with the config's own optimizer,
//! and the configured rate judged against it.

use super::{Finding, Severity};
use gradus_run::{setup, Run};
use gradus_train::lr_finder::{lr_range_test, LrFinderOptions, LrRangeTest};
use gradus_train::TrainError;
use serde_json::Value;

/// The range test's finding and its curve (as JSON).
///
/// # Errors
/// When the optimizer cannot be built or a step fails.
pub fn range_test(run: &Run, steps: usize) -> Result<(Vec<Finding>, Value), String> {
    let configured = run.config.optimizer.lr;
    let options = LrFinderOptions {
        end_lr: (100.0 * configured).max(10.0),
        steps,
        seed: run.config.seed,
        ..LrFinderOptions::default()
    };
    let model = run.trainer.model.as_ref();
    let t = lr_range_test(
        model,
        &run.trainer.task,
        &run.train,
        run.trainer.options.batch,
        run.trainer.options.dtype,
        |lr| {
            setup::optimizer(&run.config.optimizer, model, &lr, None)
                .map_err(|e| TrainError::Setup(e.to_string()))
        },
        &options,
    )
    .map_err(|e| e.to_string())?;
    let curve = serde_json::to_value(&t).map_err(|e| e.to_string())?;
    Ok((vec![judge(&t, configured)], curve))
}

/// The configured rate against the range test: past the point where the loss blew up is
/// serious; over 10× or under 1/100 of the suggestion, a warning.
pub fn judge(t: &LrRangeTest, configured: f64) -> Finding {
    let s = t.suggested_lr;
    let stop = t.lrs.last().copied().unwrap_or(f64::INFINITY);
    let fix = format!("set optimizer.lr = {s:.3e} (the range test's suggestion)");
    let measured = format!(
        "range test over {} steps: suggested {s:.3e} (steepest descent of the smoothed loss), lowest loss at {:.3e}{}",
        t.lrs.len(),
        t.min_lr,
        if t.diverged {
            format!(", loss past 4x its best at {stop:.3e}")
        } else {
            ", no blow-up up to the last rate".to_string()
        }
    );
    if t.diverged && configured >= stop {
        Finding::problem(
            "lr_range_test",
            Severity::Serious,
            format!("optimizer.lr = {configured:.3e} is at or past the rate where the loss blew up; {measured}"),
            fix,
        )
    } else if configured > 10.0 * s {
        Finding::problem(
            "lr_range_test",
            Severity::Warning,
            format!("optimizer.lr = {configured:.3e} is over 10x the suggestion: training may be unstable; {measured}"),
            fix,
        )
    } else if configured < s / 100.0 {
        Finding::problem(
            "lr_range_test",
            Severity::Warning,
            format!("optimizer.lr = {configured:.3e} is under 1/100 of the suggestion: training will be slow; {measured}"),
            fix,
        )
    } else {
        Finding::ok(
            "lr_range_test",
            format!("optimizer.lr = {configured:.3e} is within [1/100, 10] x the suggestion; {measured}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(diverged: bool) -> LrRangeTest {
        let lrs: Vec<f64> = (0..30).map(|i| 10f64.powf(-5.0 + 0.2 * i as f64)).collect();
        let loss: Vec<f64> = lrs.iter().map(|r| 1.0 - (r.log10() + 2.0).tanh()).collect();
        LrRangeTest::from_curve(lrs, loss.clone(), loss, diverged).unwrap()
    }

    #[test]
    fn the_configured_rate_is_judged_against_the_curve() {
        let t = curve(true);
        let s = t.suggested_lr;
        assert_eq!(judge(&t, s).severity, Severity::Ok);
        assert_eq!(judge(&t, 20.0 * s).severity, Severity::Warning);
        assert_eq!(judge(&t, s / 1000.0).severity, Severity::Warning);
        assert_eq!(judge(&t, 1e3).severity, Severity::Serious);
        // without a blow-up a high rate is only a warning
        assert_eq!(judge(&curve(false), 1e3).severity, Severity::Warning);
    }
}
