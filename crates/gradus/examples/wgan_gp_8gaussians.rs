//! WGAN-GP (Gulrajani et al. 2017) on the ring of 8 Gaussians (std 0.02, radius 2): prints modes
//! covered and the fraction of high-quality samples (within 3 std of a centre) as it trains;
//! writes samples to runs/wgan_gp_8gaussians/samples.csv.
//!
//! ```text
//! cargo run --release -p gradus --example wgan_gp_8gaussians -- [GENERATOR_STEPS=5000]
//! ```
use gradus::prelude::*;
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
    for step in 1..=steps {
        let (critic, generator) = gan.train_step(&mut real, &mut rng)?;
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
        }
    }
    std::fs::create_dir_all("runs/wgan_gp_8gaussians")?;
    let csv: String = gan
        .sample(2500, &mut rng)?
        .chunks(2)
        .map(|p| format!("{},{}\n", p[0], p[1]))
        .collect();
    std::fs::write("runs/wgan_gp_8gaussians/samples.csv", format!("x,y\n{csv}"))?;
    Ok(())
}
