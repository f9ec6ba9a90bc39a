//! What a search leaves: `best.toml` (the best trial's config, ready for `gradus train`, without
//! `[search]`), `trials.csv` (one row per trial) and the console table.

use crate::error::{io, Result};
use crate::study::Study;
use crate::trial::Trial;
use crate::trial_config::{to_text, trial_config};
use std::path::Path;

/// Writes `best.toml` to `path`: `base` with the best completed trial's values. Returns the
/// trial, or `None` (nothing written) when no trial completed.
///
/// # Errors
/// The file cannot be written.
pub fn write_best(study: &Study, base: &toml::Table, path: &Path) -> Result<Option<usize>> {
    let Some(best) = study.best() else {
        return Ok(None);
    };
    let t = trial_config(base, &study.spec().space, &best.params)?;
    let v = best.value().unwrap_or(f64::NAN);
    let text = format!(
        "# The best trial of a gradus tune search: trial {} with {} {v} ({}).\n{}",
        best.number,
        study.spec().metric,
        match study.spec().direction {
            crate::Direction::Minimize => "minimized",
            crate::Direction::Maximize => "maximized",
        },
        to_text(&t)
    );
    std::fs::write(path, text).map_err(io(path))?;
    Ok(Some(best.number))
}

fn cell(study: &Study, t: &Trial, name: &str) -> String {
    match (study.spec().space.get(name), t.params.get(name)) {
        (Some(p), Some(v)) => match p.distribution.to_toml(*v) {
            toml::Value::String(s) => s,
            other => other.to_string(),
        },
        _ => String::new(),
    }
}

/// Writes `report.html` ([`crate::report::html`]).
///
/// # Errors
/// The file cannot be written.
pub fn write_report(study: &Study, path: &Path) -> Result<()> {
    std::fs::write(path, crate::report::html(study)).map_err(io(path))
}

/// Epochs a trial ran (its last reported epoch).
fn epochs(t: &Trial) -> usize {
    t.last().map_or(0, |(e, _)| e)
}

/// Writes `trials.csv`: `trial,state,value,epochs,<parameters>` (value: the final objective of a
/// completed trial, the last reported one of a pruned trial).
///
/// # Errors
/// The file cannot be written.
pub fn write_trials_csv(study: &Study, path: &Path) -> Result<()> {
    let names: Vec<&str> = study
        .spec()
        .space
        .params
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut out = format!("trial,state,value,epochs,{}\n", names.join(","));
    for t in study.trials() {
        let value = t
            .value()
            .or_else(|| t.last().map(|l| l.1))
            .map_or(String::new(), |v| v.to_string());
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                let c = cell(study, t, n);
                if c.contains(',') || c.contains('"') {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c
                }
            })
            .collect();
        out += &format!(
            "{},{},{value},{},{}\n",
            t.number,
            t.state_name(),
            epochs(t),
            cells.join(",")
        );
    }
    std::fs::write(path, out).map_err(io(path))
}

/// The trials as an aligned text table, best first (completed by value, then the others by
/// number), the best marked with `*`.
pub fn table(study: &Study) -> String {
    let d = study.spec().direction;
    let names: Vec<&str> = study
        .spec()
        .space
        .params
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut ts: Vec<&Trial> = study.trials().iter().collect();
    ts.sort_by(|a, b| match (a.value(), b.value()) {
        (Some(x), Some(y)) => d.loss(x).total_cmp(&d.loss(y)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.number.cmp(&b.number),
    });
    let best = study.best().map(|t| t.number);
    let mut rows = vec![[
        vec![
            "trial".to_string(),
            "state".into(),
            study.spec().metric.clone(),
            "epochs".into(),
        ],
        names.iter().map(|n| n.to_string()).collect(),
    ]
    .concat()];
    for t in ts {
        let mark = if Some(t.number) == best { "*" } else { " " };
        let value = t
            .value()
            .or_else(|| t.last().map(|l| l.1))
            .map_or("-".to_string(), |v| format!("{v:.5}"));
        let mut row = vec![
            format!("{mark}{}", t.number),
            t.state_name().to_string(),
            value,
            epochs(t).to_string(),
        ];
        row.extend(names.iter().map(|n| cell(study, t, n)));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
