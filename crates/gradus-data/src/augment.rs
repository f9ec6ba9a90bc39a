//! Random affine augmentation of images: shift, rotation, scale and horizontal flip, as
//! torchvision's `RandomAffine(degrees, translate, scale)` after `RandomHorizontalFlip(p)`.
//!
//! Every sample's transform is drawn from a generator seeded by `(seed, epoch, index)` alone,
//! where `index` is the sample's position in the training set, so an augmented epoch does not
//! depend on the batch size, the order of the batches, the number of threads, or whether the
//! run was interrupted and resumed: no generator state is stored.
//!
//! Geometry (torchvision's tensor `affine`): pixel `(row, col)` has coordinates
//! `x = col - (W - 1) / 2`, `y = row - (H - 1) / 2` about the image centre (`x` right, `y`
//! down). Every output pixel is inverse-mapped to the input point
//! `M⁻¹ · ([x, y] - [tx, ty])` with `M = s · [[cos a, sin a], [-sin a, cos a]]` (a positive
//! angle turns the image counter-clockwise as displayed), and the input is read there by
//! bilinear interpolation over the four nearest pixels, a pixel outside the image reading
//! `fill` (`grid_sample` with a constant border). torchvision additionally blends border pixels
//! with its sampled validity mask; with `fill = 0` that darkens partly-outside pixels once more,
//! which this does not do. Shifts are whole pixels, as torchvision's
//! `round(uniform(-translate · W, translate · W))`. The flip mirrors the input before the affine
//! map.

use crate::DataError;
use rand::RngCore;
use rand_pcg::Pcg64;

/// The ranges samples' transforms are drawn from (torchvision's `RandomAffine` and
/// `RandomHorizontalFlip` arguments). `Default` is the identity: nothing changes.
///
/// ```
/// use gradus_data::augment::AugmentParams;
/// let p = AugmentParams { shift: 0.1, rotation: 10.0, scale: [0.9, 1.1], ..Default::default() };
/// assert!(p.validate().is_ok() && !p.is_identity());
/// assert!(AugmentParams::default().is_identity());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentParams {
    /// Largest shift as a fraction of the width (horizontally) and height (vertically), in
    /// `[0, 1]`: torchvision's `translate = (shift, shift)`; rounded to whole pixels.
    pub shift: f64,
    /// Largest rotation in degrees, `>= 0`: the angle is uniform in `[-rotation, rotation]`
    /// (torchvision's `degrees`).
    pub rotation: f64,
    /// Zoom factor range `[min, max]`, `0 < min <= max`; uniform in it (torchvision's `scale`).
    pub scale: [f64; 2],
    /// Probability of mirroring left to right, in `[0, 1]` (not for digits: a mirrored 2 is no
    /// digit).
    pub hflip: f64,
    /// The value read outside the image (torchvision's `fill`, 0 by default).
    pub fill: f32,
}

impl Default for AugmentParams {
    fn default() -> Self {
        AugmentParams {
            shift: 0.0,
            rotation: 0.0,
            scale: [1.0, 1.0],
            hflip: 0.0,
            fill: 0.0,
        }
    }
}

impl AugmentParams {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] naming the parameter (`shift`, `rotation`, `scale`,
    /// `hflip`, `fill`), its allowed range and the value found.
    ///
    /// ```
    /// use gradus_data::augment::AugmentParams;
    /// let bad = AugmentParams { scale: [1.2, 0.8], ..Default::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("scale"));
    /// ```
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |name: &str, allowed: &str, got: String| {
            Err(DataError::invalid(format!(
                "augment {name}: must be {allowed}, got {got}"
            )))
        };
        if !(0.0..=1.0).contains(&self.shift) {
            return bad("shift", "in [0, 1]", self.shift.to_string());
        }
        if !(self.rotation.is_finite() && self.rotation >= 0.0) {
            return bad("rotation", "finite and >= 0", self.rotation.to_string());
        }
        let [lo, hi] = self.scale;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return bad(
                "scale",
                "[min, max] with 0 < min <= max",
                format!("[{lo}, {hi}]"),
            );
        }
        if !(0.0..=1.0).contains(&self.hflip) {
            return bad("hflip", "a probability in [0, 1]", self.hflip.to_string());
        }
        if !self.fill.is_finite() {
            return bad("fill", "finite", self.fill.to_string());
        }
        Ok(())
    }

    /// Whether every drawn transform is the identity (no shift, rotation, zoom or flip).
    pub fn is_identity(&self) -> bool {
        self.shift == 0.0 && self.rotation == 0.0 && self.scale == [1.0, 1.0] && self.hflip == 0.0
    }
}

/// One sample's transform, as drawn by [`Augment::draw`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Counter-clockwise rotation in degrees.
    pub angle: f64,
    /// Shift in whole pixels, `[right, down]`.
    pub translate: [f64; 2],
    /// Zoom factor (above 1 enlarges).
    pub scale: f64,
    /// Mirror left to right before the affine map.
    pub hflip: bool,
}

impl Affine {
    /// The identity transform.
    pub const IDENTITY: Affine = Affine {
        angle: 0.0,
        translate: [0.0, 0.0],
        scale: 1.0,
        hflip: false,
    };

    /// Writes the transformed `image` (`[C, H, W]` row-major, `c * h * w` values) into `out`
    /// (same size), reading `fill` outside the image (see the module docs for the geometry).
    ///
    /// # Panics
    /// When `image` or `out` does not hold `c * h * w` values.
    ///
    /// ```
    /// use gradus_data::augment::Affine;
    /// let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [1, 2, 3]
    /// let mut out = [0.0; 6];
    /// let shift = Affine { translate: [1.0, 0.0], ..Affine::IDENTITY };
    /// shift.apply(&image, [1, 2, 3], 0.0, &mut out);
    /// assert_eq!(out, [0.0, 1.0, 2.0, 0.0, 4.0, 5.0]);
    /// ```
    pub fn apply(&self, image: &[f32], [c, h, w]: [usize; 3], fill: f32, out: &mut [f32]) {
        assert_eq!(image.len(), c * h * w, "image of {c}x{h}x{w}");
        assert_eq!(out.len(), c * h * w, "output of {c}x{h}x{w}");
        let (sin, cos) = self.angle.to_radians().sin_cos();
        // M⁻¹ = (1/s) [[cos, -sin], [sin, cos]]
        let inv = [
            cos / self.scale,
            -sin / self.scale,
            sin / self.scale,
            cos / self.scale,
        ];
        let (cx, cy) = ((w as f64 - 1.0) * 0.5, (h as f64 - 1.0) * 0.5);
        let plane = h * w;
        for row in 0..h {
            for col in 0..w {
                let x = col as f64 - cx - self.translate[0];
                let y = row as f64 - cy - self.translate[1];
                let mut xi = inv[0] * x + inv[1] * y + cx;
                let yi = inv[2] * x + inv[3] * y + cy;
                if self.hflip {
                    xi = (w as f64 - 1.0) - xi;
                }
                let at = Bilinear::new(xi, yi, h, w);
                for ch in 0..c {
                    let src = &image[ch * plane..(ch + 1) * plane];
                    out[ch * plane + row * w + col] = at.read(src, fill);
                }
            }
        }
    }
}

/// The four pixels around an input point and their weights.
struct Bilinear {
    /// `(index into the plane or None outside, weight)` for the four neighbours.
    taps: [(Option<usize>, f32); 4],
}

impl Bilinear {
    fn new(xi: f64, yi: f64, h: usize, w: usize) -> Bilinear {
        let (x0, y0) = (xi.floor(), yi.floor());
        let (fx, fy) = (xi - x0, yi - y0);
        let pixel = |x: f64, y: f64| {
            let inside = x >= 0.0 && y >= 0.0 && x < w as f64 && y < h as f64;
            inside.then(|| y as usize * w + x as usize)
        };
        Bilinear {
            taps: [
                (pixel(x0, y0), ((1.0 - fx) * (1.0 - fy)) as f32),
                (pixel(x0 + 1.0, y0), (fx * (1.0 - fy)) as f32),
                (pixel(x0, y0 + 1.0), ((1.0 - fx) * fy) as f32),
                (pixel(x0 + 1.0, y0 + 1.0), (fx * fy) as f32),
            ],
        }
    }

    /// The interpolated value; taps of weight 0 are skipped and the sum starts at -0.0, so a
    /// point on a pixel reads that pixel bit for bit.
    fn read(&self, plane: &[f32], fill: f32) -> f32 {
        self.taps
            .iter()
            .filter(|&&(_, wt)| wt != 0.0)
            .map(|&(i, wt)| wt * i.map_or(fill, |i| plane[i]))
            .fold(-0.0, |acc, v| acc + v)
    }
}

/// Random affine augmentation of images of one shape `[C, H, W]`, seeded per
/// `(seed, epoch, sample index)`.
///
/// ```
/// use gradus_data::augment::{Augment, AugmentParams};
/// let params = AugmentParams { shift: 0.1, rotation: 10.0, scale: [0.9, 1.1], ..Default::default() };
/// let aug = Augment::new(params, &[1, 28, 28])?;
/// let mut batch = vec![0.5_f32; 2 * 784]; // samples 7 and 3 of the training set
/// aug.apply(&mut batch, &[7, 3], 42, 1)?;
/// let mut again = vec![0.5_f32; 784];
/// aug.apply(&mut again, &[3], 42, 1)?; // the same sample alone: the same image
/// assert_eq!(&batch[784..], &again[..]);
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Augment {
    params: AugmentParams,
    image: [usize; 3],
}

/// The PCG stream of augmentation generators (distinct from the shuffling stream).
const STREAM: u128 = 0x6772_6164_7573_2d61_7567_6d65_6e74_2d31;

impl Augment {
    /// Augmentation with `params` of images whose sample shape is `shape`: `[C, H, W]`, or
    /// `[H, W]` for one channel.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] when `params` are out of range
    /// ([`AugmentParams::validate`]) or `shape` is not an image shape (naming it).
    pub fn new(params: AugmentParams, shape: &[usize]) -> Result<Augment, DataError> {
        params.validate()?;
        let image = match *shape {
            [c, h, w] => [c, h, w],
            [h, w] => [1, h, w],
            _ => {
                return Err(DataError::invalid(format!(
                    "augment: samples of shape {shape:?} are not images ([C, H, W] or [H, W])"
                )))
            }
        };
        if image.contains(&0) {
            return Err(DataError::invalid(format!(
                "augment: image shape {shape:?} has a zero dimension"
            )));
        }
        Ok(Augment { params, image })
    }

    /// The ranges transforms are drawn from.
    pub fn params(&self) -> &AugmentParams {
        &self.params
    }

    /// The image shape `[C, H, W]`.
    pub fn image_shape(&self) -> [usize; 3] {
        self.image
    }

    /// The transform of training sample `index` in `epoch` of a run seeded with `seed`: a pure
    /// function of the three. Draws, in order, the angle, the horizontal and the vertical shift,
    /// the zoom and the flip, each from its own uniform number whether its range is empty or not.
    pub fn draw(&self, seed: u64, epoch: u64, index: u64) -> Affine {
        let p = &self.params;
        let mut rng = rng_for(seed, epoch, index);
        let mut uniform = |lo: f64, hi: f64| {
            let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            lo + (hi - lo) * u
        };
        let [_, h, w] = self.image;
        let angle = uniform(-p.rotation, p.rotation);
        let (max_dx, max_dy) = (p.shift * w as f64, p.shift * h as f64);
        let tx = uniform(-max_dx, max_dx).round();
        let ty = uniform(-max_dy, max_dy).round();
        let scale = uniform(p.scale[0], p.scale[1]);
        let hflip = uniform(0.0, 1.0) < p.hflip;
        Affine {
            angle,
            translate: [tx, ty],
            scale,
            hflip,
        }
    }

    /// Augments a batch in place: `x` holds `indices.len()` images of the shape given to
    /// [`Augment::new`] (row-major, any layout with that many values per sample, e.g. the flat
    /// `[N, C·H·W]` of an MLP's input), and `indices` are their positions in the training set.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] when `x` does not hold `indices.len()` images.
    pub fn apply(
        &self,
        x: &mut [f32],
        indices: &[usize],
        seed: u64,
        epoch: u64,
    ) -> Result<(), DataError> {
        let [c, h, w] = self.image;
        let per = c * h * w;
        if x.len() != indices.len() * per {
            return Err(DataError::invalid(format!(
                "augment: a batch of {} images of {c}x{h}x{w} needs {} values, got {}",
                indices.len(),
                indices.len() * per,
                x.len()
            )));
        }
        if self.params.is_identity() {
            return Ok(());
        }
        let mut out = vec![0.0f32; per];
        for (image, &index) in x.chunks_exact_mut(per).zip(indices) {
            let t = self.draw(seed, epoch, index as u64);
            t.apply(image, self.image, self.params.fill, &mut out);
            image.copy_from_slice(&out);
        }
        Ok(())
    }
}

/// A generator for `(seed, epoch, index)`: the seed fills the high half of the PCG state and a
/// SplitMix64 chain of epoch and index the low half.
fn rng_for(seed: u64, epoch: u64, index: u64) -> Pcg64 {
    let low = splitmix64(splitmix64(epoch) ^ index);
    Pcg64::new(
        (u128::from(splitmix64(seed)) << 64) | u128::from(low),
        STREAM,
    )
}

/// SplitMix64's output function: a bijective 64-bit mixer.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
