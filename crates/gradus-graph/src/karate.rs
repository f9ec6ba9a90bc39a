//! Zachary's karate club (Zachary 1977): 34 members, 78 friendships, two factions after the club
//! split. The files ship in the repository's `data/karate/` (written from networkx's copy by
//! `data/karate/generate_karate.py`).

use crate::{gcn_norm, to_undirected, GraphError, NodeData, Result};
use gradus_tensor::Tensor;
use std::path::Path;

/// The labelled nodes of [`load_karate`]'s split: the instructor (0) and the administrator
/// (33), who lead the two factions, and one member of each faction (1 and 32).
pub const KARATE_TRAIN: [usize; 4] = [0, 1, 32, 33];

/// Reads `dir/edges.csv` (`source,target`) and `dir/clubs.csv` (`node,club`, club 0 for
/// "Mr. Hi", 1 for "Officer"): features are the identity (one-hot node ids, as in Kipf &
/// Welling's karate experiment), 2 classes, [`KARATE_TRAIN`] labelled, the other 30 nodes the
/// test set (no validation set).
///
/// # Errors
/// [`GraphError::Io`] for a file that cannot be read, [`GraphError::Parse`] with file and line
/// for a malformed line, [`GraphError::Invalid`] for a node outside the club list.
///
/// ```no_run
/// let club = gradus_graph::load_karate("data/karate").unwrap();
/// assert_eq!((club.labels.len(), club.num_classes), (34, 2));
/// ```
pub fn load_karate(dir: impl AsRef<Path>) -> Result<NodeData> {
    let dir = dir.as_ref();
    let edges = read_pairs(&dir.join("edges.csv"))?;
    let clubs = read_pairs(&dir.join("clubs.csv"))?;
    let n = clubs.len();
    let mut labels = vec![usize::MAX; n];
    for &(node, club) in &clubs {
        if node >= n || club > 1 {
            return Err(GraphError::Invalid {
                key: "clubs.csv",
                detail: format!("node {node} club {club}: nodes must be 0..{n}, clubs 0 or 1"),
            });
        }
        labels[node] = club;
    }
    let adj = gcn_norm(n, &to_undirected(&edges), true)?;
    let mut eye = vec![0.0f32; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    let data = NodeData {
        adj,
        features: Tensor::from_vec(eye, &[n, n])?,
        labels,
        num_classes: 2,
        train: KARATE_TRAIN.to_vec(),
        val: Vec::new(),
        test: (0..n).filter(|i| !KARATE_TRAIN.contains(i)).collect(),
    };
    data.validate()?;
    Ok(data)
}

/// The `a,b` rows of a two-column CSV of whole numbers after its header line.
fn read_pairs(path: &Path) -> Result<Vec<(usize, usize)>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GraphError::Io {
        file: file.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let parse = |s: Option<&str>| s.and_then(|s| s.trim().parse::<usize>().ok());
        let mut parts = line.split(',');
        match (parse(parts.next()), parse(parts.next()), parts.next()) {
            (Some(a), Some(b), None) => out.push((a, b)),
            _ => {
                return Err(GraphError::Parse {
                    file,
                    line: i + 1,
                    detail: format!("expected two whole numbers `a,b`, found `{line}`"),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/karate")
    }

    #[test]
    fn reads_the_shipped_club() {
        let club = load_karate(data_dir()).unwrap();
        assert_eq!(club.labels.len(), 34);
        // 78 friendships in both directions plus 34 self loops
        assert_eq!(club.adj.nnz(), 2 * 78 + 34);
        assert_eq!(club.labels.iter().filter(|&&c| c == 0).count(), 17);
        assert_eq!((club.labels[0], club.labels[33]), (0, 1));
        assert_eq!(club.test.len(), 30);
    }

    #[test]
    fn malformed_files_name_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("gradus-karate-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("edges.csv"), "source,target\n0,1\n0;2\n").unwrap();
        std::fs::write(dir.join("clubs.csv"), "node,club\n0,0\n1,1\n2,0\n").unwrap();
        let e = load_karate(&dir).unwrap_err().to_string();
        assert!(e.contains("edges.csv:3:"), "{e}");
        std::fs::remove_file(dir.join("edges.csv")).unwrap();
        let e = load_karate(&dir).unwrap_err().to_string();
        assert!(e.contains("edges.csv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
