//! Federated averaging runs (`[federated]`): the averaged model learns on clients that each hold
//! two classes, every round is recorded in `federated.csv` and `report.html`, clients spread
//! over ranks (threads here; real MPI processes in `tests/distributed/ci.sh`) give one process's
//! model, and FedProx's proximal term holds the clients closer to the global model.

use gradus_data::{Dataset, Targets};
use gradus_dist::{Communicator, LocalGroup};
use gradus_run::federated::RoundRecord;
use gradus_run::{Config, RunBuilder};
use std::path::Path;

/// 4 Gaussian blobs in 2-D, 100 samples each, interleaved.
fn blobs() -> Dataset {
    let centers = [(-2.0f32, -2.0f32), (2.0, -2.0), (-2.0, 2.0), (2.0, 2.0)];
    let noise: Vec<f32> = gradus_tensor::Tensor::randn(&[400, 2], gradus_tensor::DType::F32, 9)
        .to_vec()
        .unwrap();
    let mut x = Vec::with_capacity(800);
    let mut labels = Vec::with_capacity(400);
    for i in 0..400 {
        let (cx, cy) = centers[i % 4];
        x.push(cx + 0.8 * noise[2 * i]);
        x.push(cy + 0.8 * noise[2 * i + 1]);
        labels.push((i % 4) as u32);
    }
    let targets = Targets::Classes {
        labels,
        num_classes: 4,
    };
    Dataset::new(x, vec![2], targets).unwrap()
}

fn config(rounds: usize, mu: f64) -> Config {
    Config::from_toml_str(&format!(
        "seed = 1\n[data]\nformat = \"csv\"\npath = \"arrays\"\ntarget = \"y\"\ntask = \"classification\"\n\
         [model]\nkind = \"mlp\"\nhidden = [16]\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n\
         [federated]\nclients = 8\nfraction = 0.5\nrounds = {rounds}\nlocal_epochs = 2\nlocal_batch = 10\n\
         lr = 0.1\npartition = \"shards\"\nshards_per_client = 2\nmu = {mu}\n"
    ))
    .unwrap()
}

/// Trains by federated averaging over `comm` (one process without one) into `out`; returns the
/// rounds and the final parameters.
fn federate(
    c: Config,
    out: &Path,
    comm: Option<&dyn Communicator>,
) -> (Vec<RoundRecord>, Vec<f64>) {
    let mut run = RunBuilder::new(c)
        .data(blobs(), None)
        .out_dir(out)
        .quiet(true)
        .build()
        .unwrap();
    let records = run.train_federated(comm).unwrap();
    let params = run
        .trainer
        .model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect();
    (records, params)
}

#[test]
fn the_averaged_model_learns_and_every_round_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (records, _) = federate(config(12, 0.0), dir.path(), None);
    assert_eq!(records.len(), 12);
    assert!(records.iter().all(|r| r.clients == 4), "{records:?}");
    let (first, last) = (&records[0], &records[11]);
    assert!(
        last.accuracy > 0.9,
        "accuracy after 12 rounds: {}",
        last.accuracy
    );
    assert!(last.loss < first.loss, "{} -> {}", first.loss, last.loss);
    let csv = std::fs::read_to_string(dir.path().join("federated.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13);
    assert!(csv.starts_with("round,clients,test_loss,test_accuracy,client_drift,seconds\n"));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let reached = gradus_run::report::federated::rounds_to(&records, 0.9).unwrap();
    assert!(
        html.contains(&format!("rounds to 90%</th><td class=\"n\">{reached}</td>")),
        "the report names round {reached} for 90%"
    );
    assert!(dir.path().join("model.safetensors").exists());
}

#[test]
fn clients_spread_over_two_ranks_give_one_process_s_model() {
    let (one_dir, two_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one, single) = federate(config(4, 0.0), one_dir.path(), None);
    let ranks: Vec<(Vec<RoundRecord>, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = LocalGroup::new(2)
            .into_iter()
            .map(|c| {
                let out = two_dir.path();
                s.spawn(move || federate(config(4, 0.0), out, Some(&c as &dyn Communicator)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (records, params) in &ranks {
        let diff = params
            .iter()
            .zip(&single)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // the ranks add their clients' models, then the ranks' sums: another summation order
        assert!(diff < 1e-9, "a rank differs from one process by {diff}");
        assert_eq!(records.len(), one.len());
    }
    assert_eq!(ranks[0].1, ranks[1].1, "every rank holds the same model");
}

#[test]
fn fedprox_holds_the_clients_closer_to_the_global_model() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let drift = |records: &[RoundRecord]| records.iter().map(|r| r.drift).sum::<f64>();
    let (fedavg, _) = federate(config(5, 0.0), a.path(), None);
    let (fedprox, _) = federate(config(5, 1.0), b.path(), None);
    assert!(
        drift(&fedprox) < 0.8 * drift(&fedavg),
        "drift with mu = 1: {}, without: {}",
        drift(&fedprox),
        drift(&fedavg)
    );
}
