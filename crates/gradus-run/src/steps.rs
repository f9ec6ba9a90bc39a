//! `steps.csv`: every optimizer step's loss, learning rate and global gradient norm, written by a
//! [`TrainObserver`] at each epoch end (replaced atomically, not flushed to disk) and when the run
//! ends (flushed); the report draws the per-step curves from it. A resumed run keeps the rows
//! before the step it resumes from.

use gradus_nn::Param;
use gradus_train::checkpoint::{write_with_durability, Durability};
use gradus_train::metrics::EpochRecord;
use gradus_train::observer::{StepRecord, TrainObserver};
use gradus_train::{Summary, TrainError};
use std::path::{Path, PathBuf};

/// The header of `steps.csv`.
pub const STEPS_HEADER: &str = "step,epoch,samples,loss,lr,grad_norm";

/// Gathers the steps of a run and writes them to `steps.csv`.
///
/// ```
/// use gradus_run::steps::StepsCsv;
/// use gradus_train::observer::{StepRecord, TrainObserver};
/// let dir = tempfile::tempdir().unwrap();
/// let mut o = StepsCsv::new(dir.path(), false);
/// let s = StepRecord { epoch: 1, step: 1, samples: 4, loss: 0.5, lr: 0.1, grad_norms: Default::default() };
/// o.on_step(&s).unwrap();
/// o.on_end(None).unwrap();
/// let text = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
/// assert_eq!(text, "step,epoch,samples,loss,lr,grad_norm\n1,1,4,0.5,0.1,0\n");
/// ```
#[derive(Debug)]
pub struct StepsCsv {
    path: PathBuf,
    /// Rows kept from before a resume, with their step.
    kept: Vec<(u64, String)>,
    rows: Vec<String>,
    first: Option<u64>,
}

impl StepsCsv {
    /// Writes to `dir/steps.csv`; with `resume`, keeps that file's rows before the first step
    /// this run records.
    pub fn new(dir: &Path, resume: bool) -> StepsCsv {
        let path = dir.join("steps.csv");
        let kept = if resume {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter_map(|l| Some((l.split(',').next()?.parse().ok()?, l.to_string())))
                .collect()
        } else {
            Vec::new()
        };
        StepsCsv {
            path,
            kept,
            rows: Vec::new(),
            first: None,
        }
    }

    fn write(&self, durability: Durability) -> gradus_train::Result<()> {
        let first = self.first.unwrap_or(u64::MAX);
        let mut out = String::with_capacity(40 * (self.kept.len() + self.rows.len() + 1));
        out.push_str(STEPS_HEADER);
        out.push('\n');
        for (_, row) in self.kept.iter().filter(|(s, _)| *s < first) {
            out.push_str(row);
            out.push('\n');
        }
        for row in &self.rows {
            out.push_str(row);
            out.push('\n');
        }
        write_with_durability(&self.path, out.as_bytes(), durability).map_err(|source| {
            TrainError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }
}

impl TrainObserver for StepsCsv {
    fn on_step(&mut self, s: &StepRecord) -> gradus_train::Result<()> {
        self.first.get_or_insert(s.step);
        self.rows.push(format!(
            "{},{},{},{},{},{}",
            s.step, s.epoch, s.samples, s.loss, s.lr, s.grad_norms.global
        ));
        Ok(())
    }

    fn on_epoch_end(&mut self, _: &EpochRecord, _: &[(String, Param)]) -> gradus_train::Result<()> {
        self.write(Durability::Replace)
    }

    fn on_end(&mut self, _: Option<&Summary>) -> gradus_train::Result<()> {
        self.write(Durability::Flushed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u64) -> StepRecord {
        StepRecord {
            epoch: 1,
            step,
            samples: 2,
            loss: step as f64,
            lr: 0.1,
            grad_norms: Default::default(),
        }
    }

    #[test]
    fn resume_keeps_the_rows_before_its_first_step_and_replaces_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = StepsCsv::new(dir.path(), false);
        for s in 1..=5 {
            a.on_step(&step(s)).unwrap();
        }
        a.on_end(None).unwrap();
        // resumed from the checkpoint after step 3: steps 4 and 5 are taken again
        let mut b = StepsCsv::new(dir.path(), true);
        for s in 4..=6 {
            b.on_step(&step(s)).unwrap();
        }
        b.on_end(None).unwrap();
        let text = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
        let steps: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(steps, ["1", "2", "3", "4", "5", "6"]);
    }
}
