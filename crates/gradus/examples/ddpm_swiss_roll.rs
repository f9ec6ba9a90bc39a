//! A DDPM (Ho et al. 2020; 100 steps, MLP noise predictor) on the 2-D swiss roll: prints the
//! sliced Wasserstein distance of its samples to fresh data, next to that of a second data draw
//! (the floor) and of Gaussian noise; writes samples to runs/ddpm_swiss_roll/samples.csv.
//!
//! ```text
//! cargo run --release -p gradus --example ddpm_swiss_roll -- [STEPS=10000]
//! ```
use gradus::prelude::*;
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
    for step in 1..=steps {
        let x: Vec<f32> = toy::swiss_roll(256, &mut rng)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let loss = ddpm.train_step(&Tensor::from_vec(x, &[256, 2])?, &mut rng)?;
        if step % 1000 == 0 {
            println!(
                "step {step:6}: loss {loss:.4} ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    }
    let n = 5000;
    let data = toy::swiss_roll(n, &mut rng);
    let samples = ddpm.sample(n, &mut rng)?;
    let noise = rng.normal(&[n, 2], 0.0, 1.0, DType::F64).to_vec::<f64>()?;
    let floor = toy::swiss_roll(n, &mut rng);
    for (name, x) in [
        ("DDPM samples", &samples),
        ("second data draw", &floor),
        ("N(0, I) noise", &noise),
    ] {
        println!(
            "sliced W2 to the data, {name}: {:.4}",
            sliced_wasserstein(x, &data, 2, 256, &mut rng)?
        );
    }
    std::fs::create_dir_all("runs/ddpm_swiss_roll")?;
    let csv: String = samples
        .chunks(2)
        .map(|p| format!("{},{}\n", p[0], p[1]))
        .collect();
    std::fs::write("runs/ddpm_swiss_roll/samples.csv", format!("x,y\n{csv}"))?;
    Ok(())
}
