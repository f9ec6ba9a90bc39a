//! A VAE (784-400-20 encoder, 20-400-784 decoder, Bernoulli likelihood) on binarized MNIST:
//! trains with Adam and prints the test ELBO in nats each epoch; writes runs/vae_mnist/report.html
//! (the training and test ELBO per epoch, 64 test digits next to their reconstructions, 64
//! samples) and the same grids as PGM images (samples, reconstructions, originals).
//!
//! Digits are binarized at 0.5 (a fixed binarization; the literature's figures mostly use a
//! stochastic binarization, which scores a few nats differently).
//!
//! ```text
//! cargo run --release -p gradus --example vae_mnist -- [EPOCHS=20]
//! ```
use gradus::data::mnist::{load, Split};
use gradus::prelude::*;
use gradus_generative::report::{lines, GrayImage, ImageGrid, Report};
use gradus_generative::Vae;
use std::error::Error;
use std::time::Instant;

fn binarized(split: Split) -> Result<(Tensor, usize), Box<dyn Error>> {
    let ds = load("data/mnist", split)?;
    let px: Vec<f32> = ds
        .features()
        .iter()
        .map(|&p| if p > 0.5 { 1.0 } else { 0.0 })
        .collect();
    Ok((Tensor::from_vec(px, &[ds.len(), 784])?, ds.len()))
}

/// `img` as a binary PGM file.
fn write_pgm(path: &str, img: &GrayImage) -> std::io::Result<()> {
    let mut out = format!("P5\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    out.extend_from_slice(img.pixels());
    std::fs::write(path, out)
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let (train, n) = binarized(Split::Train)?;
    let (test, n_test) = binarized(Split::Test)?;
    let mut rng = Rng::seed(0);
    let vae = Vae::new(784, 400, 20, &mut rng);
    let mut opt = Optimizer::with_params(Adam::new(1e-3), &vae.parameters())?;
    let batch = 100;
    let start = Instant::now();
    let (mut train_curve, mut test_curve) = (Vec::new(), Vec::new());
    for epoch in 1..=epochs {
        let order = rng.permutation(n);
        let mut train_total = 0.0;
        for b in 0..n / batch {
            let idx: Vec<f32> = order[b * batch..(b + 1) * batch]
                .iter()
                .map(|&i| i as f32)
                .collect();
            let x = train.index_select(0, &Tensor::from_vec(idx, &[batch])?)?;
            let elbo = vae.elbo(&x, &mut rng)?;
            train_total += elbo.item()?;
            elbo.neg()?.backward()?;
            opt.step()?;
            opt.zero_grad();
        }
        let mut total = 0.0;
        for b in 0..n_test / 1000 {
            let x = test.narrow(0, b * 1000, 1000)?;
            total += no_grad(|| vae.elbo(&x, &mut rng))?.item()?;
        }
        let elbo = total / (n_test / 1000) as f64;
        train_curve.push((epoch as f64, train_total / (n / batch) as f64));
        test_curve.push((epoch as f64, elbo));
        println!(
            "epoch {epoch:3}: test ELBO {elbo:8.2} nats ({:.0} s)",
            start.elapsed().as_secs_f64()
        );
    }
    let grid = ImageGrid::new(28, 28, 8);
    let originals = test.narrow(0, 0, 64)?.contiguous()?;
    let recon = no_grad(|| vae.forward(&originals))?;
    let samples = grid.tile(&vae.sample(64, &mut rng)?.to_vec::<f32>()?)?;
    let (originals, recon) = (
        grid.tile(&originals.to_vec::<f32>()?)?,
        grid.tile(&recon.to_vec::<f32>()?)?,
    );
    let dir = "runs/vae_mnist";
    std::fs::create_dir_all(dir)?;
    write_pgm(&format!("{dir}/samples.pgm"), &samples)?;
    write_pgm(&format!("{dir}/reconstructions.pgm"), &recon)?;
    write_pgm(&format!("{dir}/originals.pgm"), &originals)?;
    let last = test_curve.last().map_or(f64::NAN, |p| p.1);
    let mut report = Report::new("VAE on binarized MNIST");
    report
        .figures(
            "Summary",
            &[
                (
                    "model",
                    "784-400-20 encoder, 20-400-784 decoder, Bernoulli likelihood".into(),
                ),
                (
                    "training",
                    format!("{epochs} epochs of Adam (1e-3), batch {batch}"),
                ),
                (
                    "test ELBO",
                    format!("{last:.2} nats (one sample of z per digit)"),
                ),
                ("time", format!("{:.0} s", start.elapsed().as_secs_f64())),
            ],
        )
        .charts(
            "Training",
            vec![lines(
                "ELBO (nats, higher is better)",
                "epoch",
                &[
                    ("training (mean over the epoch)", &train_curve),
                    ("test", &test_curve),
                ],
            )],
        )
        .images(
            "Test reconstructions",
            &[
                ("64 test digits (binarized)", &originals),
                ("their reconstructions: p(x | z = μ(x))", &recon),
            ],
        )
        .images(
            "Samples",
            &[("64 samples: p(x | z), z ~ N(0, I)", &samples)],
        );
    let path = report.write(dir.as_ref())?;
    println!(
        "wrote {} and {dir}/{{samples,reconstructions,originals}}.pgm",
        path.display()
    );
    Ok(())
}
