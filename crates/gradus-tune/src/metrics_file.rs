//! Reading a trial's `metrics.csv` (rewritten whole, atomically, after every epoch by
//! `gradus train`) for the objective's column.

use std::path::Path;

/// The objective's value after each epoch in `metrics.csv` at `path`: `(epoch, value)`, `None`
/// for an empty cell (no validation data for `val_loss`). An absent file has no rows yet.
///
/// # Errors
/// The file has no column named `metric` (the message lists those it has), or a row is cut.
pub fn read(path: &Path, metric: &str) -> Result<Vec<(usize, Option<f64>)>, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols: Vec<&str> = header.split(',').collect();
    let col = cols.iter().position(|c| *c == metric).ok_or_else(|| {
        format!(
            "metrics.csv has no column `{metric}` (it has: {})",
            cols.iter()
                .filter(|c| !["epoch", "step", "seconds"].contains(c))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let epoch = cells.first().and_then(|c| c.parse::<usize>().ok());
            match (epoch, cells.get(col)) {
                (Some(e), Some(&"")) => Ok((e, None)),
                (Some(e), Some(c)) => c
                    .parse::<f64>()
                    .map(|v| (e, Some(v)))
                    .map_err(|_| format!("metrics.csv: `{c}` is not a number")),
                _ => Err(format!("metrics.csv: a cut row `{l}`")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_column_and_names_the_others_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.csv");
        assert_eq!(read(&p, "val_loss").unwrap(), []);
        std::fs::write(
            &p,
            "epoch,step,train_loss,val_loss,grad_norm,lr,update_ratio,accuracy,seconds\n1,10,0.5,0.4,1,0.1,0.01,0.8,0.1\n2,20,0.3,,1,0.1,0.01,0.9,0.1\n",
        )
        .unwrap();
        assert_eq!(
            read(&p, "accuracy").unwrap(),
            [(1, Some(0.8)), (2, Some(0.9))]
        );
        assert_eq!(read(&p, "val_loss").unwrap(), [(1, Some(0.4)), (2, None)]);
        let e = read(&p, "f1").unwrap_err();
        assert!(e.contains("no column `f1` (it has: train_loss, val_loss, grad_norm, lr, update_ratio, accuracy)"), "{e}");
    }
}
