//! Damaged safetensors files: every way `safetensors` rejects a file is explained with what is
//! wrong and where (bytes of the file, the header's line and column, the tensor's name), and
//! `state_dict::load` names the file.

use gradus_nn::layers::Linear;
use gradus_nn::safetensors_check::{check, SafetensorsError};
use gradus_nn::state_dict;
use gradus_tensor::Rng;

/// A safetensors file with this JSON header (unpadded) and `data` bytes after it.
fn file(header: &str, data: usize) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend(vec![0u8; data]);
    out
}

/// One F32 tensor `w` of shape [2, 3] (24 bytes).
const W: &str = r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#;

fn message(bytes: &[u8]) -> String {
    check(bytes).unwrap_err().to_string()
}

#[test]
fn a_valid_file_passes() {
    check(&file(W, 24)).unwrap();
    let linear = state_dict::to_bytes(&Linear::new(3, 2, true, &mut Rng::seed(0))).unwrap();
    check(&linear).unwrap();
}

/// The case of the issue: the last 10 bytes missing; the message gives both sizes.
#[test]
fn a_file_missing_its_last_bytes_is_truncated_with_declared_and_actual_sizes() {
    let bytes = file(W, 24);
    let n = W.len() as u64;
    let cut = &bytes[..bytes.len() - 10];
    assert_eq!(
        check(cut).unwrap_err(),
        SafetensorsError::Truncated {
            declared: 8 + n + 24,
            header: n,
            data: 24,
            actual: 8 + n + 14,
        }
    );
    assert_eq!(
        message(cut),
        format!(
            "the file is truncated: its header declares {} bytes in all (8 + {n} of header + 24 of tensor data), but the file has {} bytes",
            8 + n + 24,
            8 + n + 14
        )
    );
}

#[test]
fn a_file_cut_inside_its_header_or_its_length_says_so() {
    let bytes = file(W, 24);
    assert_eq!(
        check(&bytes[..20]).unwrap_err(),
        SafetensorsError::TruncatedHeader {
            declared: W.len() as u64,
            actual: 12
        }
    );
    assert!(message(&bytes[..20])
        .starts_with("the file is truncated: bytes 0..8 declare a JSON header of"));
    assert_eq!(
        check(&bytes[..5]).unwrap_err(),
        SafetensorsError::TooShort { len: 5 }
    );
    assert!(message(&[]).contains("0 bytes, shorter than the 8-byte header length"));
}

#[test]
fn extra_bytes_after_the_data_are_counted() {
    let err = check(&file(W, 30)).unwrap_err();
    assert!(
        matches!(
            err,
            SafetensorsError::TrailingBytes {
                extra: 6,
                data: 24,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .starts_with("the file has 6 bytes after the"));
}

#[test]
fn a_huge_header_length_is_not_a_safetensors_file() {
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    assert_eq!(
        check(&bytes).unwrap_err(),
        SafetensorsError::HeaderTooLarge { declared: u64::MAX }
    );
    // text that is not safetensors at all: "PK\x03\x04..." (a zip) reads as a huge length
    assert!(message(b"PK\x03\x04\x14\x00\x00\x00\x08\x00").contains("over the safetensors limit"));
}

#[test]
fn header_errors_give_the_byte_or_the_line_and_column() {
    let mut bytes = file(W, 24);
    bytes[8 + 5] = 0xFF; // inside the name of the dtype key
    assert_eq!(
        check(&bytes).unwrap_err(),
        SafetensorsError::HeaderNotUtf8 {
            at: 13,
            end: 8 + W.len()
        }
    );
    let broken = W.replace("\"shape\":[2,3]", "\"shape\":[2,3");
    let msg = message(&file(&broken, 24));
    assert!(msg.starts_with("the JSON header (bytes 8.."), "{msg}");
    assert!(msg.contains("line 1 column"), "{msg}");
    assert!(message(&file("[1, 2]", 0)).contains("expected a JSON object, found an array"));
    let meta = r#"{"__metadata__":{"epoch":3}}"#;
    assert!(message(&file(meta, 0)).contains("`__metadata__` entry `epoch` must be a string"));
}

#[test]
fn tensor_entries_are_named_with_what_is_wrong() {
    let cases = [
        (
            W.replace("F32", "F31"),
            "tensor `w` in the header: unknown dtype \"F31\"",
        ),
        (
            W.replace("\"shape\":[2,3],", ""),
            "tensor `w` in the header: has no `shape`",
        ),
        (
            W.replace("[2,3]", "[2,-3]"),
            "tensor `w` in the header: `shape` holds -3, not a non-negative integer",
        ),
        (
            W.replace("[0,24]", "[0,24,48]"),
            "tensor `w` in the header: `data_offsets` must be [begin, end], found 3 numbers",
        ),
        // TensorInvalidInfo: the byte range does not fit dtype and shape
        (
            W.replace("[0,24]", "[0,20]"),
            "tensor `w` in the header: F32 of shape [2, 3] takes 24 bytes, but data_offsets [0, 20] span 20",
        ),
        // InvalidOffset: a gap before the tensor
        (
            W.replace("[0,24]", "[4,28]"),
            "tensor `w` in the header: data_offsets [4, 28] begin at byte 4 of the data, but the tensors before end at byte 0",
        ),
        (
            W.replace("[0,24]", "[24,0]"),
            "tensor `w` in the header: data_offsets [24, 0] end before they begin",
        ),
        // ValidationOverflow
        (
            W.replace("[2,3]", "[4294967296,4294967296,16]"),
            "tensor `w` in the header: shape [4294967296, 4294967296, 16] is too large to address",
        ),
    ];
    for (header, expected) in cases {
        let msg = message(&file(&header, 24));
        assert!(msg.starts_with(expected), "{header}\n{msg}");
    }
    // two tensors overlapping: the second one is named
    let two = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
    assert!(message(&file(two, 12))
        .starts_with("tensor `b` in the header: data_offsets [4, 12] begin at byte 4"));
}

#[test]
fn loading_a_damaged_file_names_it() {
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let bytes = state_dict::to_bytes(&model).unwrap();
    let path = std::env::temp_dir().join(format!(
        "gradus-nn-damaged-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = state_dict::load(&model, &path).unwrap_err().to_string();
    std::fs::remove_file(&path).ok();
    assert!(
        err.starts_with(&format!(
            "{}: the file is truncated: its header declares {} bytes",
            path.display(),
            bytes.len()
        )),
        "{err}"
    );
    let missing = state_dict::load(&model, "no/such/model.safetensors")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("no/such/model.safetensors: "), "{missing}");
    let err = state_dict::from_bytes(&model, &bytes[..bytes.len() - 10])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("MetadataIncompleteBuffer"), "{err}");
}
