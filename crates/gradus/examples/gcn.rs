//! A two-layer GCN (Kipf & Welling 2017) on three graphs:
//!
//! 1. Zachary's karate club (`data/karate/`) with 4 labelled members: accuracy on the other 30;
//! 2. a Cora-sized stochastic block model (2,708 nodes, 7 classes, Cora's homophily, the
//!    Planetoid split 140 / 500 / 1000) against the same model without edges (an MLP);
//! 3. a 100,000-node stochastic block model, to show that the sparse adjacency product scales:
//!    seconds per full-batch epoch.
//!
//! ```text
//! cargo run --release -p gradus --example gcn -- [EPOCHS=200]
//! ```
use gradus_graph::{
    fit_gcn, gcn_norm, load_karate, stochastic_block_model, GcnConfig, NodeData, SbmConfig,
};
use std::error::Error;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let cfg = GcnConfig {
        epochs,
        ..Default::default()
    };

    let club = load_karate("data/karate")?;
    let r = fit_gcn(&club, &cfg)?;
    println!(
        "karate club: 4 labelled, test accuracy {:.3} on 30 members",
        r.final_test_accuracy
    );

    let g = stochastic_block_model(&SbmConfig::default())?;
    let start = Instant::now();
    let r = fit_gcn(&g, &cfg)?;
    let secs = start.elapsed().as_secs_f64();
    let no_graph = NodeData {
        adj: gcn_norm(g.labels.len(), &[], true)?,
        ..g.clone()
    };
    let mlp = fit_gcn(&no_graph, &cfg)?;
    println!(
        "SBM 2,708 nodes: GCN test accuracy {:.3} (best val {:.3} at epoch {}), same model without edges {:.3}; {secs:.2} s for {epochs} epochs",
        r.test_accuracy, r.val_accuracy, r.best_epoch, mlp.test_accuracy
    );

    let big = SbmConfig {
        nodes: 100_000,
        avg_degree: 10.0,
        ..Default::default()
    };
    let start = Instant::now();
    let g = stochastic_block_model(&big)?;
    let built = start.elapsed().as_secs_f64();
    let big_epochs = epochs.min(20);
    let start = Instant::now();
    let r = fit_gcn(
        &g,
        &GcnConfig {
            epochs: big_epochs,
            ..cfg
        },
    )?;
    let per_epoch = start.elapsed().as_secs_f64() / big_epochs as f64;
    println!(
        "SBM 100,000 nodes, {} stored entries in Â: built in {built:.2} s; {per_epoch:.3} s per epoch (forward, backward, Adam, evaluation); test accuracy {:.3} after {big_epochs} epochs",
        g.adj.nnz(),
        r.final_test_accuracy
    );
    Ok(())
}
