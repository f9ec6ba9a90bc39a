//! Random affine augmentation: the geometry against hand-computed images, and the seeding.

use gradus_data::augment::{Affine, Augment, AugmentParams};

/// A 1x4x4 image with distinct values, no symmetry: pixel (r, c) = 1 + 4r + c.
fn ramp(h: usize, w: usize) -> Vec<f32> {
    (0..h * w)
        .map(|i| 1.0 + i as f32 + (i * i) as f32 * 0.01)
        .collect()
}

fn transformed(t: Affine, image: &[f32], shape: [usize; 3], fill: f32) -> Vec<f32> {
    let mut out = vec![f32::NAN; image.len()];
    t.apply(image, shape, fill, &mut out);
    out
}

#[test]
fn the_identity_leaves_images_bit_for_bit_unchanged() {
    let mut image = ramp(5, 4);
    image[3] = -0.0;
    image[7] = -1.5e-30;
    let out = transformed(Affine::IDENTITY, &image, [1, 5, 4], 0.0);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&out), bits(&image));
    // identity ranges through the batch path too
    let aug = Augment::new(AugmentParams::default(), &[1, 5, 4]).unwrap();
    let mut batch = [image.clone(), image.clone()].concat();
    aug.apply(&mut batch, &[0, 1], 3, 1).unwrap();
    assert_eq!(bits(&batch), bits(&[image.clone(), image].concat()));
}

#[test]
fn an_integer_shift_is_a_translation_with_fill() {
    let (h, w) = (4, 5);
    let image = ramp(h, w);
    // right by 2, up by 1
    let t = Affine {
        translate: [2.0, -1.0],
        ..Affine::IDENTITY
    };
    let out = transformed(t, &image, [1, h, w], -7.0);
    for r in 0..h {
        for c in 0..w {
            let (sr, sc) = (r as isize + 1, c as isize - 2);
            let expected = if sr < h as isize && sc >= 0 {
                image[sr as usize * w + sc as usize]
            } else {
                -7.0
            };
            assert_eq!(out[r * w + c], expected, "pixel ({r}, {c})");
        }
    }
}

#[test]
fn a_quarter_turn_is_numpy_rot90_of_an_asymmetric_image() {
    let n = 5;
    let image = ramp(n, n);
    let t = Affine {
        angle: 90.0,
        ..Affine::IDENTITY
    };
    let out = transformed(t, &image, [1, n, n], 0.0);
    // counter-clockwise: out[r][c] = in[c][n-1-r] (the transpose of the column-flipped image)
    for r in 0..n {
        for c in 0..n {
            let expected = image[c * n + (n - 1 - r)];
            assert!(
                (out[r * n + c] - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                "pixel ({r}, {c}): {} vs {expected}",
                out[r * n + c]
            );
        }
    }
    // a turn back restores the image
    let back = Affine {
        angle: -90.0,
        ..Affine::IDENTITY
    };
    let restored = transformed(back, &out, [1, n, n], 0.0);
    for (a, b) in restored.iter().zip(&image) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
}

#[test]
fn hflip_reverses_columns_of_every_channel() {
    let (c, h, w) = (2, 3, 4);
    let image: Vec<f32> = (0..c * h * w).map(|i| i as f32 * 1.5 - 3.0).collect();
    let t = Affine {
        hflip: true,
        ..Affine::IDENTITY
    };
    let out = transformed(t, &image, [c, h, w], 0.0);
    for row in image.chunks(w).zip(out.chunks(w)) {
        let reversed: Vec<f32> = row.0.iter().rev().copied().collect();
        assert_eq!(row.1, &reversed[..]);
    }
}

#[test]
fn a_zoom_reads_between_pixels_bilinearly() {
    // [1, 1, 4] row 0 1 2 3; zoom 2 about x = 1.5: out col c reads x = (c - 1.5) / 2 + 1.5
    let image = [0.0, 1.0, 2.0, 3.0];
    let t = Affine {
        scale: 2.0,
        ..Affine::IDENTITY
    };
    let out = transformed(t, &image, [1, 1, 4], 0.0);
    assert_eq!(out, [0.75, 1.25, 1.75, 2.25]);
    // zoom out by 2: col 0 reads x = -1.5 (outside, fill), col 1 reads x = 0.5
    let t = Affine {
        scale: 0.5,
        ..Affine::IDENTITY
    };
    let out = transformed(t, &image, [1, 1, 4], 10.0);
    assert_eq!(out, [10.0, 0.5, 2.5, 10.0]);
}

#[test]
fn draws_depend_on_seed_epoch_and_index_only() {
    let params = AugmentParams {
        shift: 0.1,
        rotation: 10.0,
        scale: [0.9, 1.1],
        hflip: 0.5,
        fill: 0.0,
    };
    let aug = Augment::new(params, &[1, 28, 28]).unwrap();
    assert_eq!(aug.draw(7, 2, 11), aug.draw(7, 2, 11));
    assert_ne!(aug.draw(7, 2, 11), aug.draw(7, 3, 11));
    assert_ne!(aug.draw(7, 2, 11), aug.draw(7, 2, 12));
    assert_ne!(aug.draw(7, 2, 11), aug.draw(8, 2, 11));
    let mut flips = 0;
    for i in 0..2000 {
        let t = aug.draw(1, 1, i);
        assert!(t.angle.abs() <= 10.0 && (0.9..=1.1).contains(&t.scale));
        for (v, size) in t.translate.iter().zip([28.0, 28.0]) {
            assert!(v.fract() == 0.0 && v.abs() <= (0.1f64 * size).round());
        }
        flips += usize::from(t.hflip);
    }
    assert!((900..1100).contains(&flips), "{flips} flips of 2000");

    // a batch equals its samples augmented one at a time, in any order
    let images: Vec<f32> = (0..3 * 784).map(|i| (i % 97) as f32 / 97.0).collect();
    let mut batch = images.clone();
    aug.apply(&mut batch, &[5, 9, 2], 4, 1).unwrap();
    let mut alone = images[784..2 * 784].to_vec();
    aug.apply(&mut alone, &[9], 4, 1).unwrap();
    assert_eq!(&batch[784..2 * 784], &alone[..]);
    assert_ne!(&batch[784..2 * 784], &images[784..2 * 784]);
    let mut next_epoch = images[784..2 * 784].to_vec();
    aug.apply(&mut next_epoch, &[9], 4, 2).unwrap();
    assert_ne!(next_epoch, alone);
}

#[test]
fn bad_ranges_and_shapes_are_named_errors() {
    let with = |f: fn(&mut AugmentParams)| {
        let mut p = AugmentParams::default();
        f(&mut p);
        Augment::new(p, &[1, 8, 8]).unwrap_err().to_string()
    };
    assert!(with(|p| p.rotation = -1.0).contains("rotation"));
    assert!(with(|p| p.scale = [1.1, 0.9]).contains("scale"));
    assert!(with(|p| p.scale = [0.0, 1.0]).contains("scale"));
    assert!(with(|p| p.hflip = 1.5).contains("hflip"));
    assert!(with(|p| p.hflip = f64::NAN).contains("hflip"));
    assert!(with(|p| p.shift = -0.1).contains("shift"));
    let e = Augment::new(AugmentParams::default(), &[10]).unwrap_err();
    assert!(e.to_string().contains("[10]"), "{e}");
    let aug = Augment::new(AugmentParams::default(), &[8, 8]).unwrap();
    assert_eq!(aug.image_shape(), [1, 8, 8]);
    let e = aug.apply(&mut [0.0; 65], &[0], 0, 1).unwrap_err();
    assert!(e.to_string().contains("64"), "{e}");
}
