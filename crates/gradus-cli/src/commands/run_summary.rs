//! The summary `gradus train` prints when a run ends (as PyTorch Lightning's and Keras' end of
//! `fit`): why it ended, the best epoch, the test metrics, the wall time and throughput, where the
//! files are, and the commands that evaluate the model and continue the run.

use gradus_run::report::duration;
use gradus_run::Outcome;
use std::path::Path;

/// The summary's lines, for a run of `train_samples` samples per epoch written to `out`.
pub fn lines(outcome: &Outcome, out: &Path, train_samples: usize, config: &Path) -> Vec<String> {
    let s = &outcome.summary;
    let mut lines = vec!["── run summary ──".to_string()];
    let epochs = match s.epochs {
        1 => "1 epoch".to_string(),
        n => format!("{n} epochs"),
    };
    lines.push(format!(
        "  ended       {} after {epochs}, {} steps",
        s.stopped, s.steps
    ));
    if let Some(best) = &s.best {
        let mut l = format!("  best epoch  {}:", best.epoch);
        if let Some(v) = best.val_loss {
            l += &format!(" val_loss {v:.5}");
        } else {
            l += &format!(" train_loss {:.5}", best.train_loss);
        }
        for (k, v) in &best.metrics {
            l += &format!(" {k} {v:.4}");
        }
        lines.push(l);
    }
    if let Some((loss, metrics)) = &outcome.test {
        let m: String = metrics
            .iter()
            .map(|(k, v)| format!("  {k} {v:.4}"))
            .collect();
        lines.push(format!("  test        loss {loss:.5}{m}"));
    }
    let history = std::fs::read_to_string(out.join("metrics.csv")).unwrap_or_default();
    let secs: f64 = history
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next()?.parse::<f64>().ok())
        .sum();
    let epochs_run = history.lines().skip(1).count();
    let throughput = if secs > 0.0 {
        format!(
            ", {:.0} samples/s",
            (train_samples * epochs_run) as f64 / secs
        )
    } else {
        String::new()
    };
    lines.push(format!("  wall time   {}{throughput}", duration(secs)));
    if s.time.total > 0.0 {
        lines.push(format!("  time        {}", s.time.line()));
    }
    let d = out.display();
    lines.push(format!("  files       {d}/ (report.html, model.safetensors, metrics.csv, steps.csv, layers.csv, summary.json, config.toml, checkpoint.safetensors)"));
    lines.push(format!("  report      {d}/report.html"));
    lines.push(format!("  evaluate    gradus eval {d}/model.safetensors"));
    lines.push(format!(
        "  continue    gradus train {} --out {d} --resume --set epochs={}",
        config.display(),
        s.epochs + s.epochs.max(1)
    ));
    lines
}
