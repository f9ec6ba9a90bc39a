//! [`ImageGrid`]: a batch of same-sized grayscale images tiled row by row into one picture (a
//! sample grid, torchvision's `make_grid`), and [`GrayImage`], the picture as 8-bit pixels that
//! encode to PNG.

use crate::{GenError, Result};
use gradus_run::report::png::gray_png;

/// An 8-bit grayscale picture, row-major, 0 black to 255 white.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrayImage {
    width: usize,
    height: usize,
    /// `[height, width]`
    pixels: Vec<u8>,
}

impl GrayImage {
    /// The picture of `pixels` (`height · width` of them, row-major).
    ///
    /// # Errors
    /// [`GenError::BadImages`] when `pixels.len() != width · height` or a side is 0.
    ///
    /// ```
    /// use gradus_generative::report::GrayImage;
    /// let img = GrayImage::new(2, 1, vec![0, 255]).unwrap();
    /// assert_eq!((img.width(), img.height()), (2, 1));
    /// assert!(GrayImage::new(2, 2, vec![0; 3]).is_err());
    /// ```
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<GrayImage> {
        if width == 0 || height == 0 || pixels.len() != width * height {
            return Err(bad(format!(
                "{} pixels for a {width}x{height} image",
                pixels.len()
            )));
        }
        Ok(GrayImage {
            width,
            height,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, `[height, width]` row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The picture as a PNG file (8-bit gray; gradus-run's encoder, the one the training report
    /// uses for its digits).
    ///
    /// ```
    /// use gradus_generative::report::GrayImage;
    /// let png = GrayImage::new(2, 1, vec![0, 255]).unwrap().png();
    /// assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    /// ```
    pub fn png(&self) -> Vec<u8> {
        gray_png(self.width, self.height, &self.pixels)
    }
}

/// How to tile images of `height × width` pixels: `cols` to a row, `gap` pixels of value
/// `background` around and between them (torchvision's `make_grid(nrow=cols, padding=gap,
/// pad_value=background)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageGrid {
    /// Pixels per image row.
    pub height: usize,
    /// Pixels per image column.
    pub width: usize,
    /// Images per grid row.
    pub cols: usize,
    /// Pixels between images and around the grid.
    pub gap: usize,
    /// The gap's gray level, 0 black to 255 white.
    pub background: u8,
}

impl ImageGrid {
    /// A grid of `height × width` images, `cols` to a row, with 2-pixel dark gray gaps.
    ///
    /// ```
    /// use gradus_generative::report::ImageGrid;
    /// let grid = ImageGrid::new(28, 28, 8);
    /// assert_eq!((grid.gap, grid.background), (2, 64));
    /// ```
    pub fn new(height: usize, width: usize, cols: usize) -> ImageGrid {
        ImageGrid {
            height,
            width,
            cols,
            gap: 2,
            background: 64,
        }
    }

    /// Tiles `images` (`[n, height · width]` row-major, values in `[0, 1]`, e.g. MNIST pixels)
    /// into one picture of `ceil(n / cols)` rows and `min(n, cols)` columns: image `k` sits in
    /// row `k / cols`, column `k % cols`; a short last row leaves background. A value `v`
    /// becomes `round(255 · clamp(v, 0, 1))`; NaN becomes 0 (black).
    ///
    /// # Errors
    /// [`GenError::BadImages`] when a side or `cols` is 0 or `images` is empty or not a whole
    /// number of images.
    ///
    /// ```
    /// use gradus_generative::report::ImageGrid;
    /// let grid = ImageGrid { gap: 1, background: 9, ..ImageGrid::new(1, 2, 2) };
    /// // three 1x2 images: two in the first row, one in the second
    /// let img = grid.tile(&[0.0, 1.0, 0.5, 0.5, 1.0, 0.0]).unwrap();
    /// assert_eq!((img.width(), img.height()), (7, 5));
    /// assert_eq!(&img.pixels()[7..14], &[9, 0, 255, 9, 128, 128, 9]);
    /// assert_eq!(&img.pixels()[21..28], &[9, 255, 0, 9, 9, 9, 9]);
    /// ```
    pub fn tile(&self, images: &[f32]) -> Result<GrayImage> {
        let (h, w, gap) = (self.height, self.width, self.gap);
        if h == 0 || w == 0 || self.cols == 0 {
            return Err(bad(format!(
                "images of {h}x{w} pixels, {} to a row: no side may be 0",
                self.cols
            )));
        }
        let size = h * w;
        if images.is_empty() || !images.len().is_multiple_of(size) {
            return Err(bad(format!(
                "{} values are not a whole number of {h}x{w} images",
                images.len()
            )));
        }
        let n = images.len() / size;
        let (rows, cols) = (n.div_ceil(self.cols), n.min(self.cols));
        let (gw, gh) = (cols * (w + gap) + gap, rows * (h + gap) + gap);
        let mut px = vec![self.background; gw * gh];
        for (k, img) in images.chunks_exact(size).enumerate() {
            let (top, left) = (
                gap + (k / self.cols) * (h + gap),
                gap + (k % cols) * (w + gap),
            );
            for (r, row) in img.chunks_exact(w).enumerate() {
                let out = &mut px[(top + r) * gw + left..][..w];
                for (o, &v) in out.iter_mut().zip(row) {
                    *o = to_gray(v);
                }
            }
        }
        GrayImage::new(gw, gh, px)
    }

    /// [`ImageGrid::tile`] encoded as PNG.
    ///
    /// # Errors
    /// As [`ImageGrid::tile`].
    pub fn png(&self, images: &[f32]) -> Result<Vec<u8>> {
        Ok(self.tile(images)?.png())
    }
}

/// `round(255 · clamp(v, 0, 1))`, NaN to 0.
fn to_gray(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

fn bad(detail: String) -> GenError {
    GenError::BadImages {
        what: "image grid",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels of a PNG as the `png` crate decodes them (8-bit gray expected).
    fn decode(png_bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }

    #[test]
    fn the_png_decodes_back_to_the_same_pixels() {
        // big enough for several stored deflate blocks (65,535 bytes each) and odd sides
        let (w, h) = (301, 253);
        let pixels: Vec<u8> = (0..w * h).map(|i| (i * 7 + i / w) as u8).collect();
        let img = GrayImage::new(w, h, pixels.clone()).unwrap();
        assert_eq!(decode(&img.png()), (w, h, pixels));
        let one = GrayImage::new(1, 1, vec![200]).unwrap();
        assert_eq!(decode(&one.png()), (1, 1, vec![200]));
    }

    #[test]
    fn the_grid_puts_image_k_at_row_k_over_cols_and_column_k_mod_cols() {
        let grid = ImageGrid {
            gap: 2,
            background: 7,
            ..ImageGrid::new(3, 4, 3)
        };
        // five 3x4 images; image k holds the gray level 10 (k + 1) / 255 at every pixel but its
        // top-left one, which is white
        let images: Vec<f32> = (0..5)
            .flat_map(|k| {
                (0..12).map(move |i| {
                    if i == 0 {
                        1.0
                    } else {
                        (10 * (k + 1)) as f32 / 255.0
                    }
                })
            })
            .collect();
        let img = grid.tile(&images).unwrap();
        // 3 columns of 4 and 4 gaps; 2 rows of 3 and 3 gaps
        assert_eq!((img.width(), img.height()), (3 * 4 + 4 * 2, 2 * 3 + 3 * 2));
        let at = |r: usize, c: usize| img.pixels()[r * img.width() + c];
        for k in 0..6 {
            let (top, left) = (2 + (k / 3) * 5, 2 + (k % 3) * 6);
            for r in 0..3 {
                for c in 0..4 {
                    let want = match (k, r, c) {
                        (5, _, _) => 7, // no sixth image: background
                        (_, 0, 0) => 255,
                        _ => (10 * (k + 1)) as u8,
                    };
                    assert_eq!(at(top + r, left + c), want, "image {k} pixel ({r}, {c})");
                }
            }
        }
        // the gaps are background: the first two rows and columns, and between images
        assert!((0..img.width()).all(|c| at(0, c) == 7 && at(1, c) == 7 && at(5, c) == 7));
        assert!((0..img.height()).all(|r| at(r, 0) == 7 && at(r, 6) == 7));
        // the decoded PNG of the grid is the grid
        let (w, h, px) = decode(&grid.png(&images).unwrap());
        assert_eq!((w, h, &px[..]), (img.width(), img.height(), img.pixels()));
    }

    #[test]
    fn fewer_images_than_columns_make_one_narrow_row() {
        let img = ImageGrid::new(2, 2, 8).tile(&[0.5; 8]).unwrap();
        assert_eq!((img.width(), img.height()), (2 * 2 + 3 * 2, 2 + 2 * 2));
    }

    #[test]
    fn values_are_clamped_rounded_and_nan_is_black() {
        let grid = ImageGrid {
            gap: 0,
            ..ImageGrid::new(1, 6, 1)
        };
        let img = grid.tile(&[-0.5, 0.0, 0.5, 1.0, 7.0, f32::NAN]).unwrap();
        assert_eq!(img.pixels(), &[0, 0, 128, 255, 255, 0]);
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_shape() {
        let grid = ImageGrid::new(28, 28, 8);
        let e = grid.tile(&[0.0; 785]).unwrap_err().to_string();
        assert_eq!(
            e,
            "image grid: 785 values are not a whole number of 28x28 images"
        );
        assert!(grid.tile(&[]).is_err());
        let e = ImageGrid::new(28, 28, 0).tile(&[0.0; 784]).unwrap_err();
        assert!(e.to_string().contains("0 to a row"), "{e}");
        assert!(ImageGrid::new(0, 28, 8).tile(&[0.0; 784]).is_err());
        let e = GrayImage::new(3, 2, vec![0; 5]).unwrap_err().to_string();
        assert_eq!(e, "image grid: 5 pixels for a 3x2 image");
        assert!(GrayImage::new(0, 0, vec![]).is_err());
    }
}
