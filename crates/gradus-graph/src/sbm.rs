//! A stochastic block model with noisy class features: a synthetic node-classification graph of
//! any size (Holland, Laskey & Leinhardt 1983; the planted-partition form).

use crate::{gcn_norm, to_undirected, GraphError, NodeData, Result};
use gradus_tensor::{DType, Rng, Tensor};

/// The parameters of [`stochastic_block_model`].
#[derive(Clone, Debug)]
pub struct SbmConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of blocks (= classes), of equal expected size.
    pub classes: usize,
    /// Mean degree (undirected edges per node × 2).
    pub avg_degree: f64,
    /// Fraction of edges inside a block (homophily); `1 / classes` is a graph without structure.
    pub homophily: f64,
    /// Feature dimension.
    pub features: usize,
    /// Distance of the class means from 0 per feature (`signal · ±1`); the noise is `N(0, 1)`.
    pub signal: f64,
    /// Labelled nodes per class (Planetoid's split uses 20).
    pub train_per_class: usize,
    /// Validation nodes (Planetoid: 500).
    pub val: usize,
    /// Test nodes (Planetoid: 1000).
    pub test: usize,
    /// Seed of the graph, features and split.
    pub seed: u64,
}

impl Default for SbmConfig {
    /// 2,708 nodes, 7 classes and mean degree 3.9, the size of Cora, with Cora's 81% edge
    /// homophily, 32 weak features (`signal` 0.3) and the Planetoid split sizes (20 per class /
    /// 500 / 1000).
    fn default() -> Self {
        SbmConfig {
            nodes: 2708,
            classes: 7,
            avg_degree: 3.9,
            homophily: 0.81,
            features: 32,
            signal: 0.3,
            train_per_class: 20,
            val: 500,
            test: 1000,
            seed: 0,
        }
    }
}

/// A graph of `nodes` nodes in `classes` blocks (each node's block drawn uniformly): each of the
/// `nodes · avg_degree / 2` undirected edges joins a uniformly drawn node to a node of its own
/// block with probability `homophily`, else to a node of another block (duplicates and self
/// loops dropped). Features are `signal · μ_c + N(0, 1)` with a random sign vector `μ_c` per
/// class. The split draws `train_per_class` nodes of each class, then `val` and `test` nodes
/// from the rest. Work and memory are linear in nodes and edges, so graphs of millions of nodes
/// are cheap.
///
/// # Errors
/// [`GraphError::Invalid`] naming the field when `classes < 2`, `homophily` is outside
/// `[0, 1]`, or the split needs more nodes than there are.
///
/// ```
/// use gradus_graph::{stochastic_block_model, SbmConfig};
/// let g = stochastic_block_model(&SbmConfig { nodes: 500, val: 100, test: 200, ..Default::default() }).unwrap();
/// assert_eq!((g.features.shape(), g.train.len()), (&[500, 32][..], 140));
/// ```
pub fn stochastic_block_model(cfg: &SbmConfig) -> Result<NodeData> {
    let invalid = |key, detail: &str| {
        Err(GraphError::Invalid {
            key,
            detail: detail.into(),
        })
    };
    if cfg.classes < 2 {
        return invalid("classes", "must be at least 2");
    }
    if !(0.0..=1.0).contains(&cfg.homophily) {
        return invalid("homophily", "must be in [0, 1]");
    }
    if cfg.train_per_class * cfg.classes + cfg.val + cfg.test > cfg.nodes {
        return invalid("nodes", "are fewer than the split needs");
    }
    let (n, k) = (cfg.nodes, cfg.classes);
    let mut rng = Rng::seed(cfg.seed);
    let labels: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
    let mut members = vec![Vec::new(); k];
    for (i, &c) in labels.iter().enumerate() {
        members[c].push(i);
    }
    if members.iter().any(|m| m.len() < cfg.train_per_class) {
        return invalid(
            "nodes",
            "leave a class with fewer nodes than train_per_class",
        );
    }
    let m = (n as f64 * cfg.avg_degree / 2.0).round() as usize;
    let mut edges = Vec::with_capacity(m);
    for _ in 0..m {
        let s = rng.below(n);
        let c = if rng.uniform_f64() < cfg.homophily {
            labels[s]
        } else {
            (labels[s] + 1 + rng.below(k - 1)) % k
        };
        edges.push((s, members[c][rng.below(members[c].len())]));
    }
    let adj = gcn_norm(n, &to_undirected(&edges), true)?;

    let means: Vec<f32> = (0..k * cfg.features)
        .map(|_| if rng.uniform_f64() < 0.5 { -1.0 } else { 1.0 } * cfg.signal as f32)
        .collect();
    let mut x = rng
        .normal(&[n, cfg.features], 0.0, 1.0, DType::F32)
        .to_vec::<f32>()?;
    for (i, row) in x.chunks_mut(cfg.features).enumerate() {
        let mu = &means[labels[i] * cfg.features..(labels[i] + 1) * cfg.features];
        row.iter_mut().zip(mu).for_each(|(v, m)| *v += m);
    }

    let order = rng.permutation(n);
    let mut taken = vec![0usize; k];
    let (mut train, mut rest) = (Vec::new(), Vec::new());
    for &i in &order {
        if taken[labels[i]] < cfg.train_per_class {
            taken[labels[i]] += 1;
            train.push(i);
        } else {
            rest.push(i);
        }
    }
    let data = NodeData {
        adj,
        features: Tensor::from_vec(x, &[n, cfg.features])?,
        num_classes: k,
        labels,
        train,
        val: rest[..cfg.val].to_vec(),
        test: rest[cfg.val..cfg.val + cfg.test].to_vec(),
    };
    data.validate()?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_follow_the_homophily_and_the_split_is_disjoint() {
        let cfg = SbmConfig {
            nodes: 3000,
            avg_degree: 10.0,
            ..Default::default()
        };
        let g = stochastic_block_model(&cfg).unwrap();
        let (mut same, mut all) = (0usize, 0usize);
        for (r, c, _) in g.adj.triplets() {
            if r != c {
                all += 1;
                same += usize::from(g.labels[r] == g.labels[c]);
            }
        }
        let h = same as f64 / all as f64;
        assert!((h - 0.81).abs() < 0.03, "homophily {h}");
        let mean_degree = all as f64 / 3000.0;
        assert!((mean_degree - 10.0).abs() < 0.5, "degree {mean_degree}");
        let mut seen = vec![false; 3000];
        for &i in g.train.iter().chain(&g.val).chain(&g.test) {
            assert!(!seen[i]);
            seen[i] = true;
        }
        assert_eq!((g.train.len(), g.val.len(), g.test.len()), (140, 500, 1000));
        let again = stochastic_block_model(&cfg).unwrap();
        assert_eq!(again.train, g.train);
    }

    #[test]
    fn bad_configs_are_errors_naming_the_field() {
        let e = |c: SbmConfig| stochastic_block_model(&c).unwrap_err().to_string();
        assert!(e(SbmConfig {
            classes: 1,
            ..Default::default()
        })
        .contains("`classes`"));
        assert!(e(SbmConfig {
            homophily: 1.5,
            ..Default::default()
        })
        .contains("`homophily`"));
        assert!(e(SbmConfig {
            nodes: 100,
            ..Default::default()
        })
        .contains("`nodes`"));
    }
}
