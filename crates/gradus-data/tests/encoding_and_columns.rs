//! Files as spreadsheets and Windows editors save them (a UTF-8 byte-order mark, CRLF line ends)
//! read like plain ones in every text reader; CSV columns are found by name in any order.

mod common;

use common::TempFile;
use gradus_data::csv::{read_csv_table, CsvOptions};
use gradus_data::libsvm::read_libsvm;
use gradus_data::text::read_text;
use gradus_data::{DataError, TargetKind};

/// The file: `\u{feff}area,price` with CRLF. The feature is named `area`.
#[test]
fn a_bom_and_crlf_csv_gives_plain_column_names() {
    let file = TempFile::new("prices.csv", "\u{feff}area,price\r\n100,62\r\n200,74\r\n");
    let opts = CsvOptions::new("price", TargetKind::Value);
    let table = read_csv_table(&file.path, &opts).unwrap();
    assert_eq!(table.feature_names, vec!["area".to_string()]);
    assert_eq!(table.features, vec![100.0, 200.0]);
    let ds = table.into_dataset().unwrap();
    assert_eq!(ds.targets().values(), Some(&[62.0, 74.0][..]));
    // the target itself may be the first, BOM-prefixed column
    let opts = CsvOptions::new("area", TargetKind::Value);
    let table = read_csv_table(&file.path, &opts).unwrap();
    assert_eq!(table.feature_names, vec!["price".to_string()]);
}

/// Named columns come out in the order asked for, whatever the file's order; a missing one is
/// named with the header's columns.
#[test]
fn named_columns_are_found_in_any_order_and_a_missing_one_is_named() {
    let opts = CsvOptions::new("y", TargetKind::Value).features(&["a", "b"]);
    let one = TempFile::new("one.csv", "a,b,y\n1,2,3\n4,5,6\n");
    let other = TempFile::new("other.csv", "y,b,a\n3,2,1\n6,5,4\n");
    let (t1, t2) = (
        read_csv_table(&one.path, &opts).unwrap(),
        read_csv_table(&other.path, &opts).unwrap(),
    );
    assert_eq!((&t1.features, &t1.targets), (&t2.features, &t2.targets));
    assert_eq!(t1.features, vec![1.0, 2.0, 4.0, 5.0]);
    let dropped = TempFile::new("dropped.csv", "y,a\n3,1\n");
    let err = read_csv_table(&dropped.path, &opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: no column named `b` in the header (columns: y, a)",
            dropped.name()
        )
    );
}

/// Inputs to predict from: only the named features, no target, other columns ignored.
#[test]
fn features_only_reads_no_target() {
    let file = TempFile::new("in.csv", "\u{feff}id,area\r\n7,100\r\n8,200\r\n");
    let table = read_csv_table(&file.path, &CsvOptions::features_only(&["area"])).unwrap();
    assert_eq!(
        (table.rows(), table.features.clone(), table.targets.clone()),
        (2, vec![100.0, 200.0], None)
    );
    let err = table.into_dataset().unwrap_err();
    assert!(err.to_string().contains("no target column"), "{err}");
}

#[test]
fn libsvm_ignores_a_byte_order_mark() {
    let plain = TempFile::new("plain.svm", "+1 1:0.5 3:1\n-1 2:2\n");
    let bom = TempFile::new("bom.svm", "\u{feff}+1 1:0.5 3:1\r\n-1 2:2\r\n");
    let (a, b) = (
        read_libsvm(&plain.path, TargetKind::Class, None).unwrap(),
        read_libsvm(&bom.path, TargetKind::Class, None).unwrap(),
    );
    assert_eq!(a, b);
    // a BOM anywhere else is still an error at its place
    let inner = TempFile::new("inner.svm", "+1 1:0.5\n\u{feff}-1 2:2\n");
    let err = read_libsvm(&inner.path, TargetKind::Class, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:1: bad token", inner.name())),
        "{err}"
    );
}

#[test]
fn libsvm_invalid_utf8_names_the_line_and_byte() {
    let file = TempFile::new("latin1.svm", b"+1 1:0.5\n-1 2:\xe9\n");
    let err = read_libsvm(&file.path, TargetKind::Class, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2: byte 6 of the line is not valid UTF-8", file.name())
    );
}

#[test]
fn text_drops_a_byte_order_mark_and_locates_invalid_utf8() {
    let file = TempFile::new("bom.txt", "\u{feff}To be\r\n");
    assert_eq!(read_text(&file.path).unwrap(), "To be\r\n");
    let bad = TempFile::new("bad.txt", b"\xEF\xBB\xBFfirst\nsecond \xC3(\n");
    let err = read_text(&bad.path).unwrap_err();
    assert!(matches!(err, DataError::Parse { line: 2, .. }), "{err:?}");
    // byte 17 of the file: 3 (BOM) + 6 ("first\n") + 7 ("second ") + 1
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: column 8 (byte 17 of the file): invalid UTF-8",
            bad.name()
        )
    );
}

#[test]
fn crlf_and_lf_files_report_the_same_lines() {
    // a bad value on line 4 and a ragged row on line 3, in LF and CRLF (with a BOM) files
    let opts = CsvOptions::new("price", TargetKind::Value);
    for (end, bom) in [("\n", ""), ("\r\n", "\u{feff}")] {
        let text = ["area,price", "1000,1", "2000,2", "3000,x"].join(end) + end;
        let f = TempFile::new("lines.csv", format!("{bom}{text}").as_bytes());
        match read_csv_table(&f.path, &opts).unwrap_err() {
            DataError::BadValue { line, .. } => assert_eq!(line, 4, "{end:?}"),
            e => panic!("{e}"),
        }
        let text = ["area,price", "1000,1", "2000", "3000,3"].join(end) + end;
        let f = TempFile::new("ragged.csv", text.as_bytes());
        match read_csv_table(&f.path, &opts).unwrap_err() {
            DataError::RaggedRow { line, .. } => assert_eq!(line, 3, "{end:?}"),
            e => panic!("{e}"),
        }
    }
}
