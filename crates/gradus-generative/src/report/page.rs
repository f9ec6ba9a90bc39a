//! [`Report`]: the one self-contained `report.html` of a generative model's run — figures,
//! training curves, image grids as PNG data URIs, scatter plots as inline SVG — in the training
//! report's style (gradus-run's page, charts and PNG encoder), with no script or external file.

use crate::report::GrayImage;
use crate::{GenError, Result};
use gradus_run::report::chart::{escape, Chart, Series};
use gradus_run::report::png::data_uri;
use gradus_run::report::STYLE;
use std::path::{Path, PathBuf};

/// The colours of [`lines`]'s series in turn (matplotlib's, as the training report's).
const PALETTE: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

/// A chart of one line per `(label, points)` (x: step or epoch), coloured in turn.
///
/// ```
/// use gradus_generative::report::lines;
/// let chart = lines("Loss", "step", &[("critic", &[(1.0, 0.5), (2.0, 0.3)])]);
/// assert!(chart.svg().contains("polyline"));
/// ```
pub fn lines(title: &str, x_label: &str, series: &[(&str, &[(f64, f64)])]) -> Chart {
    series.iter().zip(PALETTE.iter().cycle()).fold(
        Chart::new(title, x_label),
        |chart, ((label, points), color)| chart.with(Series::line(label, color, points.to_vec())),
    )
}

/// A page under construction: sections added in order, then [`Report::html`] or
/// [`Report::write`].
///
/// ```
/// use gradus_generative::report::{lines, ImageGrid, Report};
/// let mut report = Report::new("VAE on MNIST");
/// report
///     .figures("Summary", &[("test ELBO", "-85.1 nats".into())])
///     .charts("Training", vec![lines("ELBO", "epoch", &[("test", &[(1.0, -120.0), (2.0, -100.0)])])])
///     .images("Samples", &[("64 samples", &ImageGrid::new(2, 2, 8).tile(&[0.5; 16]).unwrap())]);
/// let html = report.html();
/// assert!(html.contains("data:image/png;base64,") && html.contains("<svg"));
/// assert!(!html.contains("<script") && !html.contains("src=\"http"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Report {
    title: String,
    sections: Vec<String>,
}

impl Report {
    /// An empty page titled `title`.
    pub fn new(title: &str) -> Report {
        Report {
            title: title.into(),
            sections: Vec::new(),
        }
    }

    /// A paragraph of plain text (escaped).
    pub fn note(&mut self, text: &str) -> &mut Report {
        self.sections
            .push(format!("<p class=\"note\">{}</p>", escape(text)));
        self
    }

    /// A section `heading` with a table of `(name, value)` rows.
    pub fn figures(&mut self, heading: &str, rows: &[(&str, String)]) -> &mut Report {
        let body: String = rows
            .iter()
            .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)))
            .collect();
        self.section(heading, &format!("<table class=\"kv\">{body}</table>"))
    }

    /// A section `heading` with `charts` side by side (wrapping).
    pub fn charts(&mut self, heading: &str, charts: Vec<Chart>) -> &mut Report {
        let body: String = charts.iter().map(Chart::svg).collect();
        self.section(heading, &format!("<div class=\"row\">{body}</div>"))
    }

    /// A section `heading` with `images` side by side, each under its caption, as PNG data URIs
    /// shown at twice their size without smoothing (so pixels stay pixels).
    pub fn images(&mut self, heading: &str, images: &[(&str, &GrayImage)]) -> &mut Report {
        let body: String = images
            .iter()
            .map(|(caption, img)| {
                format!(
                    "<figure style=\"margin:0\"><img alt=\"{c}\" src=\"{}\" width=\"{}\" height=\"{}\" style=\"image-rendering:pixelated\"><figcaption class=\"note\">{c}</figcaption></figure>",
                    data_uri("image/png", &img.png()),
                    2 * img.width(),
                    2 * img.height(),
                    c = escape(caption),
                )
            })
            .collect();
        self.section(heading, &format!("<div class=\"row\">{body}</div>"))
    }

    /// A section `heading` holding `svg` as it is (a [`crate::report::scatter_svg`] plot).
    pub fn svg(&mut self, heading: &str, svg: &str) -> &mut Report {
        self.section(heading, &format!("<div class=\"row\">{svg}</div>"))
    }

    fn section(&mut self, heading: &str, body: &str) -> &mut Report {
        self.sections
            .push(format!("<h2>{}</h2>\n{body}", escape(heading)));
        self
    }

    /// The page: one HTML document with its style inline.
    pub fn html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · gradus report</title><style>{STYLE}</style></head>\n<body><h1>{t}</h1>\n{}\n</body></html>\n",
            self.sections.join("\n"),
            t = escape(&self.title)
        )
    }

    /// Writes the page to `dir/report.html`, creating `dir` if needed; returns the file's path.
    ///
    /// # Errors
    /// [`GenError::Io`] naming the folder or file that could not be created or written.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join("gradus-generative-doc-report");
    /// let path = gradus_generative::report::Report::new("empty").write(&dir).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("<h1>empty</h1>"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| GenError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("report.html");
        std::fs::write(&path, self.html()).map_err(io(&path))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{scatter_svg, ImageGrid};

    #[test]
    fn the_page_holds_its_sections_in_order_and_nothing_external() {
        let grid = ImageGrid::new(2, 3, 4).tile(&[0.25; 12]).unwrap();
        let mut report = Report::new("a <b> run");
        report
            .note("5 < 6 & so on")
            .figures("Figures", &[("ELBO", "-85.1 nats".into())])
            .charts(
                "Curves",
                vec![lines("Loss", "step", &[("a", &[(1.0, 2.0), (2.0, 1.0)])])],
            )
            .images("Grids", &[("first", &grid), ("second", &grid)])
            .svg(
                "Scatter",
                &scatter_svg("s", &[0.0, 0.0], &[1.0, 1.0], 300.0).unwrap(),
            );
        let html = report.html();
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(html.contains("<h1>a &lt;b&gt; run</h1>") && html.contains("5 &lt; 6 &amp; so on"));
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(at("<h2>Figures") < at("<h2>Curves") && at("<h2>Curves") < at("<h2>Grids"));
        assert!(at("<h2>Grids") < at("<h2>Scatter"));
        // the two grids as PNG data URIs (base64 of the PNG signature: iVBORw0KGgo) at 2x size
        let png_uri = format!("src=\"{}\"", data_uri("image/png", &grid.png()));
        assert_eq!(html.matches(&png_uri).count(), 2);
        assert!(html.contains("width=\"24\" height=\"12\""));
        assert_eq!(html.matches("data:image/png;base64,iVBORw0KGgo").count(), 2);
        assert_eq!(html.matches("<svg").count(), 2);
        // self-contained: no script, no stylesheet link, no image from elsewhere
        for external in ["<script", "<link", "src=\"http", "href=\"http"] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn write_names_the_path_it_could_not_write() {
        let dir = std::env::temp_dir().join(format!("gradus-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("file");
        std::fs::write(&blocker, "not a folder").unwrap();
        let e = Report::new("x").write(&blocker.join("run")).unwrap_err();
        assert!(
            matches!(&e, GenError::Io { path, .. } if path == &blocker.join("run")),
            "{e}"
        );
        assert!(e
            .to_string()
            .starts_with(&blocker.join("run").display().to_string()));
        let path = Report::new("x").write(&dir.join("run")).unwrap();
        assert_eq!(path, dir.join("run").join("report.html"));
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("<title>x · gradus report"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
