//! WGAN-GP (Gulrajani et al. 2017) on the ring of 8 Gaussians (std 0.02, radius 2): prints modes
//! covered and the fraction of high-quality samples (within 3 std of a centre) as it trains;
//! writes runs/wgan_gp_8gaussians/report.html (the losses, modes covered and high-quality
//! fraction over the steps, samples drawn over the data) and the samples as samples.csv.
//!
//! ```text
//! cargo run --release -p gradus --example wgan_gp_8gaussians -- [GENERATOR_STEPS=5000]
//! ```
use gradus::prelude::*;
use gradus_generative::report::{lines, scatter_svg, Report};
use gradus_generative::{mode_coverage, toy, WganGp, WganGpConfig};
use std::error::Error;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let mut rng = Rng::seed(0);
    let mut gan = WganGp::new(&WganGpConfig::new(2), &mut rng)?;
    let centers = toy::eight_gaussian_centers();
    let start = Instant::now();
    let mut real = |n, rng: &mut Rng| toy::eight_gaussians(n, rng);
    let (mut critic_curve, mut generator_curve) = (Vec::new(), Vec::new());
    let (mut modes_curve, mut quality_curve) = (Vec::new(), Vec::new());
    let (mut critic_sum, mut generator_sum) = (0.0, 0.0);
    for step in 1..=steps {
        let (critic, generator) = gan.train_step(&mut real, &mut rng)?;
        (critic_sum, generator_sum) = (critic_sum + critic, generator_sum + generator);
        if step % 50 == 0 || step == steps {
            // means over the steps since the last point
            let since = (step - 1) % 50 + 1;
            critic_curve.push((step as f64, critic_sum / since as f64));
            generator_curve.push((step as f64, generator_sum / since as f64));
            (critic_sum, generator_sum) = (0.0, 0.0);
        }
        if step % 500 == 0 || step == steps {
            let m = mode_coverage(
                &gan.sample(2500, &mut rng)?,
                &centers,
                toy::EIGHT_GAUSSIANS_STD,
            )?;
            println!(
                "step {step:5}: critic {critic:7.3} generator {generator:7.3} | modes {}/8, high quality {:.1}% ({:.0} s)",
                m.modes_covered,
                100.0 * m.high_quality,
                start.elapsed().as_secs_f64()
            );
            modes_curve.push((step as f64, m.modes_covered as f64));
            quality_curve.push((step as f64, 100.0 * m.high_quality));
        }
    }
    let dir = "runs/wgan_gp_8gaussians";
    std::fs::create_dir_all(dir)?;
    let samples = gan.sample(2500, &mut rng)?;
    let csv: String = samples
        .chunks(2)
        .map(|p| format!("{},{}\n", p[0], p[1]))
        .collect();
    std::fs::write(format!("{dir}/samples.csv"), format!("x,y\n{csv}"))?;
    let m = mode_coverage(&samples, &centers, toy::EIGHT_GAUSSIANS_STD)?;
    let data = toy::eight_gaussians(2500, &mut rng);
    let mut report = Report::new("WGAN-GP on the ring of 8 Gaussians");
    report
        .figures(
            "Summary",
            &[
                (
                    "data",
                    "8 Gaussians of std 0.02 on a ring of radius 2".into(),
                ),
                (
                    "training",
                    format!("{steps} generator steps (WganGpConfig::new(2))"),
                ),
                (
                    "modes covered",
                    format!("{}/8 (of 2,500 samples)", m.modes_covered),
                ),
                (
                    "high quality",
                    format!(
                        "{:.1}% of samples within 3 std of a centre",
                        100.0 * m.high_quality
                    ),
                ),
                ("time", format!("{:.0} s", start.elapsed().as_secs_f64())),
            ],
        )
        .charts(
            "Training",
            vec![
                lines(
                    "Losses (means over 50 steps)",
                    "generator step",
                    &[
                        ("critic (with penalty)", &critic_curve),
                        ("generator", &generator_curve),
                    ],
                ),
                lines(
                    "Modes covered (of 8)",
                    "generator step",
                    &[("modes", &modes_curve)],
                ),
                lines(
                    "High-quality samples (%)",
                    "generator step",
                    &[("within 3 std of a centre", &quality_curve)],
                ),
            ],
        )
        .svg(
            "Samples over the data",
            &scatter_svg(
                "2,500 samples (blue) over 2,500 data points (gray)",
                &data,
                &samples,
                440.0,
            )?,
        );
    let path = report.write(dir.as_ref())?;
    println!("wrote {} and {dir}/samples.csv", path.display());
    Ok(())
}
