//! SVG charts written by hand: lines or dots over round ticks, a logarithmic y axis where the
//! values span decades, vertical markers (best epoch, early stop), horizontal thresholds, and the
//! values under the pointer (an SVG `<title>` on each point, shown by every browser on hover).
//!
//! No plotting crate: `plotters` lays text out with system fonts, which headless servers often
//! lack, and a report must render wherever the run happened.

use super::ticks::{label, linear_ticks, log_ticks, wants_log};
use std::fmt::Write;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// A polyline of the given stroke width.
    Line(f64),
    /// Dots of the given radius (a scatter plot).
    Dots(f64),
}

/// One series: legend text, CSS colour, opacity, style and (x, y) points in data coordinates
/// (non-finite points, and non-positive ones on a log axis, are skipped).
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text (empty: no legend entry).
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// 0 to 1; raw values under a smoothed line are drawn faint.
    pub opacity: f64,
    /// Line or dots.
    pub style: Style,
    /// Show the values of (up to 300 evenly picked) points on hover.
    pub hover: bool,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A solid line of width 1.8 with hover values.
    pub fn line(label: &str, color: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            color: color.into(),
            opacity: 1.0,
            style: Style::Line(1.8),
            hover: true,
            points,
        }
    }

    /// A thin line of width 1 without hover values, `opacity` 0 to 1: raw values under a smoothed
    /// line, or a guide (y = x, a threshold).
    pub fn thin(label: &str, color: &str, opacity: f64, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            color: color.into(),
            opacity,
            style: Style::Line(1.0),
            hover: false,
            points,
        }
    }
}

/// A vertical line at `x` with a short label (best epoch, early stop).
#[derive(Clone, Debug)]
pub struct Marker {
    /// Where, in x data coordinates.
    pub x: f64,
    /// Text beside it.
    pub label: String,
    /// CSS colour.
    pub color: String,
}

/// A chart: title, axis labels, series, markers and horizontal threshold lines.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Under the x axis.
    pub x_label: String,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
    /// Horizontal lines `(y, label)` drawn when inside the values' range, else named in a note.
    pub thresholds: Vec<(f64, String)>,
    /// `Some(true)`: log y; `Some(false)`: linear; `None`: log when positive values span a
    /// factor of 50 or more.
    pub log_y: Option<bool>,
    /// Size in pixels.
    pub width: f64,
    /// Size in pixels.
    pub height: f64,
}

impl Chart {
    /// An empty 560×300 chart with automatic y scale.
    pub fn new(title: &str, x_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            series: Vec::new(),
            markers: Vec::new(),
            thresholds: Vec::new(),
            log_y: None,
            width: 560.0,
            height: 300.0,
        }
    }

    /// Adds a series.
    pub fn with(mut self, s: Series) -> Chart {
        self.series.push(s);
        self
    }

    /// The chart as an `<svg>` element.
    ///
    /// ```
    /// use gradus_run::report::chart::{Chart, Series};
    /// let svg = Chart::new("Loss", "step")
    ///     .with(Series::line("train", "#1f77b4", vec![(1.0, 2.0), (2.0, 0.01)]))
    ///     .svg();
    /// assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("<title>"));
    /// ```
    pub fn svg(&self) -> String {
        let positive = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite() && p.1 > 0.0;
        let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .collect();
        let (ymin_pos, ymax) = all
            .iter()
            .filter(|p| positive(p))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let log = self.log_y.unwrap_or_else(|| {
            all.iter().filter(|p| finite(p)).all(|p| p.1 > 0.0) && wants_log(ymin_pos, ymax)
        });
        let keep = |p: &(f64, f64)| if log { positive(p) } else { finite(p) };
        let ty = |y: f64| if log { y.log10() } else { y };
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for p in all.iter().filter(|p| keep(p)) {
            (x0, x1, y0, y1) = (x0.min(p.0), x1.max(p.0), y0.min(ty(p.1)), y1.max(ty(p.1)));
        }
        let (w, h) = (self.width, self.height);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><text x="{:.1}" y="15" text-anchor="middle" font-size="13" font-weight="bold">{}</text>"#,
            w / 2.0,
            escape(&self.title)
        );
        if !x0.is_finite() {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#777">no data</text></svg>"##,
                w / 2.0,
                h / 2.0
            );
            return svg;
        }
        if x1 == x0 {
            (x0, x1) = (x0 - 0.5, x1 + 0.5);
        }
        if y1 == y0 {
            let pad = if y0 == 0.0 { 1.0 } else { 0.05 * y0.abs() };
            (y0, y1) = (y0 - pad, y1 + pad);
        } else {
            let pad = 0.04 * (y1 - y0);
            (y0, y1) = (y0 - pad, y1 + pad);
        }
        let (l, r, t, b) = (58.0, 12.0, 24.0, 34.0);
        let sx = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
        let sy = |y: f64| h - b - (ty(y) - y0) / (y1 - y0) * (h - t - b);
        let _ = write!(
            svg,
            r##"<rect x="{l}" y="{t}" width="{:.1}" height="{:.1}" fill="none" stroke="#bbb"/>"##,
            w - l - r,
            h - t - b
        );
        // y ticks and grid
        let yt: Vec<(f64, String)> = if log {
            log_ticks(10f64.powf(y0), 10f64.powf(y1))
                .into_iter()
                .map(|v| (v, label(v, 0.0)))
                .collect()
        } else {
            let ticks = linear_ticks(y0, y1, (h / 60.0).round().max(2.0) as usize);
            let step = if ticks.len() > 1 {
                ticks[1] - ticks[0]
            } else {
                0.0
            };
            ticks.into_iter().map(|v| (v, label(v, step))).collect()
        };
        for (v, lab) in &yt {
            let y = sy(*v);
            let _ = write!(
                svg,
                r##"<line x1="{l}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{lab}</text>"##,
                w - r,
                l - 4.0,
                y + 4.0
            );
        }
        let mut xt = linear_ticks(x0, x1, (w / 90.0).round().max(2.0) as usize);
        if all.iter().all(|p| p.0.fract() == 0.0) {
            // epochs and steps: whole-number ticks only
            xt.retain(|v| v.fract() == 0.0);
        }
        let xstep = if xt.len() > 1 { xt[1] - xt[0] } else { 0.0 };
        for v in &xt {
            let x = sx(*v);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{t}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                h - b,
                h - b + 13.0,
                label(*v, xstep)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}{}</text>"##,
            l + (w - l - r) / 2.0,
            h - 6.0,
            escape(&self.x_label),
            if log { " (log y)" } else { "" }
        );
        let mut off_chart = Vec::new();
        for (v, lab) in &self.thresholds {
            let inside = (!log || *v > 0.0) && (y0..=y1).contains(&ty(*v));
            if inside {
                let y = sy(*v);
                let _ = write!(
                    svg,
                    r##"<line x1="{l}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#d62728" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#d62728" font-size="10">{}</text>"##,
                    w - r,
                    l + 4.0,
                    y - 3.0,
                    escape(lab)
                );
            } else {
                off_chart.push(lab.as_str());
            }
        }
        if !off_chart.is_empty() {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#999" font-size="9">outside the range: {}</text>"##,
                l + 4.0,
                h - b - 4.0,
                escape(&off_chart.join("; "))
            );
        }
        for m in &self.markers {
            if !(x0..=x1).contains(&m.x) {
                continue;
            }
            let x = sx(m.x);
            // a marker near the right edge is labelled on its left
            let right = x > w - r - 90.0;
            let anchor = if right { "end" } else { "start" };
            let _ = write!(
                svg,
                r#"<line class="marker" x1="{x:.1}" x2="{x:.1}" y1="{t}" y2="{:.1}" stroke="{c}" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" fill="{c}" font-size="10" text-anchor="{anchor}">{}</text>"#,
                h - b,
                if right { x - 3.0 } else { x + 3.0 },
                h - b - 16.0,
                escape(&m.label),
                c = m.color
            );
        }
        let mut legend = 0;
        for s in &self.series {
            let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| keep(p)).collect();
            match s.style {
                Style::Line(width) => {
                    let coords: Vec<String> = pts
                        .iter()
                        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                        .collect();
                    let _ = write!(
                        svg,
                        r#"<polyline fill="none" stroke="{}" stroke-opacity="{}" stroke-width="{width}" points="{}"/>"#,
                        s.color,
                        s.opacity,
                        coords.join(" ")
                    );
                    if let [(x, y)] = pts[..] {
                        // one point (a one-epoch run's validation) draws no line: a dot
                        let _ = write!(
                            svg,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"/>"#,
                            sx(x),
                            sy(y),
                            s.color
                        );
                    }
                }
                Style::Dots(radius) => {
                    for &(x, y) in &pts {
                        let _ = write!(
                            svg,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{}" fill-opacity="{}"/>"#,
                            sx(x),
                            sy(y),
                            s.color,
                            s.opacity
                        );
                    }
                }
            }
            if s.hover && !pts.is_empty() {
                let every = pts.len().div_ceil(300);
                for &(x, y) in pts.iter().step_by(every) {
                    let _ = write!(
                        svg,
                        r#"<circle class="hover" cx="{:.1}" cy="{:.1}" r="4" fill="{}"><title>{}: {} = {}, {}</title></circle>"#,
                        sx(x),
                        sy(y),
                        s.color,
                        escape(&s.label),
                        escape(&self.x_label),
                        short(x),
                        short(y)
                    );
                }
            }
            if !s.label.is_empty() {
                let ly = t + 12.0 + 13.0 * legend as f64;
                legend += 1;
                let _ = write!(
                    svg,
                    r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-opacity="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                    w - r - 120.0,
                    w - r - 106.0,
                    s.color,
                    s.opacity.max(0.5),
                    w - r - 102.0,
                    ly + 4.0,
                    escape(&s.label)
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// A value for hover text: up to 6 significant digits, no exponent between 1e-4 and 1e6.
///
/// ```
/// assert_eq!(gradus_run::report::chart::short(0.30551234), "0.305512");
/// assert_eq!(gradus_run::report::chart::short(12.0), "12");
/// ```
pub fn short(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let a = v.abs();
    if (1e-4..1e6).contains(&a) {
        let d = (5 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.d$}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.5e}")
    }
}

/// `s` with `&`, `<`, `>` and `"` escaped for HTML and SVG text and attributes.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_spanning_decades_get_a_log_axis_with_round_labels() {
        let pts: Vec<(f64, f64)> = (1..=100)
            .map(|i| (i as f64, 3.0 / (i * i) as f64))
            .collect();
        let svg = Chart::new("Loss", "step")
            .with(Series::line("train", "#000", pts))
            .svg();
        assert!(svg.contains("(log y)"), "{svg}");
        assert!(svg.contains(">0.001<") && svg.contains(">1<"), "{svg}");
        assert!(
            !svg.contains("e-1<"),
            "no exponent labels between 0.001 and 1"
        );
        let flat: Vec<(f64, f64)> = (1..=10)
            .map(|i| (i as f64, 0.3 + 0.01 * i as f64))
            .collect();
        let svg = Chart::new("Loss", "epoch")
            .with(Series::line("t", "#000", flat))
            .svg();
        assert!(!svg.contains("(log y)") && svg.contains(">0.34<"), "{svg}");
    }

    #[test]
    fn one_point_draws_and_no_points_says_so() {
        let svg = Chart::new("Loss", "epoch")
            .with(Series::line("t", "#000", vec![(1.0, 0.5)]))
            .svg();
        assert!(svg.contains("<title>t: epoch = 1, 0.5</title>"), "{svg}");
        assert!(Chart::new("Loss", "epoch").svg().contains("no data"));
    }

    #[test]
    fn markers_and_thresholds_are_drawn_or_named() {
        let mut c = Chart::new("Grad", "epoch").with(Series::line(
            "g",
            "#000",
            vec![(1.0, 0.5), (3.0, 2.0)],
        ));
        c.markers.push(Marker {
            x: 2.0,
            label: "best".into(),
            color: "#080".into(),
        });
        c.thresholds = vec![(1.5, "exploding".into()), (1e-7, "vanishing".into())];
        let svg = c.svg();
        assert!(
            svg.contains(">best<") && svg.contains(">exploding<"),
            "{svg}"
        );
        assert!(svg.contains("outside the range: vanishing"), "{svg}");
    }
}
