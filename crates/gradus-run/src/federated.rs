//! [`Run::train_federated`]: federated averaging (FedAvg, McMahan et al. 2017; FedProx's μ) of a
//! run whose config has a `[federated]` section, with the clients trained in turn on one
//! process or spread over MPI ranks. See [`gradus_dist::fedavg`].
//!
//! Each round writes a row of `federated.csv` (round, clients, test loss and accuracy of the
//! averaged model, client drift, seconds); the end writes `model.safetensors`, `summary.json`
//! and `report.html` (accuracy, loss and drift per round, rounds to each accuracy target).

use crate::error::{Result, RunError};
use crate::run::Run;
use gradus_data::Targets;
use gradus_dist::bucket::{flatten_params, load_flat_params};
use gradus_dist::fedavg::{add_proximal_gradient, client_drift, partition};
use gradus_dist::{Communicator, ReduceOrder, SingleProcess};
use gradus_nn::Param;
use gradus_optim::{Optimizer, Sgd};
use gradus_train::batch::to_device;
use gradus_train::TrainError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::time::Instant;

/// One round of federated averaging, as `federated.csv` records it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RoundRecord {
    /// The round (1-based).
    pub round: usize,
    /// Clients that trained in it.
    pub clients: usize,
    /// Loss of the averaged model on the test data (the validation data, else the training
    /// data, when the config has none).
    pub loss: f64,
    /// Its accuracy there.
    pub accuracy: f64,
    /// Mean distance of the round's client models from the averaged model.
    pub drift: f64,
    /// Seconds since the start.
    pub seconds: f64,
}

impl Run {
    /// Trains by federated averaging as the config's `[federated]` section says; the clients of
    /// each round are spread over the ranks of `comm` (one process trains them all in turn).
    /// Every rank ends with the same model; rank 0 writes the run directory.
    ///
    /// # Errors
    /// No `[federated]` section, data that is not classification, or a failing step or write.
    pub fn train_federated(&mut self, comm: Option<&dyn Communicator>) -> Result<Vec<RoundRecord>> {
        let comm: &dyn Communicator = comm.unwrap_or(&SingleProcess);
        let f = self
            .config
            .federated
            .clone()
            .ok_or_else(|| RunError::Setup("the config has no [federated] section".into()))?;
        let fed = f.fedavg();
        fed.validate().map_err(|e| RunError::Setup(e.to_string()))?;
        let Targets::Classes { labels, .. } = self.train.targets() else {
            return Err(RunError::Setup("federated: needs class labels".into()));
        };
        let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        let parts = partition(&labels, f.clients, f.partition(), self.config.seed)
            .map_err(|e| RunError::Setup(e.to_string()))?;
        let named: Vec<(String, Param)> = self
            .trainer
            .model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .collect();
        let handles: Vec<Param> = named.iter().map(|(_, p)| p.clone()).collect();
        let mut opt = Optimizer::with_params(Sgd::new(f.lr), &handles).map_err(TrainError::from)?;
        let dist = |e: gradus_dist::DistError| RunError::Setup(format!("federated: {e}"));
        let mut global = flatten_params(&named);
        comm.broadcast(&mut global, 0).map_err(dist)?;
        let started = Instant::now();
        let mut records = Vec::with_capacity(f.rounds);
        let out = self.out_dir.clone();
        std::fs::create_dir_all(&out).map_err(|source| RunError::RunDir {
            dir: out.clone(),
            source,
        })?;
        for round in 1..=f.rounds {
            let chosen = fed.clients_of_round(round as u64, self.config.seed);
            let mut sum = vec![0.0; global.len() + 1];
            let mut models = Vec::new();
            for (i, &k) in chosen.iter().enumerate() {
                if i % comm.size() != comm.rank() {
                    continue;
                }
                load_flat_params(&named, &global).map_err(dist)?;
                self.local_update(&mut opt, &named, &parts[k], &global, round, k)?;
                let w = flatten_params(&named);
                let n = parts[k].len() as f64;
                sum.iter_mut().zip(&w).for_each(|(s, v)| *s += n * v);
                sum[global.len()] += n;
                models.push((w, n));
            }
            comm.reduce_sum(&mut sum, ReduceOrder::Fixed)
                .map_err(dist)?;
            let total = sum.pop().unwrap_or(0.0);
            global = sum.iter().map(|v| v / total).collect();
            let mut drift = [client_drift(&models, &global) * models.len() as f64];
            comm.reduce_sum(&mut drift, ReduceOrder::Fixed)
                .map_err(dist)?;
            load_flat_params(&named, &global).map_err(dist)?;
            let eval = self
                .test
                .as_ref()
                .or(self.val.as_ref())
                .unwrap_or(&self.train);
            let (loss, metrics) = self.trainer.evaluate(eval)?;
            let accuracy = metrics
                .iter()
                .find(|(k, _)| k == "accuracy")
                .map_or(f64::NAN, |m| m.1);
            let r = RoundRecord {
                round,
                clients: chosen.len(),
                loss,
                accuracy,
                drift: drift[0] / chosen.len() as f64,
                seconds: started.elapsed().as_secs_f64(),
            };
            if !self.trainer.options.quiet {
                eprintln!(
                    "round {:>4}  clients {}  test_loss {:.5}  accuracy {:.4}  drift {:.4}  ({:.1}s)",
                    r.round, r.clients, r.loss, r.accuracy, r.drift, r.seconds
                );
            }
            records.push(r);
            if comm.rank() == 0 {
                write_records(&out, &records)?;
            }
        }
        if comm.rank() == 0 {
            self.trainer.write_model(&out.join("model.safetensors"))?;
            let summary = serde_json::json!({
                "rounds": records.len(),
                "last": records.last(),
                "best_accuracy": records.iter().map(|r| r.accuracy).fold(f64::NAN, f64::max),
            });
            let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
            write(&out, "summary.json", text.as_bytes())?;
            let title = out.file_name().map_or_else(
                || "federated run".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            let html = crate::report::federated::page(&title, &records);
            write(&out, "report.html", html.as_bytes())?;
        }
        Ok(records)
    }

    /// E local epochs of mini-batch SGD with batch B on one client's samples, from the global
    /// model, with FedProx's proximal gradient when μ > 0. The order is a function of the seed,
    /// round, client and epoch.
    fn local_update(
        &self,
        opt: &mut Optimizer,
        named: &[(String, Param)],
        samples: &[usize],
        global: &[f64],
        round: usize,
        client: usize,
    ) -> gradus_train::Result<()> {
        let Some(f) = self.config.federated.as_ref() else {
            return Ok(());
        };
        let (task, dtype) = (&self.trainer.task, self.trainer.options.dtype);
        let mut idx = samples.to_vec();
        for epoch in 0..f.local_epochs {
            let seed =
                self.config.seed ^ ((round as u64) << 40) ^ ((client as u64) << 20) ^ epoch as u64;
            idx.shuffle(&mut rand_pcg::Pcg64::seed_from_u64(seed));
            for chunk in idx.chunks(f.local_batch) {
                let b = to_device(&self.train, chunk, task, dtype)?;
                let loss = task.loss(&self.trainer.model.forward(&b.x)?, &b.y)?;
                loss.backward()?;
                if f.mu > 0.0 {
                    add_proximal_gradient(named, global, f.mu)?;
                }
                opt.step()?;
                opt.zero_grad();
            }
        }
        Ok(())
    }
}

fn write(out: &std::path::Path, name: &str, bytes: &[u8]) -> Result<()> {
    gradus_train::checkpoint::write_atomic(&out.join(name), bytes)
        .map_err(|e| RunError::Setup(format!("{}: {e}", out.join(name).display())))
}

fn write_records(out: &std::path::Path, records: &[RoundRecord]) -> Result<()> {
    let mut csv = String::from("round,clients,test_loss,test_accuracy,client_drift,seconds\n");
    for r in records {
        csv += &format!(
            "{},{},{},{},{},{:.3}\n",
            r.round, r.clients, r.loss, r.accuracy, r.drift, r.seconds
        );
    }
    write(out, "federated.csv", csv.as_bytes())
}
