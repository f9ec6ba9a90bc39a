//! [`scatter_svg`]: 2-D samples drawn over the data they imitate, as an inline SVG scatter plot
//! (the figure of the WGAN-GP and DDPM papers' toy experiments), drawn by the training report's
//! chart ([`gradus_run::report::chart`]).

use crate::{GenError, Result};
use gradus_run::report::chart::{Chart, Series, Style};

/// At most this many points of each set are drawn (the first ones; samples are i.i.d., so they
/// are a random subset), which keeps the SVG under about 200 KB.
pub const MAX_POINTS: usize = 2000;

/// An SVG scatter plot of `samples` (blue) over `data` (gray), both `(n, 2)` row-major, with
/// equal scales on both axes (a ring stays round): a square `size × size` pixels chart titled
/// `title`. Each set is drawn from its first [`MAX_POINTS`] points; non-finite points are
/// skipped.
///
/// # Errors
/// [`GenError::BadImages`] when either set is empty or has an odd number of values.
///
/// ```
/// use gradus_generative::report::scatter_svg;
/// let svg = scatter_svg("Samples", &[0.0, 0.0, 1.0, 1.0], &[0.5, 0.5], 300.0).unwrap();
/// assert!(svg.starts_with("<svg") && svg.matches("<circle").count() >= 3);
/// assert!(scatter_svg("Samples", &[0.0, 0.0, 1.0], &[0.5, 0.5], 300.0).is_err());
/// ```
pub fn scatter_svg(title: &str, data: &[f64], samples: &[f64], size: f64) -> Result<String> {
    let data = points("data", data)?;
    let samples = points("samples", samples)?;
    // the two sets' bounding box made square: two invisible points at its corners give both
    // axes the same range
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for &(x, y) in data.iter().chain(&samples) {
        (lo[0], hi[0]) = (lo[0].min(x), hi[0].max(x));
        (lo[1], hi[1]) = (lo[1].min(y), hi[1].max(y));
    }
    let half = 0.5 * (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let centre = [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])];
    let corners = if half.is_finite() {
        vec![
            (centre[0] - half, centre[1] - half),
            (centre[0] + half, centre[1] + half),
        ]
    } else {
        Vec::new() // no finite point: the chart says "no data"
    };
    let dots = |label: &str, color: &str, opacity: f64, radius: f64, points| Series {
        label: label.into(),
        color: color.into(),
        opacity,
        style: Style::Dots(radius),
        hover: false,
        points,
    };
    let mut chart = Chart::new(title, "x (y up; equal scales)")
        .with(dots("", "#fff", 0.0, 0.0, corners))
        .with(dots("data", "#7f7f7f", 0.35, 1.4, data))
        .with(dots("samples", "#1f77b4", 0.55, 1.4, samples));
    chart.log_y = Some(false);
    // the plot area is the chart less its margins (58 + 12 across, 24 + 34 down), and the
    // chart pads the y range (only) by 4% on each side: a plot area 1.08 times as high as wide
    // gives both axes the same pixels per unit
    chart.width = size;
    chart.height = 1.08 * (size - 70.0) + 58.0;
    Ok(chart.svg())
}

/// `values` as points, the first [`MAX_POINTS`], non-finite ones dropped.
fn points(what: &str, values: &[f64]) -> Result<Vec<(f64, f64)>> {
    if values.is_empty() || !values.len().is_multiple_of(2) {
        return Err(GenError::BadImages {
            what: "scatter plot",
            detail: format!(
                "{what}: {} values are not a non-empty (n, 2) array",
                values.len()
            ),
        });
    }
    Ok(values
        .chunks_exact(2)
        .take(MAX_POINTS)
        .map(|p| (p[0], p[1]))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `(cx, cy)` of each `<circle>` whose fill is `color`.
    fn circles(svg: &str, color: &str) -> Vec<(f64, f64)> {
        svg.split("<circle ")
            .skip(1)
            .filter(|c| c.contains(&format!("fill=\"{color}\"")))
            .map(|c| {
                let attr = |name: &str| -> f64 {
                    let start = c.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                    c[start..].split('"').next().unwrap().parse().unwrap()
                };
                (attr("cx"), attr("cy"))
            })
            .collect()
    }

    #[test]
    fn samples_and_data_are_drawn_with_equal_scales_and_y_up() {
        // data on a wide flat line, samples at two points: x spans 4, y spans 1
        let data = [0.0, 0.0, 4.0, 0.0];
        let samples = [2.0, 1.0, 2.0, 0.0];
        let svg = scatter_svg("t", &data, &samples, 420.0).unwrap();
        let d = circles(&svg, "#7f7f7f");
        let s = circles(&svg, "#1f77b4");
        assert_eq!((d.len(), s.len()), (2, 2));
        // one unit of x and one unit of y are the same number of pixels
        let px_per_x = (d[1].0 - d[0].0) / 4.0;
        let px_per_y = (s[1].1 - s[0].1) / 1.0; // y = 1 is drawn above y = 0
        assert!(px_per_x > 50.0, "{px_per_x}");
        assert!(
            (px_per_x - px_per_y).abs() < 0.01 * px_per_x,
            "x {px_per_x} px per unit, y {px_per_y}"
        );
        assert!(svg.contains(">samples<") && svg.contains(">data<"));
    }

    #[test]
    fn at_most_max_points_of_each_set_and_no_non_finite_ones() {
        let many: Vec<f64> = (0..2 * (MAX_POINTS + 10)).map(|i| i as f64).collect();
        let svg = scatter_svg("t", &many, &[f64::NAN, 0.0, 1.0, 1.0], 300.0).unwrap();
        assert_eq!(circles(&svg, "#7f7f7f").len(), MAX_POINTS);
        assert_eq!(circles(&svg, "#1f77b4").len(), 1);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_set() {
        let e = scatter_svg("t", &[0.0, 1.0], &[1.0, 2.0, 3.0], 300.0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "scatter plot: samples: 3 values are not a non-empty (n, 2) array"
        );
        assert!(scatter_svg("t", &[], &[1.0, 2.0], 300.0).is_err());
    }
}
