//! Federated averaging (FedAvg, McMahan et al. 2017, "Communication-Efficient Learning of Deep
//! Networks from Decentralized Data", Algorithm 1) and FedProx's proximal term (Li et al. 2020).
//!
//! K clients each hold a private part of the data ([`partition`]: IID, the paper's non-IID
//! shards by label, or Dirichlet(α) label skew). Each round the server picks `max(C·K, 1)`
//! clients ([`FedAvg::clients_of_round`]), each trains the global model for E local epochs of
//! mini-batch SGD with batch B, and the server replaces the global model with the mean of the
//! client models weighted by their sample counts ([`weighted_average`]). The local training is
//! the caller's (gradus-run trains a gradus model; tests train a closure).

use crate::error::{DistError, Result};
use gradus_nn::Param;
use gradus_tensor::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};
use rand_pcg::Pcg64;

/// How the training samples are dealt to the clients.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Partition {
    /// Shuffled, then cut into K equal parts.
    Iid,
    /// The paper's pathological non-IID split: samples sorted by label, cut into
    /// `K * shards_per_client` shards, each client given `shards_per_client` random shards
    /// (2 in the paper: most clients then see two digits).
    Shards {
        /// Shards per client.
        shards_per_client: usize,
    },
    /// For each label, its samples split among the clients in proportions drawn from
    /// Dirichlet(α) (Hsu et al. 2019); small α, strong skew.
    Dirichlet {
        /// Concentration α (> 0).
        alpha: f64,
    },
}

/// Deals the sample indices `0..labels.len()` to `clients` clients by `how`, seeded. Every index
/// goes to exactly one client; each client's indices are sorted.
///
/// # Errors
/// No client, fewer samples than clients or shards, or a non-positive α.
///
/// ```
/// use gradus_dist::fedavg::{partition, Partition};
/// let labels: Vec<usize> = (0..100).map(|i| i % 10).collect();
/// let parts = partition(&labels, 5, Partition::Shards { shards_per_client: 2 }, 0).unwrap();
/// // each client holds two shards of 10 samples, each shard of one label
/// for p in &parts {
///     let mut seen: Vec<usize> = p.iter().map(|&i| labels[i]).collect();
///     seen.sort();
///     seen.dedup();
///     assert!(p.len() == 20 && seen.len() <= 2);
/// }
/// ```
pub fn partition(
    labels: &[usize],
    clients: usize,
    how: Partition,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let n = labels.len();
    if clients == 0 || n < clients {
        return Err(DistError::Invalid(format!(
            "federated: {clients} clients for {n} samples (need at least 1 client and a sample each)"
        )));
    }
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut parts = vec![Vec::new(); clients];
    match how {
        Partition::Iid => {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(&mut rng);
            for (k, chunk) in cut(&idx, clients).into_iter().enumerate() {
                parts[k] = chunk.to_vec();
            }
        }
        Partition::Shards { shards_per_client } => {
            let shards = clients * shards_per_client;
            if shards_per_client == 0 || shards > n {
                return Err(DistError::Invalid(format!(
                    "federated.shards_per_client = {shards_per_client}: {shards} shards for {n} samples (need 1 to {} per client)",
                    n / clients
                )));
            }
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by_key(|&i| (labels[i], i));
            let pieces = cut(&idx, shards);
            let mut order: Vec<usize> = (0..shards).collect();
            order.shuffle(&mut rng);
            for (j, s) in order.into_iter().enumerate() {
                parts[j / shards_per_client].extend_from_slice(pieces[s]);
            }
        }
        Partition::Dirichlet { alpha } => dirichlet(labels, &mut parts, alpha, &mut rng)?,
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    Ok(parts)
}

/// `idx` cut into `k` consecutive parts whose sizes differ by at most one.
fn cut(idx: &[usize], k: usize) -> Vec<&[usize]> {
    let (base, extra) = (idx.len() / k, idx.len() % k);
    let mut out = Vec::with_capacity(k);
    let mut at = 0;
    for j in 0..k {
        let len = base + usize::from(j < extra);
        out.push(&idx[at..at + len]);
        at += len;
    }
    out
}

fn dirichlet(
    labels: &[usize],
    parts: &mut [Vec<usize>],
    alpha: f64,
    rng: &mut Pcg64,
) -> Result<()> {
    let gamma = Gamma::new(alpha, 1.0).map_err(|_| {
        DistError::Invalid(format!(
            "federated.alpha = {alpha}: must be a positive number"
        ))
    })?;
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    for c in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        idx.shuffle(rng);
        let w: Vec<f64> = (0..parts.len()).map(|_| gamma.sample(rng)).collect();
        let total: f64 = w.iter().sum();
        let mut at = 0;
        let mut acc = 0.0;
        for (k, wk) in w.iter().enumerate() {
            acc += wk / total;
            let end = if k + 1 == parts.len() {
                idx.len()
            } else {
                ((acc * idx.len() as f64).round() as usize).clamp(at, idx.len())
            };
            parts[k].extend_from_slice(&idx[at..end]);
            at = end;
        }
    }
    Ok(())
}

/// The settings of FedAvg (the paper's K, C, E, B) and FedProx's μ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FedAvg {
    /// K: clients.
    pub clients: usize,
    /// C: fraction of the clients that train each round (at least one does).
    pub fraction: f64,
    /// E: local epochs per round.
    pub local_epochs: usize,
    /// B: local mini-batch size.
    pub local_batch: usize,
    /// FedProx's proximal weight μ (0: plain FedAvg).
    pub mu: f64,
}

impl FedAvg {
    /// Checks the settings.
    ///
    /// # Errors
    /// A value out of range, named with its config key and allowed range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DistError::Invalid(m));
        if self.clients == 0 {
            return bad("federated.clients = 0: must be at least 1".into());
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return bad(format!(
                "federated.fraction = {}: must be in (0, 1]",
                self.fraction
            ));
        }
        if self.local_epochs == 0 || self.local_batch == 0 {
            return bad(format!(
                "federated.local_epochs = {}, local_batch = {}: both must be at least 1",
                self.local_epochs, self.local_batch
            ));
        }
        if !(self.mu.is_finite() && self.mu >= 0.0) {
            return bad(format!("federated.mu = {}: must be 0 or more", self.mu));
        }
        Ok(())
    }

    /// Clients per round, `max(round(C·K), 1)`.
    pub fn per_round(&self) -> usize {
        ((self.fraction * self.clients as f64).round() as usize).clamp(1, self.clients)
    }

    /// The clients that train in `round` (sorted), drawn without replacement; a function of
    /// `seed` and `round` only.
    ///
    /// ```
    /// use gradus_dist::fedavg::FedAvg;
    /// let f = FedAvg { clients: 100, fraction: 0.1, local_epochs: 5, local_batch: 10, mu: 0.0 };
    /// let r = f.clients_of_round(3, 7);
    /// assert_eq!(r.len(), 10);
    /// assert_eq!(r, f.clients_of_round(3, 7));
    /// ```
    pub fn clients_of_round(&self, round: u64, seed: u64) -> Vec<usize> {
        let mut rng = Pcg64::seed_from_u64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut all: Vec<usize> = (0..self.clients).collect();
        all.shuffle(&mut rng);
        let mut chosen = all[..self.per_round()].to_vec();
        chosen.sort_unstable();
        chosen
    }
}

/// The mean of client models (flat parameter vectors) weighted by their sample counts,
/// `sum_k n_k w_k / sum_k n_k`, added in the order given.
///
/// # Errors
/// No model, models of different lengths, or zero total weight.
///
/// ```
/// use gradus_dist::fedavg::weighted_average;
/// let avg = weighted_average(&[(vec![0.0, 4.0], 1.0), (vec![3.0, 0.0], 3.0)]).unwrap();
/// assert_eq!(avg, vec![2.25, 1.0]);
/// ```
pub fn weighted_average(models: &[(Vec<f64>, f64)]) -> Result<Vec<f64>> {
    let Some((first, _)) = models.first() else {
        return Err(DistError::Invalid(
            "weighted_average: no client model".into(),
        ));
    };
    let total: f64 = models.iter().map(|m| m.1).sum();
    if total <= 0.0 {
        return Err(DistError::Invalid(
            "weighted_average: the clients hold no samples".into(),
        ));
    }
    let mut out = vec![0.0; first.len()];
    for (k, (w, n)) in models.iter().enumerate() {
        if w.len() != out.len() {
            return Err(DistError::LengthMismatch {
                op: "weighted_average",
                rank: k,
                got: w.len(),
                expected: out.len(),
            });
        }
        for (o, v) in out.iter_mut().zip(w) {
            *o += v * n;
        }
    }
    out.iter_mut().for_each(|o| *o /= total);
    Ok(out)
}

/// Client drift: the mean Euclidean distance of the client models from the averaged model.
pub fn client_drift(models: &[(Vec<f64>, f64)], global: &[f64]) -> f64 {
    let d: f64 = models
        .iter()
        .map(|(w, _)| {
            w.iter()
                .zip(global)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        })
        .sum();
    d / models.len().max(1) as f64
}

/// Adds FedProx's proximal gradient `μ (w - w_global)` to every parameter's gradient (the
/// gradient of `μ/2 ||w - w_global||²`); `global` is laid out as
/// [`flatten_params`](crate::bucket::flatten_params) lays the parameters out.
///
/// # Errors
/// `global` has the wrong length.
pub fn add_proximal_gradient(params: &[(String, Param)], global: &[f64], mu: f64) -> Result<()> {
    let total: usize = params.iter().map(|(_, p)| p.tensor().numel()).sum();
    if global.len() != total {
        return Err(DistError::Invalid(format!(
            "FedProx: a global model of {} values for parameters of {total}",
            global.len()
        )));
    }
    let mut at = 0;
    for (_, p) in params {
        let t = p.tensor();
        let n = t.numel();
        let w = t.to_vec_f64();
        let mut g = t.grad().map_or(vec![0.0; n], |g| g.to_vec_f64());
        for i in 0..n {
            g[i] += mu * (w[i] - global[at + i]);
        }
        at += n;
        t.set_grad(Some(Tensor::from_vec(g, t.shape())?.to_dtype(t.dtype())?));
    }
    Ok(())
}
