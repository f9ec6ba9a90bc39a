//! `gradus compare`: one page overlaying several runs' curves (TensorBoard's multi-run view),
//! with a table of the settings their configs differ in and one of their final metrics.

use super::chart::{escape, short, Chart, Series};
use super::run_files::RunFiles;
use super::smooth::{ema, REPORT_WEIGHT};
use std::collections::BTreeMap;
use std::fmt::Write;

const COLORS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Each run's label: its folder's name, or its whole path when two names are the same.
pub fn labels(runs: &[RunFiles]) -> Vec<String> {
    let names: Vec<String> = runs
        .iter()
        .map(|r| {
            r.dir.file_name().map_or_else(
                || r.dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let unique = names
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        == names.len();
    if unique {
        names
    } else {
        runs.iter().map(|r| r.dir.display().to_string()).collect()
    }
}

/// A config's leaves as dotted keys and their TOML values (`optimizer.lr = 0.01`).
///
/// ```
/// let flat = gradus_run::report::compare::flatten("epochs = 3\n[optimizer]\nlr = 0.1\n");
/// assert_eq!(flat.get("optimizer.lr").map(String::as_str), Some("0.1"));
/// ```
pub fn flatten(config: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(v) = config.parse::<toml::Value>() {
        crate::config::resume::for_each_leaf("", &v, &mut |k, v| {
            out.insert(k, v.to_string());
        });
    }
    out
}

/// The keys whose values differ between the configs (absent counts as a value), with each
/// run's value (`None`: absent).
pub fn config_differences(
    configs: &[BTreeMap<String, String>],
) -> Vec<(String, Vec<Option<String>>)> {
    let keys: std::collections::BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let vals: Vec<Option<String>> = configs.iter().map(|c| c.get(k).cloned()).collect();
            vals.iter()
                .any(|v| *v != vals[0])
                .then(|| (k.clone(), vals))
        })
        .collect()
}

/// The comparison page.
///
/// ```
/// use gradus_run::report::{compare::page, run_files::{RunFiles, Table}};
/// let run = |dir: &str, lr: &str| RunFiles {
///     dir: dir.into(),
///     metrics: Table::parse("epoch,step,train_loss,val_loss,grad_norm,lr,update_ratio,seconds\n1,10,0.5,0.6,1,0.1,0.001,0.2\n"),
///     steps: Table::default(),
///     layers: Table::default(),
///     summary: None,
///     config: Some(format!("[optimizer]\nlr = {lr}\n")),
/// };
/// let html = page(&[run("runs/a", "0.1"), run("runs/b", "0.01")]);
/// assert!(html.contains("optimizer.lr") && html.contains("<svg"));
/// ```
pub fn page(runs: &[RunFiles]) -> String {
    let labels = labels(runs);
    let color = |i: usize| COLORS[i % COLORS.len()];
    let mut charts = Vec::new();
    let mut loss = Chart::new(&format!("Training loss (smoothed {REPORT_WEIGHT})"), "step");
    let mut val = Chart::new("Validation loss", "epoch");
    let mut lr = Chart::new("Learning rate", "step");
    lr.log_y = Some(false);
    for (i, r) in runs.iter().enumerate() {
        let mut pts = r.steps.points("step", "loss");
        if pts.is_empty() {
            pts = r.metrics.points("step", "train_loss");
        }
        let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
        let smoothed = pts
            .iter()
            .map(|p| p.0)
            .zip(ema(&ys, REPORT_WEIGHT))
            .collect();
        loss.series
            .push(Series::line(&labels[i], color(i), smoothed));
        val.series.push(Series::line(
            &labels[i],
            color(i),
            r.metrics.points("epoch", "val_loss"),
        ));
        let mut l = r.steps.points("step", "lr");
        if l.is_empty() {
            l = r.metrics.points("step", "lr");
        }
        lr.series.push(Series::line(&labels[i], color(i), l));
    }
    charts.push(loss.svg());
    if val.series.iter().any(|s| !s.points.is_empty()) {
        charts.push(val.svg());
    }
    let mut metric_names: Vec<String> = runs
        .iter()
        .flat_map(super::sections::metric_names)
        .collect();
    metric_names.sort();
    metric_names.dedup();
    for name in &metric_names {
        let mut c = Chart::new(name, "epoch");
        c.log_y = Some(false);
        for (i, r) in runs.iter().enumerate() {
            c.series.push(Series::line(
                &labels[i],
                color(i),
                r.metrics.points("epoch", name),
            ));
        }
        charts.push(c.svg());
    }
    charts.push(lr.svg());
    let configs: Vec<BTreeMap<String, String>> = runs
        .iter()
        .map(|r| flatten(r.config.as_deref().unwrap_or("")))
        .collect();
    let diffs = config_differences(&configs);
    let head: String = labels
        .iter()
        .enumerate()
        .map(|(i, l)| format!("<th style=\"color:{}\">{}</th>", color(i), escape(l)))
        .collect();
    let mut diff_html = format!("<table><tr><th>key</th>{head}</tr>");
    for (k, vals) in &diffs {
        let cells: String = vals
            .iter()
            .map(|v| format!("<td>{}</td>", escape(v.as_deref().unwrap_or("—"))))
            .collect();
        let _ = write!(diff_html, "<tr><th>{}</th>{cells}</tr>", escape(k));
    }
    diff_html += "</table>";
    if diffs.is_empty() {
        diff_html = "<p class=\"note\">The configs are the same.</p>".into();
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gradus compare: {t}</title><style>{style}</style></head>\n<body><h1>Comparing {n} runs</h1>\n<section id=\"curves\"><h2>Curves</h2><div class=\"row\">{c}</div></section>\n<section id=\"config-diff\"><h2>Config differences</h2>{diff_html}</section>\n<section id=\"final-metrics\"><h2>Final metrics</h2>{m}</section>\n</body></html>\n",
        t = escape(&labels.join(", ")),
        style = super::STYLE,
        n = runs.len(),
        c = charts.join(""),
        m = final_metrics(runs, &labels)
    )
}

/// Per run: epochs, steps, how it ended, the best epoch, the last epoch's losses and metrics, and
/// the test metrics.
fn final_metrics(runs: &[RunFiles], labels: &[String]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut put = |key: String, i: usize, v: String| {
        let at = match rows.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                rows.push((key, vec![String::new(); runs.len()]));
                rows.len() - 1
            }
        };
        rows[at].1[i] = v;
    };
    for (i, r) in runs.iter().enumerate() {
        let s = r.summary.clone().unwrap_or_default();
        for k in ["epochs", "steps", "stopped"] {
            if let Some(v) = s.get(k) {
                put(
                    k.into(),
                    i,
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                );
            }
        }
        if let Some(e) = s.get("best").and_then(|b| b.get("epoch")) {
            put("best epoch".into(), i, e.to_string());
        }
        let last = r.metrics.rows.len().checked_sub(1);
        if let Some(last) = last {
            for (c, name) in r.metrics.header.iter().enumerate() {
                if [
                    "epoch",
                    "step",
                    "lr",
                    "update_ratio",
                    "grad_norm",
                    "seconds",
                ]
                .contains(&name.as_str())
                {
                    continue;
                }
                if let Ok(v) = r.metrics.rows[last][c].parse::<f64>() {
                    put(format!("last epoch: {name}"), i, short(v));
                }
            }
        }
        if let Some(t) = s.get("test").and_then(|t| t.as_object()) {
            for (k, v) in t {
                put(
                    format!("test: {k}"),
                    i,
                    v.as_f64().map_or_else(String::new, short),
                );
            }
        }
        let secs: f64 = r
            .metrics
            .column("seconds")
            .unwrap_or_default()
            .iter()
            .flatten()
            .sum();
        put("wall time".into(), i, super::duration(secs));
    }
    let head: String = labels
        .iter()
        .map(|l| format!("<th>{}</th>", escape(l)))
        .collect();
    let mut html = format!("<table><tr><th></th>{head}</tr>");
    for (k, vals) in rows {
        let cells: String = vals
            .iter()
            .map(|v| format!("<td class=\"n\">{}</td>", escape(v)))
            .collect();
        let _ = write!(html, "<tr><th>{}</th>{cells}</tr>", escape(&k));
    }
    html + "</table>"
}
