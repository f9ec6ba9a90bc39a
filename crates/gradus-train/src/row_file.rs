//! [`RowFile`]: a log file of a header and rows (`metrics.csv`, `layers.csv`, `steps.csv`) that
//! grows at its end. A run writes it after every epoch; rewriting it whole each time would cost
//! time quadratic in the epochs (a 200-epoch run spent more time rewriting its logs than
//! training), so only the rows added since the last write are appended, in one `write` call.
//!
//! The file is rewritten whole, atomically ([`crate::checkpoint::write_with_durability`]), the
//! first time a process writes it (a resumed run drops the rows after its checkpoint), when its
//! header changes (a column appears), when rows were taken back, and when it is missing. A kill
//! during an append leaves the rows before it whole (one `write` of a few hundred bytes to a
//! regular file is not split by a signal); a resumed run rewrites the file from its checkpoint.

use crate::checkpoint::{sync_dir, write_with_durability, Durability};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A header-and-rows text file kept up to date by appending.
///
/// ```
/// use gradus_train::checkpoint::Durability;
/// use gradus_train::row_file::RowFile;
/// let dir = tempfile::tempdir().unwrap();
/// let mut f = RowFile::new(dir.path().join("log.csv"));
/// let rows = ["1,0.5", "2,0.25", "3,0.125"];
/// let line = |i: usize, out: &mut String| { out.push_str(rows[i]); out.push('\n') };
/// f.write("epoch,loss\n", 2, line, Durability::Replace).unwrap(); // written whole
/// f.write("epoch,loss\n", 3, line, Durability::Flushed).unwrap(); // row 3 appended
/// assert_eq!(std::fs::read_to_string(f.path()).unwrap(), "epoch,loss\n1,0.5\n2,0.25\n3,0.125\n");
/// ```
#[derive(Debug)]
pub struct RowFile {
    path: PathBuf,
    /// The header and the number of rows this value last wrote.
    written: Option<(String, usize)>,
}

impl RowFile {
    /// A file at `path`, not written yet by this process (its first write replaces it).
    pub fn new(path: impl Into<PathBuf>) -> RowFile {
        RowFile {
            path: path.into(),
            written: None,
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the file hold `header` followed by rows `0..rows`, where `row(i, out)` appends row
    /// `i`'s text to `out` (whole lines, each ending in `'\n'`; a row may be several lines).
    /// Rows written before must not have changed: only rows from the last write's count on are
    /// formatted and appended, unless the file is rewritten (see the module docs). With
    /// [`Durability::Flushed`] the file (and, after a rewrite, its directory) is flushed to disk.
    ///
    /// # Errors
    /// When the file cannot be written; after a failed append the next write rewrites it whole.
    pub fn write(
        &mut self,
        header: &str,
        rows: usize,
        mut row: impl FnMut(usize, &mut String),
        durability: Durability,
    ) -> std::io::Result<()> {
        let appended = match self.written.take() {
            Some((h, done)) if h == header && done <= rows => {
                let mut out = String::new();
                for i in done..rows {
                    row(i, &mut out);
                }
                self.append(out.as_bytes(), durability)?
            }
            _ => false,
        };
        if !appended {
            let mut out = String::from(header);
            for i in 0..rows {
                row(i, &mut out);
            }
            write_with_durability(&self.path, out.as_bytes(), durability)?;
        }
        self.written = Some((header.to_string(), rows));
        Ok(())
    }

    /// Appends `bytes` in one write; `Ok(false)` when the file is gone (to be rewritten).
    fn append(&self, bytes: &[u8], durability: Durability) -> std::io::Result<bool> {
        if bytes.is_empty() && durability == Durability::Replace {
            return Ok(self.path.exists());
        }
        let mut file = match std::fs::OpenOptions::new().append(true).open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        file.write_all(bytes)?;
        if durability == Durability::Flushed && file.metadata()?.is_file() {
            file.sync_data()?;
            sync_dir(&self.path)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(names: &'static [&'static str]) -> impl FnMut(usize, &mut String) {
        move |i, out| {
            out.push_str(names[i]);
            out.push('\n');
        }
    }

    const ROWS: &[&str] = &["a", "b", "c", "d"];

    #[test]
    fn appends_only_the_new_rows_and_rewrites_on_a_new_header_or_fewer_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, "stale from an earlier run\n").unwrap();
        let mut f = RowFile::new(&path);
        let read = || std::fs::read_to_string(&path).unwrap();
        // the first write replaces what an earlier process left
        f.write("h\n", 1, rows(ROWS), Durability::Replace).unwrap();
        assert_eq!(read(), "h\na\n");
        // an append formats only the new rows: a formatter that fails on old ones proves it
        f.write(
            "h\n",
            3,
            |i, out: &mut String| {
                assert!(i >= 1, "row {i} was written before");
                out.push_str(ROWS[i]);
                out.push('\n');
            },
            Durability::Replace,
        )
        .unwrap();
        assert_eq!(read(), "h\na\nb\nc\n");
        // a new column: rewritten whole
        f.write("h,x\n", 3, rows(ROWS), Durability::Flushed)
            .unwrap();
        assert_eq!(read(), "h,x\na\nb\nc\n");
        // fewer rows than written: rewritten
        f.write("h,x\n", 2, rows(ROWS), Durability::Replace)
            .unwrap();
        assert_eq!(read(), "h,x\na\nb\n");
        // the file removed behind its back: rewritten, not an error
        std::fs::remove_file(&path).unwrap();
        f.write("h,x\n", 4, rows(ROWS), Durability::Replace)
            .unwrap();
        assert_eq!(read(), "h,x\na\nb\nc\nd\n");
        // nothing new: unchanged, and no temporary file is left beside it
        f.write("h,x\n", 4, rows(ROWS), Durability::Flushed)
            .unwrap();
        assert_eq!(read(), "h,x\na\nb\nc\nd\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_stays_a_link_to_the_file_that_grows() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.csv");
        let link = dir.path().join("log.csv");
        std::fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut f = RowFile::new(&link);
        f.write("h\n", 1, rows(ROWS), Durability::Replace).unwrap();
        f.write("h\n", 2, rows(ROWS), Durability::Replace).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "h\na\nb\n");
    }
}
