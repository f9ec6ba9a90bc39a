//! The sections of the report page, one function each, in page order.

use super::chart::{escape, short, Chart, Marker, Series};
use super::run_files::RunFiles;
use super::smooth::{ema, REPORT_WEIGHT};
use super::ticks::label;
use super::{duration, ReportInput};
use gradus_train::metrics::EPOCH_COLUMNS;
use std::fmt::Write;

const BLUE: &str = "#1f77b4";
const ORANGE: &str = "#ff7f0e";
const GREEN: &str = "#2ca02c";
const PALETTE: [&str; 6] = [GREEN, "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

fn section(id: &str, title: &str, content: &str) -> String {
    format!("<section id=\"{id}\"><h2>{title}</h2>\n{content}</section>")
}

fn kv_table(rows: &[(String, String)]) -> String {
    let mut s = String::from("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    s + "</table>"
}

fn summary_str<'a>(files: &'a RunFiles, key: &str) -> Option<&'a serde_json::Value> {
    files.summary.as_ref()?.get(key)
}

/// The best epoch's number, from `summary.json`.
fn best_epoch(files: &RunFiles) -> Option<f64> {
    summary_str(files, "best")?.get("epoch")?.as_f64()
}

/// The optimizer step at the end of `epoch`, from `metrics.csv`.
fn step_of(files: &RunFiles, epoch: f64) -> Option<f64> {
    files
        .metrics
        .points("epoch", "step")
        .into_iter()
        .find(|(e, _)| *e == epoch)
        .map(|(_, s)| s)
}

/// The task metric columns of `metrics.csv` (accuracy, rmse, ...).
pub(crate) fn metric_names(files: &RunFiles) -> Vec<String> {
    files
        .metrics
        .header
        .iter()
        .filter(|h| {
            !["epoch", "step", "seconds", "noise_scale", "skipped_steps"].contains(&h.as_str())
        })
        .filter(|h| !EPOCH_COLUMNS.contains(&h.as_str()))
        .cloned()
        .collect()
}

/// Best epoch, early stop / interrupt markers, at steps (`by_step`) or epochs.
fn markers(files: &RunFiles, by_step: bool) -> Vec<Marker> {
    let at = |epoch: f64| {
        if by_step {
            step_of(files, epoch)
        } else {
            Some(epoch)
        }
    };
    let mut out = Vec::new();
    if let Some(x) = best_epoch(files).and_then(at) {
        out.push(Marker {
            x,
            label: format!("best epoch {}", best_epoch(files).unwrap_or(0.0)),
            color: GREEN.into(),
        });
    }
    let stopped = summary_str(files, "stopped")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let last = files.metrics.points("epoch", "step").last().copied();
    if let (Some((e, s)), true) = (last, stopped != "completed" && !stopped.is_empty()) {
        out.push(Marker {
            x: if by_step { s } else { e },
            label: stopped.to_string(),
            color: "#d62728".into(),
        });
    }
    out
}

/// Raw values faint, TensorBoard-smoothed on top.
fn raw_and_smoothed(label: &str, color: &str, points: Vec<(f64, f64)>) -> Vec<Series> {
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    let smoothed: Vec<(f64, f64)> = points
        .iter()
        .map(|p| p.0)
        .zip(ema(&ys, REPORT_WEIGHT))
        .collect();
    vec![
        Series::thin(&format!("{label} (raw)"), color, 0.25, points),
        Series::line(
            &format!("{label} (smoothed {REPORT_WEIGHT})"),
            color,
            smoothed,
        ),
    ]
}

pub(super) fn summary(files: &RunFiles, input: &ReportInput) -> String {
    let mut rows = Vec::new();
    let get = |k: &str| summary_str(files, k);
    for key in ["epochs", "steps", "stopped", "parameters"] {
        if let Some(v) = get(key) {
            rows.push((
                key.to_string(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            ));
        }
    }
    if let Some(n) = get("skipped_steps")
        .and_then(|v| v.as_u64())
        .filter(|&n| n > 0)
    {
        rows.push((
            "skipped steps".into(),
            format!(
                "{n} (the f16 loss scaler's inf/NaN steps; the parameters were left as they were)"
            ),
        ));
    }
    if let Some(best) = get("best").filter(|b| !b.is_null()) {
        let mut line = format!("epoch {}", best["epoch"]);
        for k in ["train_loss", "val_loss"] {
            if let Some(v) = best[k].as_f64() {
                let _ = write!(line, ", {k} {}", short(v));
            }
        }
        if let Some(m) = best["metrics"].as_object() {
            for (k, v) in m {
                let _ = write!(line, ", {k} {}", v.as_f64().map_or(String::new(), short));
            }
        }
        rows.push(("best epoch".into(), line));
    }
    if let Some(e) = input.weights_epoch {
        rows.push((
            "model.safetensors holds".into(),
            format!("the weights after epoch {e}"),
        ));
    }
    if let Some((loss, metrics)) = &input.test {
        let mut line = format!("loss {}", short(*loss));
        for (k, v) in metrics {
            let _ = write!(line, ", {k} {}", short(*v));
        }
        rows.push(("test".into(), line));
    }
    let secs: f64 = files
        .metrics
        .column("seconds")
        .unwrap_or_default()
        .iter()
        .flatten()
        .sum();
    rows.push(("wall time of the epochs".into(), duration(secs)));
    rows.push(("run folder".into(), files.dir.display().to_string()));
    section("summary", "Summary", &kv_table(&rows))
}

pub(super) fn curves(files: &RunFiles) -> String {
    let steps = files.steps.points("step", "loss");
    let mut loss = Chart::new("Loss", "step");
    if steps.is_empty() {
        loss.series.push(Series::line(
            "train (epoch mean)",
            BLUE,
            files.metrics.points("step", "train_loss"),
        ));
    } else {
        loss.series.extend(raw_and_smoothed("train", BLUE, steps));
    }
    let val = files.metrics.points("step", "val_loss");
    let has_validation = !val.is_empty();
    if has_validation {
        loss.series
            .push(Series::line("validation (epoch)", ORANGE, val));
    }
    loss.markers = markers(files, true);
    let mut charts = vec![loss.svg()];
    let by_epoch = files.metrics.rows.len() >= 2;
    let names = metric_names(files);
    if by_epoch && !names.is_empty() {
        // without validation data the epoch's metrics are the training data's
        let title = if has_validation {
            "Metrics (each epoch, validation data)"
        } else {
            "Metrics (each epoch, training data)"
        };
        let mut m = Chart::new(title, "epoch");
        m.log_y = Some(false);
        for (i, n) in names.iter().enumerate() {
            m.series.push(Series::line(
                n,
                PALETTE[i % PALETTE.len()],
                files.metrics.points("epoch", n),
            ));
        }
        m.markers = markers(files, false);
        charts.push(m.svg());
    }
    let mut g = Chart::new("Global gradient norm", "step");
    let gsteps = files.steps.points("step", "grad_norm");
    if gsteps.is_empty() {
        g.series.push(Series::line(
            "epoch mean",
            "#9467bd",
            files.metrics.points("step", "grad_norm"),
        ));
    } else {
        g.series.extend(raw_and_smoothed("norm", "#9467bd", gsteps));
    }
    g.markers = markers(files, true);
    charts.push(g.svg());
    if by_epoch {
        let mut u = Chart::new("Update-to-parameter norm ratio (epoch mean)", "epoch");
        u.series.push(Series::line(
            "ratio",
            "#8c564b",
            files.metrics.points("epoch", "update_ratio"),
        ));
        charts.push(u.svg());
        let noise = files.metrics.points("epoch", "noise_scale");
        if !noise.is_empty() {
            let mut n = Chart::new(
                "Gradient noise scale B_simple (samples; the critical batch size)",
                "epoch",
            );
            n.series.push(Series::line("B_simple", "#17becf", noise));
            charts.push(n.svg());
        }
        let skipped = files.metrics.points("epoch", "skipped_steps");
        if !skipped.is_empty() {
            let mut k = Chart::new(
                "Steps skipped by the f16 loss scaler (inf/NaN gradients; not divergence)",
                "epoch",
            );
            k.log_y = Some(false);
            k.series
                .push(Series::line("skipped steps", "#d62728", skipped));
            charts.push(k.svg());
        }
    }
    let epoch_values = if by_epoch {
        String::new()
    } else {
        epoch_table(files)
    };
    let note = format!(
        "<p class=\"note\">Training loss per step, smoothed as TensorBoard smooths (debiased exponential moving average, weight {REPORT_WEIGHT}), the raw values faint; validation at each epoch's end. Hover a point for its value. A y axis marked \"log y\" is logarithmic.</p>"
    );
    section(
        "curves",
        "Training curves",
        &format!(
            "{note}<div class=\"row\">{}</div>{epoch_values}",
            charts.join("")
        ),
    )
}

/// `metrics.csv` as a table, for a run of one epoch, whose epoch charts would be single dots.
fn epoch_table(files: &RunFiles) -> String {
    let mut s = String::from("<p class=\"note\">One epoch: its values (metrics.csv) as a table rather than charts of one point each.</p><table id=\"epoch-values\"><tr>");
    for h in &files.metrics.header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr>");
    for r in &files.metrics.rows {
        s.push_str("<tr>");
        for cell in r {
            let v = cell.parse::<f64>().map_or_else(|_| cell.clone(), short);
            let _ = write!(s, "<td class=\"n\">{}</td>", escape(&v));
        }
        s.push_str("</tr>");
    }
    s + "</table>"
}

pub(super) fn test(input: &ReportInput) -> String {
    let content = match &input.test {
        Some((loss, metrics)) => {
            let mut rows = vec![("loss".to_string(), short(*loss))];
            rows.extend(metrics.iter().map(|(k, v)| (k.clone(), short(*v))));
            kv_table(&rows)
        }
        None => "<p class=\"note\">No test data: set <code>data.test_path</code> to evaluate the trained model on held-out data once training ends.</p>".into(),
    };
    section("test", "Test metrics", &content)
}

pub(super) fn timing(files: &RunFiles, input: &ReportInput) -> String {
    let secs = files.metrics.points("epoch", "seconds");
    let total: f64 = secs.iter().map(|p| p.1).sum();
    let n = input.train_samples as f64;
    let mut rows = vec![("wall time of the epochs".to_string(), duration(total))];
    if !secs.is_empty() {
        rows.push(("mean per epoch".into(), duration(total / secs.len() as f64)));
    }
    let phases = files.summary.as_ref().and_then(|s| {
        serde_json::from_value::<gradus_train::timing::PhaseTimes>(s.get("time")?.clone()).ok()
    });
    if let Some(t) = phases.filter(|t| t.total > 0.0) {
        rows.push(("time in training, by phase".into(), t.line()));
    }
    if total > 0.0 && n > 0.0 {
        rows.push((
            "throughput".into(),
            format!(
                "{} samples/s (training and the epoch's evaluation)",
                short((n * secs.len() as f64 / total).round())
            ),
        ));
    }
    if let Some(bytes) = input.peak_memory {
        rows.push((
            "peak memory (resident)".into(),
            format!("{:.1} MiB", bytes as f64 / 1048576.0),
        ));
    }
    let mut content = kv_table(&rows);
    if secs.len() > 1 {
        let mut c = Chart::new("Wall time per epoch (s)", "epoch");
        c.log_y = Some(false);
        c.series
            .push(Series::line("seconds", "#7f7f7f", secs.clone()));
        if n > 0.0 {
            let mut t = Chart::new("Throughput (samples/s)", "epoch");
            t.log_y = Some(false);
            t.series.push(Series::line(
                "samples/s",
                "#17becf",
                secs.iter()
                    .filter(|p| p.1 > 0.0)
                    .map(|&(e, s)| (e, n / s))
                    .collect(),
            ));
            content += &format!("<div class=\"row\">{}{}</div>", c.svg(), t.svg());
        }
    }
    section("timing", "Time, throughput and memory", &content)
}

/// The "update:data ratio" a healthy layer's update ratio stays near (Karpathy, CS231n notes
/// and makemore part 3), drawn as a guide line.
pub(crate) const UPDATE_RATIO_GUIDE: f64 = 1e-3;

/// A small chart of one layer's series.
fn small_chart(title: &str, color: &str, pts: Vec<(f64, f64)>) -> Chart {
    let mut c = Chart::new(title, "epoch");
    c.width = 300.0;
    c.height = 170.0;
    c.series.push(Series::line("", color, pts));
    c
}

/// A layer's update ratios with the 1e-3 guide as a faint line across the epochs (a series, so
/// that the y range always holds it).
fn ratio_chart(name: &str, pts: Vec<(f64, f64)>) -> String {
    let (x0, x1) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let mut c = small_chart(&format!("{name}: update ratio"), "#8c564b", pts);
    c.log_y = Some(true);
    if x0.is_finite() {
        c.series.push(Series::thin(
            "1e-3 guide",
            "#7f7f7f",
            0.6,
            vec![(x0, UPDATE_RATIO_GUIDE), (x1, UPDATE_RATIO_GUIDE)],
        ));
    }
    c.svg()
}

pub(super) fn layers(files: &RunFiles, input: &ReportInput) -> String {
    let title = "Per-layer gradient norms and update ratios";
    let layers = files.layer_series("grad_norm");
    if layers.is_empty() {
        return section(
            "layers",
            title,
            "<p class=\"note\">layers.csv has no rows.</p>",
        );
    }
    let ratios = files.layer_series("update_ratio");
    let (vanish, explode) = input.thresholds;
    if layers.iter().all(|(_, pts)| pts.len() < 2) {
        return section(
            "layers",
            title,
            &layer_table(&layers, &ratios, input.thresholds),
        );
    }
    let charts: String = layers
        .into_iter()
        .map(|(name, pts)| {
            let mut c = small_chart(&format!("{name}: gradient norm"), "#9467bd", pts);
            c.thresholds = vec![
                (vanish, format!("vanishing < {}", label(vanish, 0.0))),
                (explode, format!("exploding > {}", label(explode, 0.0))),
            ];
            let ratio = ratios
                .iter()
                .find(|(l, _)| *l == name)
                .map_or_else(String::new, |(_, r)| ratio_chart(&name, r.clone()));
            format!("<div class=\"row\">{}{ratio}</div>", c.svg())
        })
        .collect();
    let mut note = format!("<p class=\"note\">Each layer's gradient norm, mean over the epoch's steps (layers.csv). Dashed red lines: the thresholds under which a layer counts as vanishing ({}) and over which as exploding ({}), named at the bottom when off the chart.", label(vanish, 0.0), label(explode, 0.0));
    if !ratios.is_empty() {
        note.push_str(" Beside it the layer's update-to-parameter ratio ‖Δθ‖/‖θ‖ (the \"update:data ratio\"), mean over the epoch's measured steps; the grey line is the 1e-3 a healthy layer stays near: far below it learns slowly, far above it is unstable.");
    }
    note.push_str("</p>");
    section(
        "layers",
        title,
        &format!("{note}<div class=\"row\" id=\"layer-charts\">{charts}</div>"),
    )
}

/// The layers' values of a one-epoch run as a table (charts of one dot each say nothing), each
/// flagged against the thresholds and the update-ratio guide.
fn layer_table(
    layers: &[(String, Vec<(f64, f64)>)],
    ratios: &[(String, Vec<(f64, f64)>)],
    (vanish, explode): (f64, f64),
) -> String {
    let mut s = format!("<p class=\"note\">One epoch: each layer's gradient norm (mean over the epoch's steps; vanishing under {}, exploding over {}) and update-to-parameter ratio ‖Δθ‖/‖θ‖ (the \"update:data ratio\", mean over the measured steps; about 1e-3 is healthy), from layers.csv.</p><table id=\"layer-values\"><tr><th>layer</th><th>gradient norm</th><th>update ratio</th><th></th></tr>", label(vanish, 0.0), label(explode, 0.0));
    for (name, pts) in layers {
        let norm = pts.last().map_or(f64::NAN, |p| p.1);
        let ratio = ratios
            .iter()
            .find(|(l, _)| l == name)
            .and_then(|(_, r)| r.last())
            .map(|p| p.1);
        let flag = if norm < vanish {
            "vanishing"
        } else if norm > explode {
            "exploding"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{flag}</td></tr>",
            escape(name),
            short(norm),
            ratio.map_or_else(String::new, short)
        );
    }
    s + "</table>"
}

pub(super) fn task(input: &ReportInput) -> String {
    let mut content = super::predictions::view_html(&input.view);
    if !input.samples.is_empty() {
        content += "<h3>Generated text</h3>";
        for (prompt, text) in &input.samples {
            let _ = write!(
                content,
                "<div class=\"sample\"><b>{}</b>{}</div>",
                escape(prompt),
                escape(text)
            );
        }
    }
    if content.is_empty() {
        content = "<p class=\"note\">No task view for this model.</p>".into();
    }
    section("task", "Predictions", &content)
}

pub(super) fn schedule(files: &RunFiles) -> String {
    let mut c = Chart::new("Learning rate", "step");
    c.log_y = Some(false);
    c.width = 760.0;
    c.height = 240.0;
    let per_step = files.steps.points("step", "lr");
    if per_step.is_empty() {
        c.series.push(Series::line(
            "lr (epoch end)",
            "#8c564b",
            files.metrics.points("step", "lr"),
        ));
    } else {
        c.series.push(Series::line("lr", "#8c564b", per_step));
    }
    c.markers = markers(files, true);
    section("schedule", "Learning-rate schedule", &c.svg())
}

pub(super) fn model(input: &ReportInput) -> String {
    let mut s = String::from(
        "<table><tr><th>module</th><th>parameter</th><th>shape</th><th>count</th></tr>",
    );
    let mut total = 0usize;
    for (name, shape) in &input.parameters {
        let count: usize = shape.iter().product();
        total += count;
        let (module, param) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>[{}]</td><td class=\"n\">{count}</td></tr>",
            escape(module),
            escape(param),
            dims.join(", ")
        );
    }
    let _ = write!(
        s,
        "<tr><th colspan=\"3\">total trainable</th><td class=\"n\">{total}</td></tr></table>"
    );
    section("model", "Model", &s)
}

pub(super) fn config(files: &RunFiles) -> String {
    let content = files.config.as_ref().map_or_else(
        || "<p class=\"note\">config.toml is missing.</p>".to_string(),
        |c| format!("<p class=\"note\">config.toml: the config as the run resolved it (defaults filled in).</p><pre>{}</pre>", escape(c)),
    );
    section("config", "Config", &content)
}

pub(super) fn warnings(files: &RunFiles) -> String {
    let list: Vec<String> = summary_str(files, "warnings")
        .and_then(|w| w.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(|s| format!("<li>{}</li>", escape(s)))
                .collect()
        })
        .unwrap_or_default();
    let content = if list.is_empty() {
        "<p class=\"note\">none</p>".to_string()
    } else {
        format!("<ul>{}</ul>", list.join(""))
    };
    section("warnings", "Warnings", &content)
}
