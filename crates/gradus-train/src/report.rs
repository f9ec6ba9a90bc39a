//! `report.html`: a self-contained page with the training curves drawn as inline SVG.
//!
//! The charts are plain polylines, so they are written by hand (about a hundred lines) rather than
//! with a plotting crate: `plotters` needs a font backend to lay out text, which headless servers
//! often lack, and a report must render wherever the run happened.

use crate::metrics::EpochRecord;
use std::fmt::Write;

/// One line on a chart: a label, a colour and (x, y) points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// CSS colour.
    pub color: &'static str,
    /// Points in data coordinates; non-finite values are skipped.
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 300.0;
const MARGIN: (f64, f64, f64, f64) = (60.0, 20.0, 30.0, 40.0); // left, right, top, bottom

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An SVG line chart with axes, ticks and a legend; `log_y` plots log10 of positive values.
///
/// ```
/// use gradus_train::report::{line_chart, Series};
/// let s = Series { label: "loss".into(), color: "#1f77b4", points: vec![(1.0, 2.0), (2.0, 1.0)] };
/// let svg = line_chart("Loss", "epoch", &[s], false);
/// assert!(svg.starts_with("<svg") && svg.contains("polyline"));
/// ```
pub fn line_chart(title: &str, x_label: &str, series: &[Series], log_y: bool) -> String {
    let transform = |y: f64| {
        if log_y {
            if y > 0.0 {
                y.log10()
            } else {
                f64::NAN
            }
        } else {
            y
        }
    };
    let pts: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .map(|&(x, y)| (x, transform(y)))
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect()
        })
        .collect();
    let all = pts.iter().flatten();
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    if !x0.is_finite() {
        svg.push_str(r#"<text x="280" y="150" text-anchor="middle">no data</text></svg>"#);
        return svg;
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        (y0, y1) = (y0 - 0.5, y1 + 0.5);
    }
    let (l, r, t, b) = MARGIN;
    let sx = |x: f64| l + (x - x0) / (x1 - x0) * (WIDTH - l - r);
    let sy = |y: f64| HEIGHT - b - (y - y0) / (y1 - y0) * (HEIGHT - t - b);
    let _ = write!(
        svg,
        r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        WIDTH - l - r,
        HEIGHT - t - b
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let (xv, yv) = (x0 + f * (x1 - x0), y0 + f * (y1 - y0));
        let ylab = if log_y {
            format!("{:.3e}", 10f64.powf(yv))
        } else {
            format!("{yv:.4}")
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{xv:.0}</text>"#,
            sx(xv),
            HEIGHT - b + 14.0
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{ylab}</text>"#,
            l - 4.0,
            sy(yv) + 4.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        l + (WIDTH - l - r) / 2.0,
        HEIGHT - 6.0,
        escape(x_label)
    );
    for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
        let coords: Vec<String> = p
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#,
            s.color,
            coords.join(" ")
        );
        let ly = t + 14.0 + 14.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"/>"#,
            WIDTH - r - 110.0,
            WIDTH - r - 95.0,
            s.color
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            WIDTH - r - 90.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn series(
    label: &str,
    color: &'static str,
    records: &[EpochRecord],
    value: impl Fn(&EpochRecord) -> Option<f64>,
) -> Series {
    Series {
        label: label.into(),
        color,
        points: records
            .iter()
            .filter_map(|r| value(r).map(|v| (r.epoch as f64, v)))
            .collect(),
    }
}

/// The whole report page: a summary table and the loss, metric, gradient-norm and learning-rate
/// curves.
///
/// ```
/// use gradus_train::{metrics::EpochRecord, report::html_report};
/// let r = EpochRecord { epoch: 1, train_loss: 0.5, lr: 0.1, ..Default::default() };
/// let page = html_report("demo", &[("final loss".into(), "0.5".into())], &[r]);
/// assert!(page.contains("<svg") && page.contains("demo"));
/// ```
pub fn html_report(title: &str, summary: &[(String, String)], records: &[EpochRecord]) -> String {
    let mut charts = vec![line_chart(
        "Loss",
        "epoch",
        &[
            series("train", "#1f77b4", records, |r| Some(r.train_loss)),
            series("validation", "#ff7f0e", records, |r| r.val_loss),
        ],
        true,
    )];
    let metric_names: Vec<String> = records
        .first()
        .map(|r| r.metrics.keys().cloned().collect())
        .unwrap_or_default();
    const COLORS: [&str; 4] = ["#2ca02c", "#d62728", "#9467bd", "#8c564b"];
    let metric_series: Vec<Series> = metric_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            series(name, COLORS[i % COLORS.len()], records, |r| {
                r.metrics.get(name).copied()
            })
        })
        .collect();
    if !metric_series.is_empty() {
        charts.push(line_chart("Metrics", "epoch", &metric_series, false));
    }
    charts.push(line_chart(
        "Gradient norm (mean over the epoch)",
        "epoch",
        &[series("global norm", "#9467bd", records, |r| {
            Some(r.grad_norm)
        })],
        true,
    ));
    charts.push(line_chart(
        "Learning rate",
        "epoch",
        &[series("lr", "#8c564b", records, |r| Some(r.lr))],
        false,
    ));
    let rows: String = summary
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}\
         .charts{{display:flex;flex-wrap:wrap;gap:1em}}</style></head>\
         <body><h1>{t}</h1><table>{rows}</table><div class=\"charts\">{c}</div></body></html>\n",
        t = escape(title),
        c = charts.join("\n")
    )
}
