//! The study's journal: one JSON line per event, appended and synced to disk (`fsync`) before the
//! search goes on, so that a search killed at any moment loses at most the line being written.
//! Reading it back ([`read`]) drops a torn last line (one without its newline that does not parse)
//! with a note, and cuts it off the file so that appends start on a fresh line.
//!
//! ```text
//! {"event":"study","metric":"val_loss","direction":"minimize","space":{...}}
//! {"event":"created","trial":0,"params":{"optimizer.lr":0.0123}}
//! {"event":"intermediate","trial":0,"epoch":1,"value":0.41}
//! {"event":"pruned","trial":0,"epoch":1}
//! {"event":"completed","trial":1,"value":0.12}
//! {"event":"failed","trial":2,"reason":"exit status 1: ...","interrupted":false}
//! ```

use crate::error::{io, Result, TuneError};
use crate::space::SearchSpace;
use crate::spec::Direction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The first line: what the study optimizes over what space (checked on `--resume`).
    Study {
        /// The objective's `metrics.csv` column.
        metric: String,
        /// Minimize or maximize.
        direction: Direction,
        /// The searched parameters.
        space: SearchSpace,
    },
    /// A trial created with its parameters (config values by key).
    Created {
        /// Trial number.
        trial: usize,
        /// Its parameters as they go into the config.
        params: BTreeMap<String, serde_json::Value>,
    },
    /// The objective after an epoch of a running trial.
    Intermediate {
        /// Trial number.
        trial: usize,
        /// 1-based epoch.
        epoch: usize,
        /// The objective's value.
        value: f64,
    },
    /// The trial was stopped by the pruner after `epoch`.
    Pruned {
        /// Trial number.
        trial: usize,
        /// The last epoch it ran.
        epoch: usize,
    },
    /// The trial ran to its end.
    Completed {
        /// Trial number.
        trial: usize,
        /// The objective's final value.
        value: f64,
    },
    /// The trial failed, or the search stopped while it ran (`interrupted`).
    Failed {
        /// Trial number.
        trial: usize,
        /// Why.
        reason: String,
        /// Stopped with the search, not by its own failure.
        #[serde(default)]
        interrupted: bool,
    },
}

/// An open journal, appended to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Creates a new journal at `path` (refusing to overwrite one).
    ///
    /// # Errors
    /// The file exists or cannot be created.
    pub fn create(path: &Path) -> Result<Journal> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Opens an existing journal for appending (after [`read`], which repairs a torn end).
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &Path) -> Result<Journal> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends `event` as one line and syncs it to disk.
    ///
    /// # Errors
    /// The write or the sync fails.
    pub fn append(&mut self, event: &Event) -> Result<()> {
        let mut line = serde_json::to_string(event).map_err(|e| TuneError::Journal {
            path: self.path.clone(),
            line: 0,
            problem: e.to_string(),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.file.flush().map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))
    }
}

/// The events of the journal at `path`, and a note when a torn last line was dropped (the file
/// is then cut back to its last whole line).
///
/// # Errors
/// The file cannot be read or cut; a line other than a torn last one is not an event (its
/// line number named).
pub fn read(path: &Path) -> Result<(Vec<Event>, Option<String>)> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let mut events = Vec::new();
    let mut note = None;
    let mut start = 0;
    let mut line_no = 0;
    while start < bytes.len() {
        line_no += 1;
        let (end, whole) = match bytes[start..].iter().position(|b| *b == b'\n') {
            Some(i) => (start + i, true),
            None => (bytes.len(), false),
        };
        let text = &bytes[start..end];
        match serde_json::from_slice::<Event>(text) {
            Ok(e) => events.push(e),
            Err(_) if !whole => {
                note = Some(format!(
                    "{}:{line_no}: dropped a torn last line ({} bytes without a newline): the search was stopped while writing it",
                    path.display(),
                    text.len()
                ));
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io(path))?;
                f.set_len(start as u64).map_err(io(path))?;
                f.sync_data().map_err(io(path))?;
                break;
            }
            Err(e) if text.iter().all(|b| b.is_ascii_whitespace()) => {
                let _ = e;
            }
            Err(e) => {
                return Err(TuneError::Journal {
                    path: path.to_path_buf(),
                    line: line_no,
                    problem: format!("not a trial event: {e}"),
                })
            }
        }
        if !whole {
            // a whole event without its newline: end the line so appends start a new one
            let mut f = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(io(path))?;
            f.write_all(b"\n").map_err(io(path))?;
            f.sync_data().map_err(io(path))?;
        }
        start = end + 1;
    }
    Ok((events, note))
}
