//! A VAE (784-400-20 encoder, 20-400-784 decoder, Bernoulli likelihood) on binarized MNIST:
//! trains with Adam and prints the test ELBO in nats each epoch; writes a grid of 64 samples and
//! of test reconstructions as PGM images under runs/vae_mnist/.
//!
//! Digits are binarized at 0.5 (a fixed binarization; the literature's figures mostly use a
//! stochastic binarization, which scores a few nats differently).
//!
//! ```text
//! cargo run --release -p gradus --example vae_mnist -- [EPOCHS=20]
//! ```
use gradus::data::mnist::{load, Split};
use gradus::prelude::*;
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

/// An 8x8 grid of 28x28 images with values in [0, 1] as a binary PGM.
fn write_grid(path: &str, images: &[f32]) -> std::io::Result<()> {
    let mut px = vec![0u8; 224 * 224];
    for (k, img) in images.chunks(784).take(64).enumerate() {
        for (i, v) in img.iter().enumerate() {
            let (r, c) = ((k / 8) * 28 + i / 28, (k % 8) * 28 + i % 28);
            px[r * 224 + c] = (v.clamp(0.0, 1.0) * 255.0) as u8;
        }
    }
    let mut out = b"P5\n224 224\n255\n".to_vec();
    out.extend(px);
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
    for epoch in 1..=epochs {
        let order = rng.permutation(n);
        for b in 0..n / batch {
            let idx: Vec<f32> = order[b * batch..(b + 1) * batch]
                .iter()
                .map(|&i| i as f32)
                .collect();
            let x = train.index_select(0, &Tensor::from_vec(idx, &[batch])?)?;
            vae.elbo(&x, &mut rng)?.neg()?.backward()?;
            opt.step()?;
            opt.zero_grad();
        }
        let mut total = 0.0;
        for b in 0..n_test / 1000 {
            let x = test.narrow(0, b * 1000, 1000)?;
            total += no_grad(|| vae.elbo(&x, &mut rng))?.item()?;
        }
        let elbo = total / (n_test / 1000) as f64;
        println!(
            "epoch {epoch:3}: test ELBO {elbo:8.2} nats ({:.0} s)",
            start.elapsed().as_secs_f64()
        );
    }
    std::fs::create_dir_all("runs/vae_mnist")?;
    write_grid(
        "runs/vae_mnist/samples.pgm",
        &vae.sample(64, &mut rng)?.to_vec::<f32>()?,
    )?;
    let recon = no_grad(|| vae.forward(&test.narrow(0, 0, 64)?))?;
    write_grid(
        "runs/vae_mnist/reconstructions.pgm",
        &recon.to_vec::<f32>()?,
    )?;
    write_grid(
        "runs/vae_mnist/originals.pgm",
        &test.narrow(0, 0, 64)?.contiguous()?.to_vec::<f32>()?,
    )?;
    println!("wrote runs/vae_mnist/{{samples,reconstructions,originals}}.pgm");
    Ok(())
}
