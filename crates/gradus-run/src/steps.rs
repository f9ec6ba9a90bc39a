//! `steps.csv`: every optimizer step's loss, learning rate and global gradient norm, written by a
//! [`TrainObserver`] at each epoch end (the epoch's rows appended, not flushed to disk: see
//! [`RowFile`]) and when the run ends (flushed); the report draws the per-step curves from it. A
//! resumed run keeps the rows before the step it resumes from.

use gradus_nn::Param;
use gradus_train::checkpoint::Durability;
use gradus_train::metrics::EpochRecord;
use gradus_train::observer::{StepRecord, TrainObserver};
use gradus_train::row_file::RowFile;
use gradus_train::{Summary, TrainError};
use std::path::Path;

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
    file: RowFile,
    /// Rows kept from before a resume, with their step; once this run records its first step,
    /// only those before it.
    kept: Vec<(u64, String)>,
    rows: Vec<String>,
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
            file: RowFile::new(path),
            kept,
            rows: Vec::new(),
        }
    }

    fn write(&mut self, durability: Durability) -> gradus_train::Result<()> {
        let (kept, rows) = (&self.kept, &self.rows);
        let row = |i: usize, out: &mut String| {
            out.push_str(match kept.get(i) {
                Some((_, row)) => row,
                None => &rows[i - kept.len()],
            });
            out.push('\n');
        };
        let header = format!("{STEPS_HEADER}\n");
        let count = kept.len() + rows.len();
        self.file
            .write(&header, count, row, durability)
            .map_err(|source| TrainError::Io {
                path: self.file.path().to_path_buf(),
                source,
            })
    }
}

impl TrainObserver for StepsCsv {
    fn on_step(&mut self, s: &StepRecord) -> gradus_train::Result<()> {
        if self.rows.is_empty() {
            // the rows this run takes again replace those of the interrupted run
            self.kept.retain(|(step, _)| *step < s.step);
        }
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
