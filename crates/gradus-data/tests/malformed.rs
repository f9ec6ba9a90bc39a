//! Malformed input: every reader must fail with an error naming the file,
//! the line and the column where relevant, never panic.

mod common;

use common::{gzip, idx_bytes, TempDir, TempFile};
use gradus_data::csv::{read_csv, read_csv_from, CsvOptions};
use gradus_data::idx::read_idx;
use gradus_data::libsvm::read_libsvm;
use gradus_data::{mnist, DataError, TargetKind};

fn csv_err(text: &str, opts: &CsvOptions) -> (String, DataError) {
    let file = TempFile::new("table.csv", text);
    let err = read_csv(&file.path, opts).unwrap_err();
    (file.name(), err)
}

fn class_opts() -> CsvOptions {
    CsvOptions::new("label", TargetKind::Class)
}

#[test]
fn csv_bad_number_names_file_line_and_column() {
    let (name, err) = csv_err("a,b,label\n1,2,0\n3,x4,1\n", &class_opts());
    assert!(
        matches!(
            err,
            DataError::BadValue {
                line: 3,
                column: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{name}:3: column 2 (`b`)")),
        "{msg}"
    );
    assert!(msg.contains("`x4`"), "{msg}");
}

#[test]
fn csv_line_numbers_count_quoted_newlines_and_skip_nothing() {
    let text = "name,v,label\n\"multi\nline\",1,0\n\"q,uoted\",oops,1\n";
    let opts = class_opts().features(&["v"]);
    let (name, err) = csv_err(text, &opts);
    assert!(
        err.to_string()
            .starts_with(&format!("{name}:4: column 2 (`v`)")),
        "{err}"
    );
}

#[test]
fn csv_quoting_and_delimiters_are_handled() {
    let text = "\"a;1\";b;label\n 1.5 ;\"2\";1\n";
    let file = TempFile::new("semi.csv", text);
    let ds = read_csv(&file.path, &class_opts().delimiter(b';')).unwrap();
    assert_eq!(
        (ds.features(), ds.num_classes()),
        (&[1.5, 2.0][..], Some(2))
    );
    let bom_crlf = TempFile::new("bom.csv", "\u{feff}a,label\r\n1,0\r\n2,1\r\n");
    let ds = read_csv(&bom_crlf.path, &class_opts().features(&["a"])).unwrap();
    assert_eq!(ds.features(), &[1.0, 2.0]);
}

#[test]
fn csv_ragged_row_is_reported() {
    let (name, err) = csv_err("a,b,label\n1,2,0\n1,2\n", &class_opts());
    assert_eq!(
        err.to_string(),
        format!("{name}:3: row has 2 fields but the header has 3")
    );
}

#[test]
fn csv_empty_file_and_header_only_are_errors() {
    let (name, err) = csv_err("", &class_opts());
    assert!(matches!(err, DataError::Empty { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&name));
    let (_, err) = csv_err("a,label\n", &class_opts());
    assert!(err.to_string().contains("no data rows"), "{err}");
}

#[test]
fn csv_unknown_column_lists_the_header() {
    let (name, err) = csv_err("a,b,y\n1,2,3\n", &class_opts());
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{name}:1: no column named `label`")),
        "{msg}"
    );
    assert!(msg.contains("a, b, y"), "{msg}");
    let (_, err) = csv_err("a,b,label\n1,2,3\n", &class_opts().features(&["a", "c"]));
    assert!(matches!(err, DataError::UnknownColumn { ref name, .. } if name == "c"));
}

#[test]
fn csv_class_targets_must_be_non_negative_integers() {
    for bad in ["cat", "-1", "1.5", ""] {
        let (name, err) = csv_err(&format!("a,label\n1,0\n2,{bad}\n"), &class_opts());
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("{name}:3: column 2 (`label`)")),
            "{msg}"
        );
        assert!(msg.contains("is not a class label"), "{msg}");
    }
}

#[test]
fn csv_rejects_non_finite_values_and_bad_selections() {
    let (_, err) = csv_err("a,label\nNaN,0\n", &class_opts());
    assert!(err.to_string().contains("is not a finite number"), "{err}");
    let (_, err) = csv_err("a,a,label\n1,2,0\n", &class_opts().features(&["a"]));
    assert!(err.to_string().contains("more than once"), "{err}");
    let (_, err) = csv_err("a,label\n1,0\n", &class_opts().features(&["label"]));
    assert!(err.to_string().contains("selected twice"), "{err}");
    let (_, err) = csv_err("label\n1\n", &class_opts());
    assert!(err.to_string().contains("no feature columns"), "{err}");
    let two = class_opts().targets(&["a", "label"]);
    let (_, err) = csv_err("a,b,label\n1,2,0\n", &two);
    assert!(err.to_string().contains("exactly one target"), "{err}");
}

#[test]
fn csv_invalid_utf8_is_a_parse_error_with_line() {
    let file = TempFile::new("latin1.csv", b"a,label\n1,0\n\xe9,1\n");
    let err = read_csv(&file.path, &class_opts()).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("{}:3:", file.name())),
        "{err}"
    );
}

#[test]
fn idx_bad_magic_truncation_and_trailing_data() {
    let bad = TempFile::new("bad-magic", [1, 2, 3, 4, 5, 6, 7, 8]);
    let err = read_idx(&bad.path).unwrap_err();
    assert!(err
        .to_string()
        .starts_with(&format!("{}: bad magic 01 02 03 04", bad.name())));
    let float = TempFile::new("float-idx", [0, 0, 0x0d, 1, 0, 0, 0, 0]);
    assert!(read_idx(&float.path)
        .unwrap_err()
        .to_string()
        .contains("unsupported IDX element type 0x0d"));
    let short = TempFile::new("short-idx", idx_bytes(&[2, 2], &[1, 2, 3]));
    let err = read_idx(&short.path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 4,
                actual: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let long = TempFile::new("long-idx", idx_bytes(&[2], &[1, 2, 3]));
    assert!(read_idx(&long.path)
        .unwrap_err()
        .to_string()
        .contains("data after the 2 bytes"));
    let header_cut = TempFile::new("cut-idx", &idx_bytes(&[2, 2], &[])[..9]);
    assert!(read_idx(&header_cut.path)
        .unwrap_err()
        .to_string()
        .contains("inside the header"));
    for tiny in [&[][..], &[0, 0][..]] {
        let f = TempFile::new("tiny-idx", tiny);
        assert!(read_idx(&f.path)
            .unwrap_err()
            .to_string()
            .contains("too short for an IDX header"));
    }
}

#[test]
fn idx_huge_declared_dims_fail_without_allocating() {
    let f = TempFile::new(
        "huge-idx",
        idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[0; 16]),
    );
    let err = read_idx(&f.path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: u64::MAX,
                actual: 16,
                ..
            }
        ),
        "{err:?}"
    );
    let gz = TempFile::new(
        "huge-idx.gz",
        gzip(&idx_bytes(&[4_000_000_000, 1000], &[7; 100])),
    );
    assert!(matches!(
        read_idx(&gz.path).unwrap_err(),
        DataError::Truncated { actual: 100, .. }
    ));
}

#[test]
fn idx_gzip_round_trip_and_truncated_gzip() {
    let raw = idx_bytes(&[3], &[4, 5, 6]);
    let packed = gzip(&raw);
    let good = TempFile::new("labels.gz", &packed);
    assert_eq!(read_idx(&good.path).unwrap().data, vec![4, 5, 6]);
    let cut = TempFile::new("cut.gz", &packed[..packed.len() - 6]);
    let err = read_idx(&cut.path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("{}: corrupt or truncated gzip", cut.name())));
}

#[test]
fn mnist_count_mismatch_and_missing_files() {
    let dir = TempDir::new();
    dir.write("train-images-idx3-ubyte", idx_bytes(&[2, 2, 2], &[0; 8]));
    let labels = dir.write(
        "train-labels-idx1-ubyte.gz",
        gzip(&idx_bytes(&[3], &[0, 1, 2])),
    );
    let err = mnist::load(&dir.path, mnist::Split::Train).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("has 2 images") && msg.contains("has 3 labels"),
        "{msg}"
    );
    assert!(msg.contains(&labels.display().to_string()), "{msg}");
    let err = mnist::load(&dir.path, mnist::Split::Test).unwrap_err();
    assert!(err
        .to_string()
        .contains("neither `t10k-images-idx3-ubyte` nor `t10k-images-idx3-ubyte.gz`"));
}

#[test]
fn mnist_rejects_wrong_ranks_and_labels_out_of_range() {
    let dir = TempDir::new();
    dir.write("train-images-idx3-ubyte", idx_bytes(&[2, 4], &[0; 8]));
    dir.write("train-labels-idx1-ubyte", idx_bytes(&[2], &[0, 10]));
    let err = mnist::load(&dir.path, mnist::Split::Train).unwrap_err();
    assert!(err.to_string().contains("expected 3 dimensions"), "{err}");
    dir.write("train-images-idx3-ubyte", idx_bytes(&[2, 2, 2], &[0; 8]));
    let err = mnist::load(&dir.path, mnist::Split::Train).unwrap_err();
    assert!(
        err.to_string()
            .contains("label 10 of sample 1 is not below 10"),
        "{err}"
    );
}

fn svm_err(text: &str, kind: TargetKind, n: Option<usize>) -> (String, String) {
    let file = TempFile::new("data.svm", text);
    (
        file.name(),
        read_libsvm(&file.path, kind, n).unwrap_err().to_string(),
    )
}

#[test]
fn libsvm_errors_name_file_line_column_and_token() {
    let (name, msg) = svm_err("+1 1:0.5 2:1\n-1 1:0.25 2:abc\n", TargetKind::Class, None);
    assert_eq!(
        msg,
        format!("{name}:2:11: bad token `2:abc`: the value is not a finite number")
    );
    let cases = [
        ("1 0:1\n", "0:1", "integer >= 1"),
        ("1 2:1 2:3\n", "2:3", "strictly increasing"),
        ("1 5\n", "5", "expected `index:value`"),
        ("x 1:1\n", "x", "label is not a finite number"),
        ("1 14:1\n", "14:1", "exceeds n_features = 13"),
    ];
    for (text, token, reason) in cases {
        let (name, msg) = svm_err(text, TargetKind::Value, Some(13));
        assert!(msg.starts_with(&format!("{name}:1:")), "{msg}");
        assert!(
            msg.contains(&format!("`{token}`")) && msg.contains(reason),
            "{msg}"
        );
    }
}

#[test]
fn libsvm_class_labels_are_checked() {
    let (name, msg) = svm_err("-1 1:1\n+1 1:1\n2 1:1\n", TargetKind::Class, None);
    assert!(
        msg.starts_with(&format!("{name}:3:1: bad token `2`")),
        "{msg}"
    );
    assert!(msg.contains("-1 or +1"), "{msg}");
    let (_, msg) = svm_err("0.5 1:1\n", TargetKind::Class, None);
    assert!(msg.contains("must be -1 or an integer"), "{msg}");
}

#[test]
fn libsvm_empty_file_and_comment_only_file() {
    for text in ["", "# only a comment\n\n"] {
        let (name, msg) = svm_err(text, TargetKind::Class, None);
        assert!(
            msg.starts_with(&name) && msg.contains("no data lines"),
            "{msg}"
        );
    }
}

#[test]
fn libsvm_comments_qid_and_label_mapping() {
    let text = "# header comment\n+1 qid:3 1:0.5 3:2 # trailing\n\n-1 qid:3 2:-1\n";
    let file = TempFile::new("ok.svm", text);
    let sp = read_libsvm(&file.path, TargetKind::Class, None).unwrap();
    assert_eq!(
        (sp.len(), sp.x.n_cols(), sp.x.row_ptr()),
        (2, 3, &[0, 2, 3][..])
    );
    let ds = sp.to_dense(None).unwrap();
    assert_eq!(ds.targets().labels(), Some(&[1, 0][..]));
    assert_eq!(ds.features(), &[0.5, 0.0, 2.0, 0.0, -1.0, 0.0]);
    let multi = TempFile::new("multi.svm", "3 1:1\n0 1:2\n1 2:1\n");
    let sp = read_libsvm(&multi.path, TargetKind::Class, None).unwrap();
    assert_eq!(
        sp.targets,
        gradus_data::Targets::Classes {
            labels: vec![3, 0, 1],
            num_classes: 4
        }
    );
    let reg = read_libsvm(&multi.path, TargetKind::Value, None).unwrap();
    assert_eq!(reg.targets.values(), Some(&[3.0, 0.0, 1.0][..]));
}

#[test]
fn missing_files_are_io_errors_naming_the_path() {
    let dir = TempDir::new();
    let path = dir.path.join("absent.csv");
    let err = read_csv(&path, &class_opts()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(err.to_string().starts_with(&path.display().to_string()));
    let err = read_libsvm(&path, TargetKind::Value, None).unwrap_err();
    assert!(err.to_string().starts_with(&path.display().to_string()));
}

/// Deterministic mutations (truncation, byte flips) of valid inputs: every
/// reader must return `Ok` or `Err`, never panic.
#[test]
fn readers_survive_mutated_inputs() {
    use gradus_data::idx::parse_idx;
    use gradus_data::libsvm::read_libsvm_from;
    let csv = b"a,b,label\n1.5,\"2\",0\n3,4,2\n".to_vec();
    let svm = b"+1 qid:1 1:0.5 3:1 # c\n-1 2:-1\n".to_vec();
    let idx = idx_bytes(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    for round in 0..3000 {
        for original in [&csv, &svm, &idx] {
            let mut bytes = original.clone();
            bytes.truncate(next(bytes.len() + 1));
            for _ in 0..round % 4 {
                if !bytes.is_empty() {
                    let i = next(bytes.len());
                    bytes[i] = [b'0', b':', b',', b'\n', b'"', 0xff, 0x00, b'-'][next(8)];
                }
            }
            let _ = read_csv_from(&bytes[..], "m.csv", &class_opts());
            let _ = read_libsvm_from(&bytes[..], "m.svm", TargetKind::Class, None);
            let _ = parse_idx(&bytes[..], "m.idx");
        }
    }
    let packed = gzip(&idx);
    for cut in 0..packed.len() {
        let _ = parse_idx(flate2::read::MultiGzDecoder::new(&packed[..cut]), "m.gz");
    }
}
