//! Training a [`Gcn`] on a [`NodeData`] split, as Kipf & Welling (2017) and PyG's
//! `examples/gcn.py` do: full-batch Adam, cross-entropy on the labelled nodes, weight decay on
//! the first layer only, model selection on validation accuracy.

use crate::{accuracy, index_tensor, Gcn, GraphError, NodeData, Result};
use gradus_nn::loss::{cross_entropy, CrossEntropyOptions};
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::{autodiff, Rng};

/// Hyperparameters of [`fit_gcn`]; the defaults are the paper's for the citation graphs.
#[derive(Clone, Debug)]
pub struct GcnConfig {
    /// Hidden units (16).
    pub hidden: usize,
    /// Dropout on the input and hidden layer (0.5).
    pub dropout: f64,
    /// Adam learning rate (0.01).
    pub lr: f64,
    /// L2 weight decay on the first layer's parameters (5e-4), as `torch.optim.Adam`'s
    /// `weight_decay` on that parameter group.
    pub weight_decay: f64,
    /// Full-batch epochs (200).
    pub epochs: usize,
    /// Seed of the weights and dropout masks.
    pub seed: u64,
}

impl Default for GcnConfig {
    fn default() -> Self {
        GcnConfig {
            hidden: 16,
            dropout: 0.5,
            lr: 0.01,
            weight_decay: 5e-4,
            epochs: 200,
            seed: 0,
        }
    }
}

/// What [`fit_gcn`] measured.
#[derive(Debug)]
pub struct GcnReport {
    /// The trained model (evaluation mode).
    pub model: Gcn,
    /// Training loss per epoch.
    pub losses: Vec<f64>,
    /// Epoch (1-based) of the best validation accuracy (the last epoch without a validation set).
    pub best_epoch: usize,
    /// Validation accuracy at `best_epoch`.
    pub val_accuracy: f64,
    /// Test accuracy at `best_epoch` (the reported figure).
    pub test_accuracy: f64,
    /// Test accuracy after the last epoch.
    pub final_test_accuracy: f64,
}

/// Trains a two-layer GCN on `data` with `cfg` and scores it.
///
/// # Errors
/// [`GraphError::Invalid`] for an empty training set or zero epochs; tensor and optimizer errors
/// (e.g. a diverged loss is not an error: it shows in `losses`).
pub fn fit_gcn(data: &NodeData, cfg: &GcnConfig) -> Result<GcnReport> {
    data.validate()?;
    if data.train.is_empty() || cfg.epochs == 0 {
        return Err(GraphError::Invalid {
            key: "train",
            detail: "needs labelled nodes and at least one epoch".into(),
        });
    }
    let mut rng = Rng::seed(cfg.seed);
    let model = Gcn::new(
        data.adj.clone(),
        data.features.shape()[1],
        cfg.hidden,
        data.num_classes,
        cfg.dropout,
        &mut rng,
    );
    let mut opt = Optimizer::default();
    let adam = || Adam::new(cfg.lr);
    opt.add_named_param_group(
        adam().weight_decay(cfg.weight_decay),
        &model.conv1.named_parameters(),
    )?;
    opt.add_named_param_group(adam(), &model.conv2.named_parameters())?;
    let (train_idx, targets) = (index_tensor(&data.train), data.targets(&data.train));
    let ce = CrossEntropyOptions::default();
    let mut report = GcnReport {
        model,
        losses: Vec::with_capacity(cfg.epochs),
        best_epoch: 0,
        val_accuracy: -1.0,
        test_accuracy: 0.0,
        final_test_accuracy: 0.0,
    };
    for epoch in 1..=cfg.epochs {
        let model = &report.model;
        model.train(true);
        opt.zero_grad();
        let logits = model.forward(&data.features)?;
        let loss = cross_entropy(&logits.index_select(0, &train_idx)?, &targets, &ce)?;
        loss.backward()?;
        opt.step()?;
        report.losses.push(loss.item()?);

        model.eval();
        let logits = autodiff::no_grad(|| model.forward(&data.features))?;
        let val = accuracy(&logits, &data.labels, &data.val);
        let test = accuracy(&logits, &data.labels, &data.test);
        if data.val.is_empty() || val > report.val_accuracy {
            (report.best_epoch, report.val_accuracy, report.test_accuracy) = (epoch, val, test);
        }
        report.final_test_accuracy = test;
    }
    Ok(report)
}
