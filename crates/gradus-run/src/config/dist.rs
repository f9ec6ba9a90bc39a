//! The `[distributed]` and `[federated]` sections of a run's config, and their rules.
//!
//! | key | allowed |
//! |---|---|
//! | `distributed.bucket_cap_mb` | > 0 (default 25, PyTorch DDP's) |
//! | `distributed.deterministic` | true (default: sums in rank order, the same bits on every rank and run), false (MPI's own all-reduce) |
//! | `distributed.overlap` | true (default: each bucket's all-reduce starts during backward, as soon as its gradients are final), false (after backward) |
//! | `distributed.timeout_s` | > 0 (default 1800, PyTorch's gloo/NCCL default: a collective waiting longer ends the job) |
//! | `federated.clients` | at least 1, at most the training samples |
//! | `federated.fraction` | in (0, 1] |
//! | `federated.rounds`, `federated.local_epochs`, `federated.local_batch` | at least 1 |
//! | `federated.partition` | iid, shards (the paper's non-IID: by label), dirichlet |
//! | `federated.shards_per_client` | at least 1 (shards only; default 2) |
//! | `federated.alpha` | > 0 (dirichlet only; default 0.5) |
//! | `federated.mu` | >= 0 (FedProx; 0: FedAvg) |
//! | `federated.lr` | > 0 (the clients' SGD) |
//!
//! `[federated]` needs classification data and does not go with `[distributed]`.

use super::check::{
    Bound::{Closed, Open, Unbounded},
    Checker,
};
use serde::{Deserialize, Serialize};

/// How `mpirun -np N gradus train` averages gradients (used only under MPI).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistributedConfig {
    /// Largest all-reduce bucket, in MB.
    #[serde(default = "default_cap")]
    pub bucket_cap_mb: f64,
    /// Sum in rank order (the same bits on every rank and run) rather than MPI's order.
    #[serde(default = "default_true")]
    pub deterministic: bool,
    /// Start each bucket's all-reduce during backward, as soon as its gradients are final.
    #[serde(default = "default_true")]
    pub overlap: bool,
    /// Seconds a collective waits for the other ranks before the job ends (a rank died or
    /// hangs).
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
}

impl Default for DistributedConfig {
    fn default() -> Self {
        DistributedConfig {
            bucket_cap_mb: default_cap(),
            deterministic: true,
            overlap: true,
            timeout_s: default_timeout(),
        }
    }
}

fn default_timeout() -> f64 {
    1800.0
}

fn default_cap() -> f64 {
    gradus_dist::bucket::DEFAULT_BUCKET_CAP_MB
}
fn default_true() -> bool {
    true
}

/// Federated averaging (McMahan et al. 2017) instead of ordinary training.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FederatedConfig {
    /// K: clients the training data is dealt to.
    pub clients: usize,
    /// C: fraction of clients that train each round.
    pub fraction: f64,
    /// Communication rounds.
    pub rounds: usize,
    /// E: local epochs per round.
    pub local_epochs: usize,
    /// B: local mini-batch size.
    pub local_batch: usize,
    /// The clients' SGD learning rate.
    pub lr: f64,
    /// "iid", "shards" or "dirichlet".
    #[serde(default = "default_partition")]
    pub partition: String,
    /// Shards per client ("shards").
    #[serde(default)]
    pub shards_per_client: Option<usize>,
    /// Dirichlet concentration α ("dirichlet").
    #[serde(default)]
    pub alpha: Option<f64>,
    /// FedProx's proximal weight μ.
    #[serde(default)]
    pub mu: f64,
}

fn default_partition() -> String {
    "iid".into()
}

impl FederatedConfig {
    /// The partition the section names (after validation).
    pub fn partition(&self) -> gradus_dist::fedavg::Partition {
        use gradus_dist::fedavg::Partition;
        match self.partition.as_str() {
            "shards" => Partition::Shards {
                shards_per_client: self.shards_per_client.unwrap_or(2),
            },
            "dirichlet" => Partition::Dirichlet {
                alpha: self.alpha.unwrap_or(0.5),
            },
            _ => Partition::Iid,
        }
    }

    /// The FedAvg settings.
    pub fn fedavg(&self) -> gradus_dist::fedavg::FedAvg {
        gradus_dist::fedavg::FedAvg {
            clients: self.clients,
            fraction: self.fraction,
            local_epochs: self.local_epochs,
            local_batch: self.local_batch,
            mu: self.mu,
        }
    }
}

pub(super) fn check_distributed(c: &mut Checker, d: &DistributedConfig) {
    let DistributedConfig {
        bucket_cap_mb,
        deterministic: _, // any
        overlap: _,       // any
        timeout_s,
    } = d;
    c.real(
        "distributed.bucket_cap_mb",
        *bucket_cap_mb,
        Open(0.0),
        Unbounded,
    );
    c.real("distributed.timeout_s", *timeout_s, Open(0.0), Unbounded);
}

pub(super) fn check_federated(c: &mut Checker, f: &FederatedConfig, task: &str) {
    let FederatedConfig {
        clients,
        fraction,
        rounds,
        local_epochs,
        local_batch,
        lr,
        partition,
        shards_per_client,
        alpha,
        mu,
    } = f;
    if task != "classification" {
        c.fail(
            "federated",
            format!("needs classification data (label partitions), got task \"{task}\""),
        );
    }
    c.at_least("federated.clients", *clients as u64, 1);
    c.real("federated.fraction", *fraction, Open(0.0), Closed(1.0));
    c.at_least("federated.rounds", *rounds as u64, 1);
    c.at_least("federated.local_epochs", *local_epochs as u64, 1);
    c.at_least("federated.local_batch", *local_batch as u64, 1);
    c.real("federated.lr", *lr, Open(0.0), Unbounded);
    c.real("federated.mu", *mu, Closed(0.0), Unbounded);
    c.one_of(
        "federated.partition",
        partition,
        &["iid", "shards", "dirichlet"],
    );
    if let Some(s) = shards_per_client {
        c.at_least("federated.shards_per_client", *s as u64, 1);
    }
    if let Some(a) = alpha {
        c.real("federated.alpha", *a, Open(0.0), Unbounded);
    }
    let shards = partition == "shards";
    let dirichlet = partition == "dirichlet";
    c.unused(
        "federated.shards_per_client",
        shards_per_client.is_some() && !shards,
        &format!("federated.partition = \"{partition}\""),
        "shards",
    );
    c.unused(
        "federated.alpha",
        alpha.is_some() && !dirichlet,
        &format!("federated.partition = \"{partition}\""),
        "dirichlet",
    );
}
