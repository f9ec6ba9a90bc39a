//! The generative models learn, on budgets that run in seconds: a VAE on 1,000 shipped MNIST
//! digits, a DDPM on the swiss roll, a WGAN-GP on the 8-Gaussian ring; and each writes the
//! report its example writes (curves, image grids or samples over the data).

use gradus_data::mnist::{load, Split};
use gradus_generative::report::{lines, scatter_svg, ImageGrid, Report};
use gradus_generative::{
    mode_coverage, sliced_wasserstein, toy, Ddpm, DdpmConfig, Vae, WganGp, WganGpConfig,
};
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{DType, Rng, Tensor};

/// The first `n` test digits from the repository's data/mnist, binarized at 0.5, as `[n, 784]`.
fn binarized_digits(skip: usize, n: usize) -> Tensor {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
    let ds = load(dir, Split::Test).unwrap();
    let px: Vec<f32> = ds.features()[skip * 784..(skip + n) * 784]
        .iter()
        .map(|&p| if p > 0.5 { 1.0 } else { 0.0 })
        .collect();
    Tensor::from_vec(px, &[n, 784]).unwrap()
}

/// Writes `report` into a fresh folder and checks the file holds `pngs` PNG images as data URIs
/// and `svgs` inline SVG figures, and nothing loaded from elsewhere.
fn check_report(report: &Report, pngs: usize, svgs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = report.write(&dir.path().join("run")).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    // base64 of the PNG signature: iVBORw0KGgo
    assert_eq!(
        html.matches("src=\"data:image/png;base64,iVBORw0KGgo")
            .count(),
        pngs
    );
    assert_eq!(html.matches("<svg").count(), svgs);
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
}

#[test]
fn vae_elbo_on_held_out_digits_rises_past_a_bound() {
    let train = binarized_digits(0, 1000);
    let held_out = binarized_digits(1000, 300);
    let mut rng = Rng::seed(0);
    let vae = Vae::new(784, 64, 20, &mut rng);
    let mut opt = Optimizer::with_params(Adam::new(3e-3), &vae.parameters()).unwrap();
    let elbo =
        |vae: &Vae, rng: &mut Rng| no_grad(|| vae.elbo(&held_out, rng).unwrap().item().unwrap());
    let before = elbo(&vae, &mut rng);
    for _epoch in 0..4 {
        for b in 0..20 {
            let x = train.narrow(0, b * 50, 50).unwrap();
            let loss = vae.elbo(&x, &mut rng).unwrap().neg().unwrap();
            loss.backward().unwrap();
            opt.step().unwrap();
            opt.zero_grad();
        }
    }
    let after = elbo(&vae, &mut rng);
    // the example's report: the ELBO curve, held-out digits next to their reconstructions and
    // samples
    let grid = ImageGrid::new(28, 28, 8);
    let originals = held_out.narrow(0, 0, 16).unwrap().contiguous().unwrap();
    let recon = no_grad(|| vae.forward(&originals)).unwrap();
    let samples = vae.sample(16, &mut rng).unwrap();
    let tile = |t: &Tensor| grid.tile(&t.to_vec::<f32>().unwrap()).unwrap();
    let mut report = Report::new("VAE");
    report
        .charts(
            "Training",
            vec![lines(
                "ELBO",
                "epoch",
                &[("held out", &[(0.0, before), (4.0, after)])],
            )],
        )
        .images(
            "Reconstructions",
            &[
                ("digits", &tile(&originals)),
                ("reconstructions", &tile(&recon)),
            ],
        )
        .images("Samples", &[("samples", &tile(&samples))]);
    check_report(&report, 3, 1);
    // an untrained decoder pays about 784 ln 2 = 543 nats; a mean-pixel model about 200
    assert!(before < -500.0, "ELBO before training {before}");
    eprintln!("VAE held-out ELBO: {before:.1} -> {after:.1} nats");
    // above -200: better than the best model that ignores the latent code (each pixel its own
    // Bernoulli at its mean: about -206 nats on binarized MNIST)
    assert!(
        after > -200.0,
        "held-out ELBO after 80 steps {after} (before {before})"
    );
}

#[test]
fn ddpm_samples_approach_the_swiss_roll() {
    let mut rng = Rng::seed(1);
    let config = DdpmConfig {
        hidden: 64,
        ..DdpmConfig::new(2)
    };
    let mut ddpm = Ddpm::new(&config, &mut rng).unwrap();
    for _ in 0..1500 {
        let x: Vec<f32> = toy::swiss_roll(128, &mut rng)
            .iter()
            .map(|&v| v as f32)
            .collect();
        ddpm.train_step(&Tensor::from_vec(x, &[128, 2]).unwrap(), &mut rng)
            .unwrap();
    }
    let n = 1000;
    let data = toy::swiss_roll(n, &mut rng);
    let noise = rng
        .normal(&[n, 2], 0.0, 1.0, DType::F64)
        .to_vec::<f64>()
        .unwrap();
    let samples = ddpm.sample(n, &mut rng).unwrap();
    let sw = |x: &[f64], rng: &mut Rng| sliced_wasserstein(x, &data, 2, 128, rng).unwrap();
    let (from_noise, from_model) = (sw(&noise, &mut rng), sw(&samples, &mut rng));
    let floor = sw(&toy::swiss_roll(n, &mut rng), &mut rng); // two draws of the data
    let mut report = Report::new("DDPM");
    report
        .charts(
            "Training",
            vec![lines(
                "Sliced W2",
                "step",
                &[("samples", &[(1500.0, from_model)])],
            )],
        )
        .svg(
            "Samples over the data",
            &scatter_svg("samples", &data, &samples, 440.0).unwrap(),
        );
    check_report(&report, 0, 2);
    eprintln!("DDPM sliced W2: model {from_model:.3}, noise {from_noise:.3}, data {floor:.3}");
    assert!(
        from_model < 0.5 * from_noise,
        "sliced W2: model {from_model}, noise {from_noise}, data vs data {floor}"
    );
}

/// The mean distance of `(n, 2)` samples from the ring of radius 2 the 8 modes sit on.
fn off_ring(samples: &[f64]) -> f64 {
    let n = samples.len() / 2;
    samples
        .chunks(2)
        .map(|p| (p[0].hypot(p[1]) - 2.0).abs())
        .sum::<f64>()
        / n as f64
}

#[test]
fn wgan_gp_moves_samples_onto_the_ring() {
    // the full run (examples/wgan_gp_8gaussians.rs) is scored by modes covered; a debug-build
    // test affords 150 generator steps, enough to pull the samples onto the ring of modes
    let mut rng = Rng::seed(2);
    let config = WganGpConfig {
        hidden: 64,
        lr: 1e-3,
        batch: 128,
        ..WganGpConfig::new(2)
    };
    let mut gan = WganGp::new(&config, &mut rng).unwrap();
    let before = off_ring(&gan.sample(1000, &mut rng).unwrap());
    let mut real = |n, rng: &mut Rng| toy::eight_gaussians(n, rng);
    for _ in 0..150 {
        gan.train_step(&mut real, &mut rng).unwrap();
    }
    let samples = gan.sample(1000, &mut rng).unwrap();
    let after = off_ring(&samples);
    let m = mode_coverage(
        &samples,
        &toy::eight_gaussian_centers(),
        toy::EIGHT_GAUSSIANS_STD,
    )
    .unwrap();
    let mut report = Report::new("WGAN-GP");
    report
        .charts(
            "Training",
            vec![lines(
                "Modes covered",
                "generator step",
                &[("modes", &[(150.0, m.modes_covered as f64)])],
            )],
        )
        .svg(
            "Samples over the data",
            &scatter_svg(
                "samples",
                &toy::eight_gaussians(1000, &mut rng),
                &samples,
                440.0,
            )
            .unwrap(),
        );
    check_report(&report, 0, 2);
    eprintln!("WGAN-GP off-ring distance {before:.3} -> {after:.3}; {m:?}");
    assert!(
        after < 0.5 * before,
        "mean distance from the ring {before} -> {after}"
    );
}
