//! The curvature analysis of `gradus analyze` (its `analysis.json`) as a report section: the
//! spectrum's numbers with the saddle and edge-of-stability verdicts in words, the SLQ eigenvalue
//! density (Ghorbani et al. 2019), the loss from the initial to the trained weights (Goodfellow
//! et al. 2015), the per-layer top eigenvalues and the 2-D loss surface as a heatmap (Li et al.
//! 2018).
//!
//! [`with_analysis`] puts the section into an existing `report.html` (replacing an earlier one),
//! [`analysis_page`] makes a page of it alone.

use super::chart::{escape, short, Chart, Series};
use super::STYLE;
use serde_json::Value;
use std::fmt::Write;

/// The section's opening tag; [`with_analysis`] finds an earlier section by it.
pub const SECTION_OPEN: &str = "<section id=\"analysis\">";

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn fmt(v: Option<f64>) -> String {
    v.map(short).unwrap_or_else(|| "—".into())
}

/// The section for one `analysis.json` (as written by `gradus analyze`); fields that are
/// missing are left out or shown as "—", so a partial file still renders.
///
/// ```
/// let json = serde_json::json!({"parameters": 3, "loss": 0.5,
///     "saddle": {"min_eigenvalue": -1.0, "residual": 1e-9, "detected": true}});
/// let html = gradus_run::report::analysis::analysis_section(&json);
/// assert!(html.starts_with("<section id=\"analysis\">") && html.contains("saddle point"));
/// ```
pub fn analysis_section(json: &Value) -> String {
    let mut s = String::from(SECTION_OPEN);
    s.push_str("<h2>Curvature analysis</h2>\n");
    s.push_str(&table(json));
    s.push_str("<div class=\"row\">");
    if let Some(c) = density_chart(&json["density"]) {
        s.push_str(&c);
    }
    if let Some(c) = interpolation_chart(&json["interpolation"]) {
        s.push_str(&c);
    }
    s.push_str("</div>\n");
    s.push_str(&per_layer(&json["per_layer"]));
    if let Some(h) = heatmap(&json["surface"]) {
        s.push_str(&h);
    }
    s.push_str("</section>");
    s
}

fn row(s: &mut String, k: &str, v: &str) {
    let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
}

fn table(json: &Value) -> String {
    let mut s = String::from("<table class=\"kv\">");
    if let Some(p) = json["parameters"].as_u64() {
        row(&mut s, "parameters", &p.to_string());
    }
    if let Some(l) = num(&json["loss"]) {
        let on = match (json["batches"].as_u64(), json["samples"].as_u64()) {
            (Some(b), Some(n)) => format!(" (on {b} batches, {n} samples)"),
            _ => String::new(),
        };
        row(&mut s, "loss", &format!("{}{on}", short(l)));
    }
    let top: Vec<String> = json["top_eigenvalues"]
        .as_array()
        .map(|a| a.iter().map(|e| fmt(num(&e["value"]))).collect())
        .unwrap_or_default();
    if !top.is_empty() {
        row(&mut s, "top eigenvalues", &top.join(", "));
    }
    let saddle = &json["saddle"];
    if let Some(min) = num(&saddle["min_eigenvalue"]) {
        let verdict = if saddle["detected"].as_bool() == Some(true) {
            "negative curvature: the weights sit at a saddle point, not a minimum".to_string()
        } else {
            format!(
                "no negative curvature beyond its error {}",
                fmt(num(&saddle["residual"]))
            )
        };
        row(
            &mut s,
            "smallest eigenvalue",
            &format!("{}: {verdict}", short(min)),
        );
    }
    let trace = &json["trace"];
    if let Some(t) = num(&trace["trace"]) {
        let se = num(&trace["std_error"])
            .map(|e| format!(" ± {}", short(e)))
            .unwrap_or_default();
        let probes = trace["probes"]
            .as_u64()
            .map(|p| format!(" (Hutchinson, {p} probes)"))
            .unwrap_or_default();
        row(&mut s, "trace", &format!("{}{se}{probes}", short(t)));
    }
    let eos = &json["sharpness"]["edge_of_stability"];
    if let (Some(l), Some(th)) = (num(&eos["lambda_max"]), num(&eos["threshold"])) {
        let side = if eos["beyond"].as_bool() == Some(true) {
            "λ_max is above 2/lr: plain gradient descent at this learning rate is unstable along the sharpest direction (the edge of stability, Cohen et al. 2021)"
        } else {
            "λ_max is below 2/lr: the sharpest direction is stable for gradient descent at this learning rate"
        };
        row(
            &mut s,
            "edge of stability",
            &format!(
                "λ_max {} vs 2/lr = {} (λ_max·lr/2 = {}); {side}",
                short(l),
                short(th),
                fmt(num(&eos["ratio"]))
            ),
        );
    }
    let eps = &json["sharpness"]["epsilon"];
    if let Some(p) = num(&eps["sharpness_percent"]) {
        row(
            &mut s,
            "ε-sharpness (Keskar et al. 2017)",
            &format!("{}% at ε = {}", short(p), fmt(num(&eps["epsilon"]))),
        );
    }
    s + "</table>\n"
}

/// The SLQ density's points and whether they go on a log axis: log when the density spans two
/// decades or more, and then values below 1e-8 of the peak are dropped (the Gaussian tails would
/// otherwise stretch the axis over hundreds of decades).
fn density_points(d: &Value) -> Option<(Vec<(f64, f64)>, bool)> {
    let (grid, dens) = (nums(&d["grid"]), nums(&d["density"]));
    if grid.is_empty() || grid.len() != dens.len() {
        return None;
    }
    let peak = dens.iter().copied().fold(0.0f64, f64::max);
    let floor = peak * 1e-8;
    let lo = dens
        .iter()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let log = peak > 0.0 && lo.is_finite() && peak / lo.max(floor) >= 100.0;
    let pts = grid
        .into_iter()
        .zip(dens)
        .filter(|(_, v)| !log || *v >= floor)
        .collect();
    Some((pts, log))
}

fn density_chart(d: &Value) -> Option<String> {
    let (pts, log) = density_points(d)?;
    let mut c = Chart::new("Eigenvalue density (SLQ)", "eigenvalue");
    c.log_y = Some(log);
    c.series.push(Series::line("density", "#1f77b4", pts));
    Some(c.svg())
}

fn interpolation_chart(i: &Value) -> Option<String> {
    let (a, l) = (nums(&i["alphas"]), nums(&i["losses"]));
    if a.is_empty() || a.len() != l.len() {
        return None;
    }
    let mut c = Chart::new(
        "Loss from the initial (α = 0) to the trained (α = 1) weights",
        "α",
    );
    c.series.push(Series::line(
        "loss",
        "#ff7f0e",
        a.into_iter().zip(l).collect(),
    ));
    Some(c.svg())
}

/// Per-layer top eigenvalues as a table with a bar proportional to each.
fn per_layer(p: &Value) -> String {
    let Some(layers) = p.as_array().filter(|a| !a.is_empty()) else {
        return String::new();
    };
    let rows: Vec<(String, Option<u64>, f64)> = layers
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap_or("?").to_string(),
                l["numel"].as_u64(),
                num(&l["top"]["value"]).unwrap_or(f64::NAN),
            )
        })
        .collect();
    let max = rows
        .iter()
        .map(|r| r.2.abs())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let mut s = String::from(
        "<h3>Top eigenvalue of each parameter's Hessian block</h3><table><tr><th>parameter</th><th>elements</th><th>λ_max</th><th></th></tr>",
    );
    for (name, numel, v) in rows {
        let w = if max > 0.0 && v.is_finite() {
            (v.abs() / max * 200.0).round()
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><svg width=\"200\" height=\"10\"><rect width=\"{w}\" height=\"10\" fill=\"#9467bd\"/></svg></td></tr>",
            escape(&name),
            numel.map(|n| n.to_string()).unwrap_or_default(),
            short(v)
        );
    }
    s + "</table>\n"
}

/// A colour on a dark-blue → teal → yellow scale for `t` in [0, 1] (viridis's ends).
fn colour(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 3] = [
        (68.0, 1.0, 84.0),
        (33.0, 145.0, 140.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (i, f) = if t >= 0.5 {
        (1, (t - 0.5) * 2.0)
    } else {
        (0, t * 2.0)
    };
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let m = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// The 2-D loss surface as SVG rects coloured by log₁₀ of the loss, the trained weights (the
/// centre, α = β = 0) marked by a cross, with a colour scale beside it.
fn heatmap(surface: &Value) -> Option<String> {
    let coords = nums(&surface["coordinates"]);
    let rows: Vec<Vec<f64>> = surface["losses"].as_array()?.iter().map(nums).collect();
    let n = coords.len();
    if n < 2 || rows.len() != n || rows.iter().any(|r| r.len() != n) {
        return None;
    }
    let tv = |v: f64| if v > 0.0 { v.log10() } else { f64::NAN };
    let (lo, hi) = rows
        .iter()
        .flatten()
        .map(|v| tv(*v))
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    let (size, l, t) = (320.0, 50.0, 24.0);
    let cell = size / n as f64;
    let (c0, c1) = (coords[0], coords[n - 1]);
    let sx = |a: f64| l + (a - c0) / (c1 - c0) * (size - cell) + cell / 2.0;
    let sy = |b: f64| t + size - ((b - c0) / (c1 - c0) * (size - cell) + cell / 2.0);
    let (w, h) = (l + size + 110.0, t + size + 40.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<h3>Loss surface around the trained weights</h3><svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    for (j, r) in rows.iter().enumerate() {
        for (i, v) in r.iter().enumerate() {
            let x = sx(coords[i]) - cell / 2.0;
            let y = sy(coords[j]) - cell / 2.0;
            let fill = if tv(*v).is_finite() {
                colour((tv(*v) - lo) / span)
            } else {
                "#ccc".into()
            };
            let _ = write!(
                s,
                r#"<rect class="cell" x="{x:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{fill}"><title>α {} β {}: loss {}</title></rect>"#,
                cell + 0.3,
                cell + 0.3,
                short(coords[i]),
                short(coords[j]),
                short(*v)
            );
        }
    }
    // the trained weights at α = β = 0
    let (cx, cy) = (sx(0.0), sy(0.0));
    let _ = write!(
        s,
        r##"<g class="centre" stroke="#d62728" stroke-width="2"><line x1="{:.1}" x2="{:.1}" y1="{cy:.1}" y2="{cy:.1}"/><line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}"/><title>trained weights (α = β = 0)</title></g>"##,
        cx - 6.0,
        cx + 6.0,
        cy - 6.0,
        cy + 6.0
    );
    // axes
    for (v, anchor) in [(c0, "start"), (0.0, "middle"), (c1, "end")] {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            sx(v),
            t + size + 14.0,
            short(v)
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            l - 4.0,
            sy(v) + 4.0,
            short(v)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">α (direction 1)</text><text x="12" y="{:.1}" text-anchor="middle" transform="rotate(-90 12 {:.1})">β (direction 2)</text>"#,
        l + size / 2.0,
        t + size + 30.0,
        t + size / 2.0,
        t + size / 2.0
    );
    // colour scale: log10(loss) from lo (bottom) to hi (top)
    let (bx, steps) = (l + size + 20.0, 40);
    for k in 0..steps {
        let f = k as f64 / (steps - 1) as f64;
        let y = t + size - (k + 1) as f64 * size / steps as f64;
        let _ = write!(
            s,
            r#"<rect x="{bx:.1}" y="{y:.2}" width="14" height="{:.2}" fill="{}"/>"#,
            size / steps as f64 + 0.3,
            colour(f)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}">loss</text><text x="{:.1}" y="{:.1}">(log scale)</text></svg>"#,
        bx + 18.0,
        t + 10.0,
        short(10f64.powf(hi)),
        bx + 18.0,
        t + size,
        short(10f64.powf(lo)),
        bx,
        t - 8.0,
        bx + 18.0,
        t + size / 2.0
    );
    s.push_str("<p class=\"note\">The loss on a grid along two filter-normalized random directions (Li et al. 2018); the cross marks the trained weights.</p>\n");
    Some(s)
}

/// `html` (a `report.html`) with `section` in place of an earlier analysis section, or before
/// `</body>` when there is none (at the end when there is no `</body>` either).
///
/// ```
/// use gradus_run::report::analysis::with_analysis;
/// let once = with_analysis("<html><body><h1>r</h1></body></html>", "<section id=\"analysis\">a</section>");
/// let twice = with_analysis(&once, "<section id=\"analysis\">b</section>");
/// assert_eq!(twice, "<html><body><h1>r</h1><section id=\"analysis\">b</section>\n</body></html>");
/// ```
pub fn with_analysis(html: &str, section: &str) -> String {
    if let Some(start) = html.find(SECTION_OPEN) {
        if let Some(len) = html[start..].find("</section>") {
            let end = start + len + "</section>".len();
            return format!("{}{section}{}", &html[..start], &html[end..]);
        }
    }
    match html.rfind("</body>") {
        Some(at) => format!("{}{section}\n{}", &html[..at], &html[at..]),
        None => format!("{html}{section}\n"),
    }
}

/// A self-contained page holding only the analysis section (when there is no run report to put
/// it in).
pub fn analysis_page(title: &str, section: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · gradus analysis</title><style>{STYLE}</style></head>\n<body><h1>{t}</h1>\n{section}\n</body></html>\n",
        t = escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn analysis(min: f64, detected: bool, surface: bool) -> Value {
        let mut j = json!({
            "parameters": 31, "loss": 0.25, "batches": 2, "samples": 64,
            "top_eigenvalues": [{"value": 3.0, "residual": 1e-9}, {"value": 1.0, "residual": 1e-9}],
            "saddle": {"min_eigenvalue": min, "residual": 1e-9, "relative": min / 3.0, "detected": detected},
            "trace": {"trace": 5.0, "std_error": 0.5, "probes": 20, "seed": 0},
            "density": {"grid": [-1.0, 0.0, 1.0, 2.0, 3.0], "density": [1e-12, 0.5, 0.1, 1e-3, 0.2], "sigma_squared": 0.01, "quadratures": []},
            "per_layer": [{"name": "linear.weight", "numel": 30, "top": {"value": 2.5, "residual": 0.0}},
                          {"name": "linear.bias", "numel": 1, "top": {"value": 0.5, "residual": 0.0}}],
            "sharpness": {"edge_of_stability": {"lambda_max": 3.0, "lr": 1.0, "threshold": 2.0, "ratio": 1.5, "beyond": true},
                          "epsilon": {"epsilon": 1e-3, "sharpness_percent": 0.4, "loss": 0.25, "max_loss": 0.251, "steps": 10}},
            "surface": null,
            "interpolation": {"alphas": [-0.5, 0.0, 0.5, 1.0, 1.5], "losses": [1.0, 0.7, 0.4, 0.25, 0.3]}
        });
        if surface {
            j["surface"] = json!({"coordinates": [-1.0, 0.0, 1.0],
                "losses": [[2.0, 1.0, 2.0], [1.0, 0.25, 1.0], [2.0, 1.0, 4.0]], "seed": 0});
        }
        j
    }

    #[test]
    fn a_negative_smallest_eigenvalue_reads_as_a_saddle_point() {
        let html = analysis_section(&analysis(-0.5, true, false));
        assert!(html.starts_with(SECTION_OPEN) && html.ends_with("</section>"));
        assert!(html.contains("the weights sit at a saddle point"), "{html}");
        assert!(html.contains("5 ± 0.5"), "trace with its error");
        assert!(html.contains("above 2/lr"));
        assert!(html.contains("linear.bias") && html.contains("Eigenvalue density"));
        assert!(html.contains("initial (α = 0)"));
        assert!(!html.contains("class=\"cell\""), "no surface, no heatmap");
        let calm = analysis_section(&analysis(1e-3, false, false));
        assert!(!calm.contains("saddle point") && calm.contains("no negative curvature"));
    }

    #[test]
    fn a_surface_draws_a_heatmap_with_its_centre_marked() {
        let html = analysis_section(&analysis(0.1, false, true));
        assert_eq!(html.matches("class=\"cell\"").count(), 9);
        assert!(html.contains("class=\"centre\"") && html.contains("(log scale)"));
        // lowest loss (0.25, the centre) darkest, highest (4.0) brightest
        assert!(html.contains(&format!("fill=\"{}\"><title>α 0 β 0", colour(0.0))));
        assert!(html.contains(&format!("fill=\"{}\"><title>α 1 β 1", colour(1.0))));
    }

    #[test]
    fn a_density_over_decades_is_drawn_on_a_log_axis_without_its_far_tail() {
        let d = json!({"grid": [0.0, 1.0, 2.0], "density": [1.0, 1e-4, 1e-300]});
        let (pts, log) = density_points(&d).unwrap();
        assert!(log);
        assert_eq!(pts, vec![(0.0, 1.0), (1.0, 1e-4)]);
        let flat = json!({"grid": [0.0, 1.0], "density": [1.0, 0.5]});
        assert!(!density_points(&flat).unwrap().1);
        assert!(density_points(&json!({"grid": [0.0], "density": []})).is_none());
    }

    #[test]
    fn the_section_replaces_an_earlier_one() {
        let page = "<html><body><h1>run</h1>\n<section id=\"curves\">c</section>\n</body></html>\n";
        let a = with_analysis(page, &analysis_section(&analysis(0.1, false, true)));
        let b = with_analysis(&a, &analysis_section(&analysis(-1.0, true, false)));
        assert_eq!(b.matches(SECTION_OPEN).count(), 1);
        assert!(b.contains("saddle point") && !b.contains("class=\"cell\""));
        assert!(
            b.contains("<section id=\"curves\">c</section>") && b.ends_with("</body></html>\n")
        );
    }
}
