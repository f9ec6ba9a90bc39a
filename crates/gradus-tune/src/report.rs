//! `report.html` of a study: a self-contained page with the optimization history (each completed
//! trial's value and the best so far, by trial number), a parallel-coordinates plot (one line per
//! completed trial through its parameters' values, coloured from best, blue, to worst, red) and
//! the parameters' importance ([`crate::importance`]), then the trials' table. Inline SVG, no
//! scripts, as gradus-train's run report.

use crate::importance::importances;
use crate::output::table;
use crate::study::Study;
use gradus_train::report::{line_chart, Series};
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The optimization history chart.
fn history(study: &Study) -> String {
    let d = study.spec().direction;
    let mut best = f64::INFINITY;
    let mut values = Vec::new();
    let mut best_line = Vec::new();
    for t in study.trials() {
        if let Some(v) = t.value().filter(|v| v.is_finite()) {
            values.push((t.number as f64, v));
            best = best.min(d.loss(v));
            best_line.push((t.number as f64, d.loss(best)));
        }
    }
    line_chart(
        &format!("Optimization history ({})", study.spec().metric),
        "trial",
        &[
            Series {
                label: "trial value".into(),
                color: "#1f77b4",
                points: values,
            },
            Series {
                label: "best so far".into(),
                color: "#d62728",
                points: best_line,
            },
        ],
        false,
    )
}

/// The parallel-coordinates plot: an axis per parameter (internal scale: log ranges in the
/// logarithm), then the objective.
fn parallel_coordinates(study: &Study) -> String {
    let (w, h, top, bottom, left, right) = (760.0, 320.0, 30.0, 40.0, 40.0, 40.0);
    let params = &study.spec().space.params;
    let done: Vec<_> = study
        .trials()
        .iter()
        .filter(|t| t.value().is_some_and(f64::is_finite))
        .collect();
    let axes = params.len() + 1;
    let x = |i: usize| left + (w - left - right) * i as f64 / (axes.max(2) - 1) as f64;
    let column = |i: usize| -> Vec<f64> {
        done.iter()
            .map(|t| match params.get(i) {
                Some(p) => t
                    .params
                    .get(&p.name)
                    .map_or(f64::NAN, |v| p.distribution.to_internal(*v)),
                None => t.value().unwrap_or(f64::NAN),
            })
            .collect()
    };
    let cols: Vec<Vec<f64>> = (0..axes).map(column).collect();
    let range = |c: &[f64]| {
        let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, if hi > lo { hi } else { lo + 1.0 })
    };
    let y = |i: usize, v: f64| {
        let (lo, hi) = range(&cols[i]);
        top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo))
    };
    let d = study.spec().direction;
    let losses: Vec<f64> = cols[axes - 1].iter().map(|v| d.loss(*v)).collect();
    let (lo, hi) = range(&losses);
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\"><text x=\"{left}\" y=\"16\" font-size=\"14\">Parallel coordinates (completed trials; blue best, red worst)</text>");
    for (k, _) in done.iter().enumerate() {
        let pts: Vec<String> = (0..axes)
            .map(|i| format!("{:.1},{:.1}", x(i), y(i, cols[i][k])))
            .collect();
        let f = (losses[k] - lo) / (hi - lo);
        let color = format!(
            "rgb({},{},{})",
            (255.0 * f) as u8,
            60,
            (255.0 * (1.0 - f)) as u8
        );
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-opacity=\"0.7\" points=\"{}\"/>",
            pts.join(" ")
        );
    }
    for (i, col) in cols.iter().enumerate() {
        let name = params
            .get(i)
            .map_or(study.spec().metric.as_str(), |p| p.name.as_str());
        let (a, b) = range(col);
        // a categorical axis names every choice drawn, at its place
        if let Some(
            p @ crate::space::Param {
                distribution: crate::space::Distribution::Categorical { choices },
                ..
            },
        ) = params.get(i)
        {
            for c in 0..choices.len() {
                let v = c as f64;
                if col.contains(&v) && v != a && v != b {
                    let _ = write!(
                        svg,
                        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{}</text>",
                        x(i) + 4.0,
                        y(i, v) + 3.0,
                        escape(&shown(&p.distribution, v))
                    );
                }
            }
        }
        let (a, b) = match params.get(i) {
            Some(p) => (shown(&p.distribution, a), shown(&p.distribution, b)),
            None => (significant(a), significant(b)),
        };
        let _ = write!(
            svg,
            "<line x1=\"{x0:.1}\" y1=\"{top}\" x2=\"{x0:.1}\" y2=\"{yb}\" stroke=\"#333\"/>\
             <text x=\"{x0:.1}\" y=\"{yl}\" font-size=\"11\" text-anchor=\"middle\">{n}</text>\
             <text x=\"{x0:.1}\" y=\"{yt}\" font-size=\"9\" text-anchor=\"middle\">{b}</text>\
             <text x=\"{x0:.1}\" y=\"{yb2}\" font-size=\"9\" text-anchor=\"middle\">{a}</text>",
            x0 = x(i),
            yb = h - bottom,
            yl = h - 8.0,
            yt = top - 3.0,
            yb2 = h - bottom + 12.0,
            n = escape(name),
            a = escape(&a),
            b = escape(&b),
        );
    }
    svg + "</svg>"
}

/// `v` with 3 significant digits, without trailing zeros (0.00241, 12.5, 3e-5).
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    if v.abs() < 1e-3 {
        return format!("{v:.2e}");
    }
    let t = format!("{v:.digits$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

/// An axis end of a parameter in the user's terms: the value itself (not its logarithm) for
/// log ranges, the choice for a categorical.
fn shown(d: &crate::space::Distribution, internal: f64) -> String {
    match d.from_internal(internal) {
        crate::ParamValue::Float(x) => significant(x),
        crate::ParamValue::Int(i) => i.to_string(),
        choice @ crate::ParamValue::Choice(_) => match d.to_toml(choice) {
            toml::Value::String(s) => s,
            other => other.to_string(),
        },
    }
}

/// The importance bars, or why there are none yet.
fn importance_chart(study: &Study) -> String {
    let imp = importances(study);
    if imp.iter().all(|(_, v)| *v == 0.0) {
        let done = study
            .trials()
            .iter()
            .filter(|t| t.value().is_some_and(f64::is_finite))
            .count();
        let why = if done < crate::importance::MIN_TRIALS {
            format!(
                "it needs at least {} completed trials ({done} so far)",
                crate::importance::MIN_TRIALS
            )
        } else {
            "the objective did not vary between the completed trials".to_string()
        };
        return format!("<p class=\"importance\">Parameter importance: none to show: {why}.</p>");
    }
    let done = study
        .trials()
        .iter()
        .filter(|t| t.value().is_some_and(f64::is_finite))
        .count();
    let (w, row) = (560.0, 22.0);
    let h = 40.0 + row * imp.len() as f64;
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\"><text x=\"10\" y=\"16\" font-size=\"14\">Parameter importance (correlation ratio, scaled to sum 1; {done} completed trials{rough})</text>", rough = if done < 10 { ": a rough ranking" } else { "" });
    for (i, (name, v)) in imp.iter().enumerate() {
        let yy = 30.0 + row * i as f64;
        let _ = write!(
            svg,
            "<text x=\"180\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <rect x=\"190\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{v:.2}</text>",
            yy + 13.0,
            escape(name),
            300.0 * v,
            row - 6.0,
            196.0 + 300.0 * v,
            yy + 13.0
        );
    }
    svg + "</svg>"
}

/// The whole page.
pub fn html(study: &Study) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gradus tune report</title>\
         <style>body{{font-family:sans-serif;margin:2em}}.charts{{display:flex;flex-wrap:wrap;gap:1em}}</style></head>\
         <body><h1>gradus tune report</h1><p>{} trials; objective: {} ({}).</p>\
         <div class=\"charts\">{}{}{}</div><pre>{}</pre>\
         <p>Importance: the share of the objective's variance explained by each parameter alone \
         (correlation ratio over up to 5 equal-count bins); interactions are not attributed.</p></body></html>\n",
        study.trials().len(),
        escape(&study.spec().metric),
        match study.spec().direction {
            crate::Direction::Minimize => "minimized",
            crate::Direction::Maximize => "maximized",
        },
        history(study),
        parallel_coordinates(study),
        importance_chart(study),
        escape(&table(study))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split_config;

    fn study(trials: usize) -> Study {
        let text = "[search]\nmetric = \"loss\"\nsampler = \"random\"\n[search.params]\nlr = { type = \"log_uniform\", low = 1e-4, high = 1e-1 }\nact = { type = \"categorical\", choices = [\"relu\", \"gelu\"] }\n";
        let mut s = Study::new(split_config(text, "t").unwrap().spec);
        for _ in 0..trials {
            let n = s.ask().unwrap().unwrap();
            let lr = s.value_f64(n, "lr").unwrap();
            s.complete(n, lr.ln().powi(2)).unwrap();
        }
        s
    }

    #[test]
    fn numbers_are_shown_with_three_significant_digits() {
        assert_eq!(significant(0.0024201840), "0.00242");
        assert_eq!(significant(12.5), "12.5");
        assert_eq!(significant(1234.0), "1234");
        assert_eq!(significant(0.1), "0.1");
        assert_eq!(significant(3.0e-5), "3.00e-5");
        assert_eq!(significant(-0.25), "-0.25");
    }

    #[test]
    fn parallel_axes_show_values_not_logarithms_and_choices_by_name() {
        let s = study(8);
        let svg = parallel_coordinates(&s);
        let lr = &s
            .spec()
            .space
            .params
            .iter()
            .find(|p| p.name == "lr")
            .unwrap()
            .distribution;
        // the axis ends are the drawn rates themselves, between 1e-4 and 0.1 (never negative logs)
        let ends: Vec<f64> = s
            .trials()
            .iter()
            .map(|t| lr.to_internal(t.params["lr"]))
            .collect();
        let lo = ends.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(svg.contains(&format!(">{}<", shown(lr, lo))), "{svg}");
        assert!(shown(lr, lo).parse::<f64>().unwrap() >= 1e-4);
        assert!(!svg.contains(">-"), "a negative axis label: {svg}");
        // every choice labels the axis, by name and without quotes
        assert!(svg.contains(">relu<") && svg.contains(">gelu<"), "{svg}");
        assert!(!svg.contains("\"relu\""), "{svg}");
    }

    #[test]
    fn importance_says_why_it_is_missing_with_few_trials() {
        let few = importance_chart(&study(3));
        assert!(
            few.contains("needs at least 4 completed trials (3 so far)"),
            "{few}"
        );
        let many = importance_chart(&study(12));
        assert!(
            many.contains("<rect") && many.contains("12 completed trials)"),
            "{many}"
        );
        let rough = importance_chart(&study(6));
        assert!(
            rough.contains("6 completed trials: a rough ranking"),
            "{rough}"
        );
    }
}
