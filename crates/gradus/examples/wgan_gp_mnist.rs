//! WGAN-GP (Gulrajani et al. 2017) on MNIST with MLP generator and critic (the ring example's
//! design at image size: `z (64) -> 256 x3 -> 784 tanh`, critic `784 -> 256 x3 -> 1`, ReLU;
//! Adam 2e-4 with betas (0.5, 0.9), 5 critic steps per generator step, λ = 10, batch 64;
//! pixels scaled to [-1, 1]). MLPs rather than the paper's convolutional networks so that a run
//! fits in minutes on 2 CPU cores.
//!
//! Scored by the Fréchet distance (FID's formula) between the penultimate-layer features (84)
//! of a LeNet trained here for one epoch, over 10,000 generated digits and the 10,000 test
//! digits, printed for the untrained generator, during training, and for 10,000 training
//! digits (the floor). Writes runs/wgan_gp_mnist/report.html (the critic and generator losses
//! and the Fréchet distance over the steps, an 8x8 grid of samples, the untrained generator's)
//! and the grids as samples.png (trained) and untrained.png.
//!
//! ```text
//! cargo run --release -p gradus --example wgan_gp_mnist -- [GENERATOR_STEPS=2000]
//! ```
use gradus::data::mnist::{load, Split};
use gradus::data::Targets;
use gradus::nn::models::LeNet;
use gradus::prelude::*;
use gradus_generative::report::{lines, ImageGrid, Report};
use gradus_generative::{frechet_distance, lenet_features, WganGp, WganGpConfig};
use std::error::Error;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn Error>>;
const N_FD: usize = 10_000; // samples on each side of a Fréchet distance

/// Pixels in [0, 1] (`n x 784`) and labels of a split of data/mnist.
fn mnist(split: Split) -> Res<(Vec<f32>, Vec<f32>)> {
    let ds = load("data/mnist", split)?;
    let labels = match ds.targets() {
        Targets::Classes { labels, .. } => labels.iter().map(|&l| l as f32).collect(),
        _ => return Err("MNIST labels are not classes".into()),
    };
    Ok((ds.features().to_vec(), labels))
}

/// A LeNet trained one epoch (Adam 2e-3, batch 64) on `images`; prints its test accuracy.
fn train_lenet(
    train: &(Vec<f32>, Vec<f32>),
    test: &(Vec<f32>, Vec<f32>),
    rng: &mut Rng,
) -> Res<LeNet> {
    let net = LeNet::new(10, rng);
    let mut opt = Optimizer::with_params(Adam::new(2e-3), &net.parameters())?;
    let n = train.1.len();
    let order = rng.permutation(n);
    for batch in order.chunks_exact(64) {
        let x: Vec<f32> = batch
            .iter()
            .flat_map(|&i| train.0[i * 784..(i + 1) * 784].iter().copied())
            .collect();
        let y: Vec<f32> = batch.iter().map(|&i| train.1[i]).collect();
        let logits = net.forward(&Tensor::from_vec(x, &[64, 1, 28, 28])?)?;
        logits
            .cross_entropy(&Tensor::from_vec(y, &[64])?, true)?
            .backward()?;
        opt.step()?;
        opt.zero_grad();
    }
    let x = Tensor::from_vec(test.0.clone(), &[test.1.len(), 1, 28, 28])?;
    let mut correct = 0;
    for start in (0..test.1.len()).step_by(1000) {
        let logits: Vec<f32> = no_grad(|| net.forward(&x.narrow(0, start, 1000)?))?.to_vec()?;
        for (k, row) in logits.chunks(10).enumerate() {
            let best = (0..10)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            correct += usize::from(best as f32 == test.1[start + k]);
        }
    }
    println!(
        "LeNet feature network: test accuracy {:.2}%",
        100.0 * correct as f64 / test.1.len() as f64
    );
    Ok(net)
}

/// `n` generated digits with pixels in [0, 1], `n x 784`.
fn generate(gan: &WganGp, n: usize, rng: &mut Rng) -> Res<Vec<f32>> {
    Ok(gan
        .sample(n, rng)?
        .iter()
        .map(|&v| (0.5 * (v + 1.0)) as f32)
        .collect())
}

fn features(net: &LeNet, px: &[f32]) -> Res<Vec<f64>> {
    Ok(lenet_features(
        net,
        &Tensor::from_vec(px.to_vec(), &[px.len() / 784, 1, 28, 28])?,
    )?)
}

fn main() -> Res<()> {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let start = Instant::now();
    let (train, test) = (mnist(Split::Train)?, mnist(Split::Test)?);
    let mut rng = Rng::seed(0);
    let net = train_lenet(&train, &test, &mut rng)?;
    let test_features = features(&net, &test.0[..N_FD * 784])?;
    let floor = frechet_distance(&features(&net, &train.0[..N_FD * 784])?, &test_features, 84)?;
    let config = WganGpConfig {
        latent: 64,
        hidden: 256,
        lr: 2e-4,
        batch: 64,
        tanh_output: true,
        ..WganGpConfig::new(784)
    };
    let mut gan = WganGp::new(&config, &mut rng)?;
    let fd = |gan: &WganGp, rng: &mut Rng| -> Res<f64> {
        Ok(frechet_distance(
            &features(&net, &generate(gan, N_FD, rng)?)?,
            &test_features,
            84,
        )?)
    };
    let grid = ImageGrid::new(28, 28, 8);
    let untrained_grid = grid.tile(&generate(&gan, 64, &mut rng)?)?;
    let untrained = fd(&gan, &mut rng)?;
    println!("Fréchet distance to the test set: training digits {floor:.2} (floor), untrained generator {untrained:.2}");
    let n_train = train.1.len();
    let mut real = |n: usize, rng: &mut Rng| -> Vec<f64> {
        (0..n)
            .flat_map(|_| {
                let i = rng.below(n_train);
                train.0[i * 784..(i + 1) * 784]
                    .iter()
                    .map(|&p| 2.0 * p as f64 - 1.0)
            })
            .collect()
    };
    let gan_start = Instant::now();
    let (mut critic_curve, mut generator_curve) = (Vec::new(), Vec::new());
    let mut fd_curve = vec![(0.0, untrained)];
    let (mut critic_sum, mut generator_sum) = (0.0, 0.0);
    for step in 1..=steps {
        let (critic, generator) = gan.train_step(&mut real, &mut rng)?;
        (critic_sum, generator_sum) = (critic_sum + critic, generator_sum + generator);
        if step % 20 == 0 || step == steps {
            // means over the steps since the last point
            let since = (step - 1) % 20 + 1;
            critic_curve.push((step as f64, critic_sum / since as f64));
            generator_curve.push((step as f64, generator_sum / since as f64));
            (critic_sum, generator_sum) = (0.0, 0.0);
        }
        if step % 500 == 0 || step == steps {
            let d = fd(&gan, &mut rng)?;
            let secs = gan_start.elapsed().as_secs_f64();
            println!("step {step:5}: critic {critic:7.3} generator {generator:7.3} | Fréchet distance {d:.2} ({secs:.0} s)");
            fd_curve.push((step as f64, d));
        }
    }
    let samples = grid.tile(&generate(&gan, 64, &mut rng)?)?;
    let dir = "runs/wgan_gp_mnist";
    std::fs::create_dir_all(dir)?;
    std::fs::write(format!("{dir}/samples.png"), samples.png())?;
    std::fs::write(format!("{dir}/untrained.png"), untrained_grid.png())?;
    let last = fd_curve.last().map_or(f64::NAN, |p| p.1);
    let mut fd_chart = lines(
        "Fréchet distance to the test digits (LeNet features)",
        "generator step",
        &[("generated digits", &fd_curve)],
    );
    fd_chart
        .thresholds
        .push((floor, "training digits (floor)".into()));
    let mut report = Report::new("WGAN-GP on MNIST");
    report
        .figures(
            "Summary",
            &[
                ("model", "MLP generator z (64) -> 256 x3 -> 784 tanh, critic 784 -> 256 x3 -> 1".into()),
                ("training", format!("{steps} generator steps, 5 critic steps each, Adam 2e-4 (0.5, 0.9), λ = 10, batch 64")),
                ("Fréchet distance", format!("{last:.2} (untrained generator {untrained:.2}; training digits {floor:.2}, the floor), {N_FD} digits a side, LeNet's 84 features")),
                ("time", format!("{:.0} s", start.elapsed().as_secs_f64())),
            ],
        )
        .charts(
            "Training",
            vec![
                lines(
                    "Losses (means over 20 steps)",
                    "generator step",
                    &[("critic (with penalty)", &critic_curve), ("generator", &generator_curve)],
                ),
                fd_chart,
            ],
        )
        .images("Samples", &[(&format!("64 samples after {steps} steps"), &samples)])
        .images("Untrained generator", &[("64 samples before training", &untrained_grid)]);
    let path = report.write(dir.as_ref())?;
    println!(
        "wrote {} and {dir}/{{samples.png,untrained.png}} ({:.0} s in all)",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
