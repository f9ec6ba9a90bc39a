//! The GCN learns: on Zachary's karate club from 4 labelled members, and on a Cora-sized
//! stochastic block model from 20 labels per class, it classifies held-out nodes far above
//! chance after a short run.

use gradus_graph::{
    fit_gcn, gcn_norm, load_karate, stochastic_block_model, GcnConfig, NodeData, SbmConfig,
};
use std::path::Path;

#[test]
fn karate_club_factions_from_four_labelled_members() {
    let club =
        load_karate(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/karate")).unwrap();
    let cfg = GcnConfig {
        epochs: 100,
        ..Default::default()
    };
    let r = fit_gcn(&club, &cfg).unwrap();
    assert!(r.losses.last().unwrap() < &r.losses[0]);
    // chance is 50%; the two factions follow the friendship graph closely
    assert!(
        r.final_test_accuracy >= 0.8,
        "test accuracy {}",
        r.final_test_accuracy
    );
}

#[test]
fn sbm_nodes_far_above_chance_and_above_the_features_alone() {
    let g = stochastic_block_model(&SbmConfig::default()).unwrap();
    let cfg = GcnConfig {
        epochs: 60,
        ..Default::default()
    };
    let r = fit_gcn(&g, &cfg).unwrap();
    // 7 classes: chance is about 14%
    assert!(r.test_accuracy > 0.6, "test accuracy {}", r.test_accuracy);
    // the same model without edges (Â = I) is an MLP on the features alone
    let no_graph = NodeData {
        adj: gcn_norm(g.labels.len(), &[], true).unwrap(),
        ..g.clone()
    };
    let mlp = fit_gcn(&no_graph, &cfg).unwrap();
    assert!(
        r.test_accuracy > mlp.test_accuracy + 0.1,
        "GCN {} vs features alone {}",
        r.test_accuracy,
        mlp.test_accuracy
    );
}
