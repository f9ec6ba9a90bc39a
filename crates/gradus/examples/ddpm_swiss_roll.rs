//! A DDPM (Ho et al. 2020; 100 steps, MLP noise predictor) on the 2-D swiss roll: prints the
//! sliced Wasserstein distance of its samples to fresh data, next to that of a second data draw
//! (the floor) and of Gaussian noise; writes runs/ddpm_swiss_roll/report.html (the loss and the
//! samples' sliced W2 over the steps, samples drawn over the data) and the samples as
//! samples.csv.
//!
//! ```text
//! cargo run --release -p gradus --example ddpm_swiss_roll -- [STEPS=10000]
//! ```
use gradus::prelude::*;
use gradus_generative::report::{lines, scatter_svg, Report};
use gradus_generative::{sliced_wasserstein, toy, Ddpm, DdpmConfig};
use std::error::Error;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut rng = Rng::seed(0);
    let mut ddpm = Ddpm::new(&DdpmConfig::new(2), &mut rng)?;
    let start = Instant::now();
    let (mut loss_curve, mut sw_curve) = (Vec::new(), Vec::new());
    let mut loss_sum = 0.0;
    // the looks during training draw from their own generator, so that training draws what it
    // drew without them
    let mut look_rng = Rng::seed(1);
    for step in 1..=steps {
        let x: Vec<f32> = toy::swiss_roll(256, &mut rng)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let loss = ddpm.train_step(&Tensor::from_vec(x, &[256, 2])?, &mut rng)?;
        loss_sum += loss;
        if step % 100 == 0 || step == steps {
            loss_curve.push((step as f64, loss_sum / ((step - 1) % 100 + 1) as f64));
            loss_sum = 0.0;
        }
        if step % 1000 == 0 || step == steps {
            // a quick look: 1,000 samples against 1,000 fresh data points
            let sw = sliced_wasserstein(
                &ddpm.sample(1000, &mut look_rng)?,
                &toy::swiss_roll(1000, &mut look_rng),
                2,
                128,
                &mut look_rng,
            )?;
            sw_curve.push((step as f64, sw));
            println!(
                "step {step:6}: loss {loss:.4}, sliced W2 {sw:.4} ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    }
    let n = 5000;
    let data = toy::swiss_roll(n, &mut rng);
    let samples = ddpm.sample(n, &mut rng)?;
    let noise = rng.normal(&[n, 2], 0.0, 1.0, DType::F64).to_vec::<f64>()?;
    let floor = toy::swiss_roll(n, &mut rng);
    let mut distances = Vec::new();
    for (name, x) in [
        ("DDPM samples", &samples),
        ("second data draw", &floor),
        ("N(0, I) noise", &noise),
    ] {
        let sw = sliced_wasserstein(x, &data, 2, 256, &mut rng)?;
        println!("sliced W2 to the data, {name}: {sw:.4}");
        distances.push((name, format!("{sw:.4}")));
    }
    let dir = "runs/ddpm_swiss_roll";
    std::fs::create_dir_all(dir)?;
    let csv: String = samples
        .chunks(2)
        .map(|p| format!("{},{}\n", p[0], p[1]))
        .collect();
    std::fs::write(format!("{dir}/samples.csv"), format!("x,y\n{csv}"))?;
    let mut sw_chart = lines(
        "Sliced W2 to the data (1,000 points a side)",
        "training step",
        &[("DDPM samples", &sw_curve)],
    );
    let floor_sw = sliced_wasserstein(&floor[..2000], &data[..2000], 2, 128, &mut rng)?;
    sw_chart
        .thresholds
        .push((floor_sw, "two data draws (floor)".into()));
    let mut report = Report::new("DDPM on the swiss roll");
    report
        .figures(
            "Summary",
            &[
                (
                    "model",
                    "DDPM, 100 diffusion steps, MLP noise predictor (DdpmConfig::new(2))".into(),
                ),
                ("training", format!("{steps} steps of batch 256")),
                ("time", format!("{:.0} s", start.elapsed().as_secs_f64())),
            ],
        )
        .figures(
            &format!("Sliced W2 to {n} data points (256 projections)"),
            &distances,
        )
        .charts(
            "Training",
            vec![
                lines(
                    "Loss (L_simple, means over 100 steps)",
                    "training step",
                    &[("loss", &loss_curve)],
                ),
                sw_chart,
            ],
        )
        .svg(
            "Samples over the data",
            &scatter_svg(
                "2,000 samples (blue) over 2,000 data points (gray)",
                &data,
                &samples,
                440.0,
            )?,
        );
    let path = report.write(dir.as_ref())?;
    println!("wrote {} and {dir}/samples.csv", path.display());
    Ok(())
}
