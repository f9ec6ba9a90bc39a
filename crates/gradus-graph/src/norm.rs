//! GCN normalization (Kipf & Welling 2017, eq. 2): `Â = D^-1/2 (A + I) D^-1/2` as a sparse matrix,
//! with PyTorch Geometric's `gcn_norm` conventions.

use crate::{GraphError, Result};
use gradus_tensor::ops::sparse::SparseMatrix;

/// The normalized adjacency of a graph of `num_nodes` nodes with directed, weighted `edges`
/// `(source, target, weight)`, as PyG's `gcn_norm(edge_index, edge_weight, add_self_loops=True)`:
///
/// - with `add_self_loops`, every node without a self loop gets one of weight 1 (PyG's
///   `add_remaining_self_loops`; existing self loops keep their weight);
/// - `deg[j]` sums the weights of the edges into `j` (the target), and
///   `Â[target, source] = deg[source]^-1/2 · w · deg[target]^-1/2` (a degree of 0 gives 0);
/// - duplicate edges add up.
///
/// So `Â @ X` aggregates, at each node, the messages from its in-neighbours: for an undirected
/// graph (both directions listed, see [`to_undirected`]) it is the symmetric
/// `D^-1/2 (A + I) D^-1/2` of the paper. Returns a `[num_nodes, num_nodes]` matrix.
///
/// # Errors
/// [`GraphError::Invalid`] (key `edges`) naming the first edge whose node is not below
/// `num_nodes` or whose weight is not finite.
///
/// ```
/// use gradus_graph::gcn_norm;
/// // the path 0 - 1: degrees with self loops are 2 and 2, so every entry is 1/2
/// let a = gcn_norm(2, &[(0, 1, 1.0), (1, 0, 1.0)], true).unwrap();
/// let t = a.triplets();
/// assert_eq!(t.len(), 4);
/// assert!(t.iter().all(|&(_, _, v)| (v - 0.5).abs() < 1e-15));
/// ```
pub fn gcn_norm(
    num_nodes: usize,
    edges: &[(usize, usize, f64)],
    add_self_loops: bool,
) -> Result<SparseMatrix> {
    for (i, &(s, t, w)) in edges.iter().enumerate() {
        if s >= num_nodes || t >= num_nodes || !w.is_finite() {
            return Err(GraphError::Invalid {
                key: "edges",
                detail: format!(
                    "edge {i} ({s} -> {t}, weight {w}) needs nodes below {num_nodes} and a finite weight"
                ),
            });
        }
    }
    let mut all = edges.to_vec();
    if add_self_loops {
        let mut has_loop = vec![false; num_nodes];
        for &(s, t, _) in edges {
            if s == t {
                has_loop[s] = true;
            }
        }
        all.extend(
            (0..num_nodes)
                .filter(|&i| !has_loop[i])
                .map(|i| (i, i, 1.0)),
        );
    }
    let mut deg = vec![0.0f64; num_nodes];
    for &(_, t, w) in &all {
        deg[t] += w;
    }
    let inv_sqrt: Vec<f64> = deg
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    let triplets: Vec<(usize, usize, f64)> = all
        .iter()
        .map(|&(s, t, w)| (t, s, inv_sqrt[s] * w * inv_sqrt[t]))
        .collect();
    Ok(SparseMatrix::from_triplets(
        num_nodes, num_nodes, &triplets,
    )?)
}

/// Both directions of every edge, weight 1, without duplicates or self loops
/// (PyG's `to_undirected` on an unweighted edge list).
///
/// ```
/// assert_eq!(gradus_graph::to_undirected(&[(0, 1), (1, 0), (2, 2)]), vec![(0, 1, 1.0), (1, 0, 1.0)]);
/// ```
pub fn to_undirected(edges: &[(usize, usize)]) -> Vec<(usize, usize, f64)> {
    let mut both: Vec<(usize, usize)> = edges
        .iter()
        .filter(|(s, t)| s != t)
        .flat_map(|&(s, t)| [(s, t), (t, s)])
        .collect();
    both.sort_unstable();
    both.dedup();
    both.into_iter().map(|(s, t)| (s, t, 1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradus_tensor::DType;

    #[test]
    fn equals_the_dense_formula_on_a_small_graph() {
        // star 0-1, 0-2, 0-3 plus 2-3: Â = D^-1/2 (A + I) D^-1/2 computed densely
        let e = to_undirected(&[(0, 1), (0, 2), (0, 3), (2, 3)]);
        let a = gcn_norm(4, &e, true)
            .unwrap()
            .to_dense(DType::F64)
            .to_vec_f64();
        let mut adj = [[0.0f64; 4]; 4];
        for &(s, t, _) in &e {
            adj[s][t] = 1.0;
        }
        for (i, row) in adj.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        let deg: Vec<f64> = adj.iter().map(|r| r.iter().sum()).collect();
        for i in 0..4 {
            for j in 0..4 {
                let want = adj[i][j] / (deg[i] * deg[j]).sqrt();
                assert!((a[i * 4 + j] - want).abs() < 1e-15, "({i}, {j})");
            }
        }
    }

    #[test]
    fn directed_edges_use_the_target_in_degree_and_existing_self_loops_are_kept() {
        // 0 -> 1 with a self loop of weight 3 at 1; node 0 gets a loop of weight 1
        let a = gcn_norm(2, &[(0, 1, 1.0), (1, 1, 3.0)], true).unwrap();
        // in-degrees: node 0: 1 (its loop), node 1: 1 + 3 = 4
        assert_eq!(a.triplets(), vec![(0, 0, 1.0), (1, 0, 0.5), (1, 1, 0.75)]);
        let no_loops = gcn_norm(2, &[(0, 1, 1.0)], false).unwrap();
        // node 0 has in-degree 0: its inverse square root is taken as 0
        assert_eq!(no_loops.triplets(), vec![(1, 0, 0.0)]);
        assert!(gcn_norm(2, &[(0, 2, 1.0)], true)
            .unwrap_err()
            .to_string()
            .contains("edge 0"));
    }
}
