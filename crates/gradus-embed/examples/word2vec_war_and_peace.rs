//! Skip-gram with negative sampling (word2vec, Mikolov et al. 2013) on War and Peace, with
//! sparse embedding gradients and SparseAdam: prints words per second, the loss and the nearest
//! neighbours of a few words.
//!
//! ```text
//! cargo run --release -p gradus-embed --example word2vec_war_and_peace -- [TEXT] [EPOCHS] [OPT] [THREADS]
//! ```
//! `TEXT` defaults to the shipped opening (`data/war-and-peace/excerpt.txt`, 52,000 words); the
//! whole novel is Project Gutenberg eBook #2600 (its START/END lines are cut off here).
//! `EPOCHS` defaults to 3. `OPT` is `sgd` (default: word2vec's per-pair SGD, rate 0.025 falling to
//! 0.0001, as gensim) or `adam` (SparseAdam, rate 0.01, on batches of 1024 pairs from the
//! fused gradient, pairs in parallel). `THREADS` (default: `RAYON_NUM_THREADS`, else all cores):
//! `sgd` on 1 thread is deterministic, on more runs Hogwild as gensim's `workers`; `adam` runs
//! on rayon's pool (`RAYON_NUM_THREADS`). `bench/word2vec_gensim.py` runs gensim on the same
//! text and settings.
use gradus_embed::{tokenize, train_skipgram, SkipGramConfig, SkipGramOptimizer};
use std::error::Error;
use std::time::Instant;

/// The words whose neighbours are printed.
const WORDS: [&str; 6] = ["prince", "war", "moscow", "natasha", "french", "pierre"];

/// The text between a Project Gutenberg file's START and END lines (all of it when absent).
fn gutenberg_body(text: &str) -> &str {
    let body = match text.find("*** START OF") {
        Some(s) => text[s..].split_once('\n').map_or("", |(_, rest)| rest),
        None => text,
    };
    body.find("*** END OF").map_or(body, |e| &body[..e])
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .map_or("data/war-and-peace/excerpt.txt", String::as_str);
    let epochs: usize = match args.get(1) {
        Some(s) => s.parse().map_err(|e| format!("EPOCHS `{s}`: {e}"))?,
        None => 3,
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let tokens = tokenize(gutenberg_body(&text));
    let (optimizer, lr) = match args.get(2).map_or("sgd", String::as_str) {
        "sgd" => (SkipGramOptimizer::Sgd { min_lr: 1e-4 }, 0.025),
        "adam" => (SkipGramOptimizer::SparseAdam, 0.01),
        other => return Err(format!("OPT `{other}`: expected sgd or adam").into()),
    };
    let threads = match args
        .get(3)
        .or(std::env::var("RAYON_NUM_THREADS").ok().as_ref())
    {
        Some(s) => s.parse().map_err(|e| format!("THREADS `{s}`: {e}"))?,
        None => SkipGramConfig::default().threads,
    };
    let cfg = SkipGramConfig {
        epochs,
        optimizer,
        lr,
        threads,
        ..Default::default()
    };
    let start = Instant::now();
    let r = train_skipgram(&tokens, &cfg)?;
    let secs = start.elapsed().as_secs_f64();
    let n = r.losses.len();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    println!(
        "{path}: {} tokens, vocabulary {} (min_count {}), dim {}, window {}, {} negatives, \
         {epochs} epochs, {optimizer:?} lr {lr}, {} threads",
        tokens.len(),
        r.vectors.vocab().len(),
        cfg.min_count,
        cfg.dim,
        cfg.window,
        cfg.negatives,
        cfg.threads
    );
    println!(
        "gradus {:.0} words/s ({} words, {} pairs in {secs:.1} s); loss {:.3} (first 100 \
         steps) -> {:.3} (last 100)",
        r.words as f64 / secs,
        r.words,
        r.pairs,
        mean(&r.losses[..n.min(100)]),
        mean(&r.losses[n.saturating_sub(100)..])
    );
    for w in WORDS {
        let Ok(nn) = r.vectors.nearest(w, 6) else {
            println!("{w:>8}: (not in the vocabulary)");
            continue;
        };
        let list: Vec<String> = nn.iter().map(|(x, s)| format!("{x} {s:.2}")).collect();
        println!("{w:>8}: {}", list.join(", "));
    }
    Ok(())
}
