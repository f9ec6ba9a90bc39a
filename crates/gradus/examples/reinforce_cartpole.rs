//! REINFORCE with a learned baseline on CartPole-v1, until solved (mean return ≥ 475 over the
//! last 100 episodes), over several seeds.
//!
//! ```text
//! cargo run --release -p gradus --example reinforce_cartpole -- [SEEDS=5]
//! ```
use gradus_rl::{train, CartPole, ReinforceConfig};
use std::time::Instant;

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut solved = Vec::new();
    for seed in 0..seeds {
        let config = ReinforceConfig {
            seed,
            ..ReinforceConfig::default()
        };
        let start = Instant::now();
        let report = train(&mut CartPole::new(), &config, |log| {
            if log.episode % 50 == 0 {
                println!(
                    "seed {seed} episode {:4}: return {:5.0}, mean of last 100 {:6.1}",
                    log.episode, log.episode_return, log.mean_return
                );
            }
        });
        match report {
            Ok(r) => {
                let secs = start.elapsed().as_secs_f64();
                match r.solved_at {
                    Some(e) => println!("seed {seed}: solved at episode {e} in {secs:.1} s"),
                    None => println!(
                        "seed {seed}: not solved in {} episodes ({secs:.1} s)",
                        r.returns.len()
                    ),
                }
                solved.push(r.solved_at);
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    let mut eps: Vec<usize> = solved.iter().flatten().copied().collect();
    eps.sort_unstable();
    if !eps.is_empty() {
        println!(
            "solved {}/{} seeds; median episodes to solve {}",
            eps.len(),
            solved.len(),
            eps[eps.len() / 2]
        );
    }
}
