//! Property tests: every reader of user files (CSV, IDX plain and gzipped, MNIST folders, libsvm,
//! text) fed random bytes and mutations of a valid file (truncations, byte flips, insertions).
//! Each must return, never panic, and an error must name the file and, where the format has
//! lines, the 1-based line. `PROPTEST_CASES` sets the number of cases per reader (4096 by default).

mod common;

use common::{gzip, idx_bytes, TempDir};
use gradus_data::csv::{read_csv_table_from, CsvOptions};
use gradus_data::idx::{parse_idx, read_idx};
use gradus_data::libsvm::read_libsvm_from;
use gradus_data::{mnist, utf8, DataError, TargetKind};
use gradus_fuzz::{config, mutated};
use proptest::prelude::*;

/// An error names `source` first and, for line-based formats, a line of the file.
fn assert_located(err: &DataError, source: &str) {
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{source}:")),
        "no file name: {msg}"
    );
    let line = match err {
        DataError::RaggedRow { line, .. }
        | DataError::BadValue { line, .. }
        | DataError::Parse { line, .. }
        | DataError::BadToken { line, .. } => *line,
        _ => return,
    };
    assert!(line >= 1, "no line: {msg}");
    assert!(msg.starts_with(&format!("{source}:{line}")), "{msg}");
}

const CSV: &[u8] = b"\xef\xbb\xbfa,\"b c\",label\r\n1.5,\"2\",0\r\n-3e2,4,2\n\"7\",8.25,1\n";
const SVM: &[u8] = b"+1 qid:1 1:0.5 3:1 # c\n-1 2:-1\n\n+1 1:2e-3 7:4\n";
const TEXT: &[u8] =
    "\u{feff}First Citizen:\nBefore we proceed, hear me speak. \u{e9}\u{1F600}\n".as_bytes();

fn idx_file() -> Vec<u8> {
    idx_bytes(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_reader(bytes in mutated(CSV.to_vec())) {
        for opts in [
            CsvOptions::new("label", TargetKind::Class),
            CsvOptions::new("label", TargetKind::Value).features(&["b c", "a"]),
            CsvOptions::features_only(&["a"]),
        ] {
            if let Err(e) = read_csv_table_from(&bytes[..], "fuzz.csv", &opts) {
                assert_located(&e, "fuzz.csv");
            }
        }
    }

    #[test]
    fn libsvm_reader(bytes in mutated(SVM.to_vec())) {
        for (kind, n) in [(TargetKind::Class, None), (TargetKind::Value, Some(5))] {
            if let Err(e) = read_libsvm_from(&bytes[..], "fuzz.svm", kind, n) {
                assert_located(&e, "fuzz.svm");
            }
        }
    }

    #[test]
    fn text_reader(bytes in mutated(TEXT.to_vec())) {
        match utf8::decode(bytes.clone(), "fuzz.txt") {
            Ok(text) => prop_assert_eq!(text.as_bytes(), utf8::strip_bom(&bytes)),
            Err(e) => assert_located(&e, "fuzz.txt"),
        }
    }

    #[test]
    fn idx_reader(bytes in mutated(idx_file())) {
        if let Err(e) = parse_idx(&bytes[..], "fuzz.idx") {
            assert_located(&e, "fuzz.idx");
        }
    }

    /// Gzipped IDX files and MNIST folders: mutations of the compressed bytes.
    #[test]
    fn gzip_idx_and_mnist_folders(bytes in mutated(gzip(&idx_file()))) {
        let dir = TempDir::new();
        let images = dir.write("train-images-idx3-ubyte.gz", &bytes);
        let name = images.display().to_string();
        if let Err(e) = read_idx(&images) {
            assert_located(&e, &name);
        }
        dir.write("train-labels-idx1-ubyte", idx_bytes(&[2], &[0, 1]));
        if let Err(e) = mnist::load(&dir.path, mnist::Split::Train) {
            let msg = e.to_string();
            prop_assert!(msg.contains(&name) || msg.contains("train-labels"), "{}", msg);
        }
    }
}
