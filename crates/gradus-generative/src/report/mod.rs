//! The `report.html` of a generative model's run, one self-contained page: the training curves,
//! image grids (samples, reconstructions next to their originals) as PNG data URIs and 2-D
//! samples over their data as inline SVG, in the training report's style and drawn with its
//! charts and PNG encoder (`gradus_run::report`).
//!
//! - [`ImageGrid`] tiles a batch of images into one [`GrayImage`], which encodes to PNG.
//! - [`scatter_svg`] plots 2-D samples over the data.
//! - [`Report`] builds the page; [`lines`] makes a chart of training curves.
//!
//! ```
//! use gradus_generative::report::{lines, scatter_svg, ImageGrid, Report};
//! let grid = ImageGrid::new(28, 28, 8).tile(&vec![0.5f32; 16 * 784]).unwrap();
//! assert_eq!((grid.width(), grid.height()), (8 * 30 + 2, 2 * 30 + 2));
//! let mut report = Report::new("demo");
//! report
//!     .charts("Training", vec![lines("Loss", "step", &[("loss", &[(1.0, 1.0), (2.0, 0.5)])])])
//!     .images("Samples", &[("16 samples", &grid)])
//!     .svg("Samples over the data", &scatter_svg("2-D", &[0.0, 0.0], &[0.1, 0.1], 300.0).unwrap());
//! assert!(report.html().contains("data:image/png;base64,"));
//! ```

mod image_grid;
mod page;
mod scatter;

pub use gradus_run::report::chart::{Chart, Series};
pub use image_grid::{GrayImage, ImageGrid};
pub use page::{lines, Report};
pub use scatter::{scatter_svg, MAX_POINTS};
