//! Skip-gram with negative sampling (word2vec, Mikolov et al. 2013) on tiny Shakespeare
//! (`data/tinyshakespeare/input.txt`), with sparse embedding gradients and SparseAdam: prints
//! words per second, the loss, nearest neighbours of a few words and an analogy.
//!
//! ```text
//! cargo run --release -p gradus --example word2vec -- [EPOCHS=3]
//! ```
use gradus_embed::{tokenize, train_skipgram, SkipGramConfig};
use std::error::Error;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let path = "data/tinyshakespeare/input.txt";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let tokens = tokenize(&text);
    let cfg = SkipGramConfig {
        epochs,
        ..Default::default()
    };
    let start = Instant::now();
    let r = train_skipgram(&tokens, &cfg)?;
    let secs = start.elapsed().as_secs_f64();
    let n = r.losses.len();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    println!(
        "{} tokens, vocabulary {} (min_count {}), dim {}, window {}, {} negatives, {epochs} epochs",
        tokens.len(),
        r.vectors.vocab().len(),
        cfg.min_count,
        cfg.dim,
        cfg.window,
        cfg.negatives
    );
    println!(
        "{:.0} words/s ({} words, {} pairs in {secs:.1} s); loss {:.3} (first 100 steps) -> {:.3} (last 100)",
        r.words as f64 / secs,
        r.words,
        r.pairs,
        mean(&r.losses[..n.min(100)]),
        mean(&r.losses[n.saturating_sub(100)..])
    );
    for w in ["king", "love", "death", "lord", "night", "father"] {
        let nn = r.vectors.nearest(w, 6)?;
        let list: Vec<String> = nn.iter().map(|(x, s)| format!("{x} {s:.2}")).collect();
        println!("{w:>8}: {}", list.join(", "));
    }
    for (a, b, c) in [("man", "king", "woman"), ("he", "his", "she")] {
        let top = r.vectors.analogy(a, b, c, 5)?;
        let list: Vec<&str> = top.iter().map(|(x, _)| x.as_str()).collect();
        println!("{a} : {b} :: {c} : {}", list.join(" / "));
    }
    Ok(())
}
