//! What is wrong with a safetensors file, in the file's own terms.
//!
//! The `safetensors` crate answers a damaged file with a bare variant name
//! (`MetadataIncompleteBuffer`, `InvalidOffset("x")`...). [`check`] accepts exactly the files that
//! `SafeTensors::deserialize` accepts and explains every rejection with sizes and places: a
//! truncated file with the size its header declares and the size it has, a header that is not
//! JSON with the line and column in the header, a bad tensor entry by its name.
//!
//! Layout of a safetensors file: 8 bytes (little-endian `u64`) giving the length `n` of a JSON
//! header; the header (bytes `8..8+n`), mapping tensor names to `{"dtype", "shape",
//! "data_offsets": [begin, end]}` (offsets into the data that follows, tiling it without gaps)
//! and an optional `"__metadata__"` map of strings; then the tensor data, to the end of the file.

use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde_json::Value;

/// The largest header `safetensors` reads (100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// Why bytes are not a valid safetensors file. `Display` says where, in bytes of the file, in the
/// header's lines and columns, or by tensor name.
///
/// ```
/// use gradus_nn::safetensors_check::{check, SafetensorsError};
/// let err = check(b"\x02\x00\x00\x00\x00\x00\x00\x00{").unwrap_err();
/// assert!(matches!(err, SafetensorsError::TruncatedHeader { declared: 2, actual: 1 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// Fewer than the 8 bytes that give the header's length.
    #[error("the file is {len} bytes, shorter than the 8-byte header length that starts a safetensors file (truncated, or not a safetensors file)")]
    TooShort {
        /// The file's size.
        len: usize,
    },
    /// The header length (bytes 0..8) is beyond what any safetensors file has.
    #[error("bytes 0..8 declare a header of {declared} bytes, over the safetensors limit of 100 MB (not a safetensors file, or a corrupt one)")]
    HeaderTooLarge {
        /// The declared header length.
        declared: u64,
    },
    /// The file ends inside its JSON header.
    #[error("the file is truncated: bytes 0..8 declare a JSON header of {declared} bytes, but only {actual} bytes follow them")]
    TruncatedHeader {
        /// The declared header length.
        declared: u64,
        /// Bytes after the first 8.
        actual: usize,
    },
    /// The header is not UTF-8 text.
    #[error("the JSON header (bytes 8..{end}) is not valid UTF-8 at byte {at} of the file")]
    HeaderNotUtf8 {
        /// 0-based offset in the file of the first invalid byte.
        at: usize,
        /// End of the header (exclusive), in bytes of the file.
        end: usize,
    },
    /// The header is not JSON, or not a safetensors header.
    #[error("the JSON header (bytes 8..{end}) is invalid: {detail}")]
    Header {
        /// End of the header (exclusive), in bytes of the file.
        end: usize,
        /// What is wrong, with the line and column in the header where JSON parsing failed.
        detail: String,
    },
    /// A tensor entry of the header is inconsistent.
    #[error("tensor `{name}` in the header: {detail}")]
    Tensor {
        /// The tensor's name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The file ends before the tensor data the header declares.
    #[error("the file is truncated: its header declares {declared} bytes in all (8 + {header} of header + {data} of tensor data), but the file has {actual} bytes")]
    Truncated {
        /// The size the header declares.
        declared: u64,
        /// The header length.
        header: u64,
        /// The tensor data length the header declares.
        data: u64,
        /// The file's size.
        actual: u64,
    },
    /// The file goes on after the tensor data the header declares.
    #[error("the file has {extra} bytes after the {declared} bytes its header declares (8 + {header} of header + {data} of tensor data)")]
    TrailingBytes {
        /// The size the header declares.
        declared: u64,
        /// The header length.
        header: u64,
        /// The tensor data length the header declares.
        data: u64,
        /// Bytes beyond `declared`.
        extra: u64,
    },
    /// Anything else the `safetensors` crate reports.
    #[error("not a valid safetensors file: {0}")]
    Other(String),
}

/// Checks that `bytes` are a safetensors file, explaining any problem in the file's terms.
///
/// # Errors
/// Exactly when `safetensors::SafeTensors::deserialize` fails, with a [`SafetensorsError`]
/// saying what and where.
///
/// ```
/// use gradus_nn::{layers::Linear, safetensors_check::check, state_dict};
/// use gradus_tensor::Rng;
/// let bytes = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
/// assert!(check(&bytes).is_ok());
/// let err = check(&bytes[..bytes.len() - 10]).unwrap_err();
/// assert!(err.to_string().starts_with("the file is truncated"), "{err}");
/// ```
pub fn check(bytes: &[u8]) -> Result<(), SafetensorsError> {
    match SafeTensors::deserialize(bytes) {
        Ok(_) => Ok(()),
        Err(e) => Err(explain(bytes, e)),
    }
}

/// The header length declared by bytes 0..8 (the caller checked there are 8).
fn declared_len(bytes: &[u8]) -> u64 {
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(n)
}

/// Turns a `safetensors` error on `bytes` into one that says what and where.
fn explain(bytes: &[u8], err: SafeTensorError) -> SafetensorsError {
    if bytes.len() < 8 {
        return SafetensorsError::TooShort { len: bytes.len() };
    }
    let n = declared_len(bytes);
    if n > MAX_HEADER {
        return SafetensorsError::HeaderTooLarge { declared: n };
    }
    let end = 8 + n as usize;
    if end > bytes.len() {
        return SafetensorsError::TruncatedHeader {
            declared: n,
            actual: bytes.len() - 8,
        };
    }
    let text = match std::str::from_utf8(&bytes[8..end]) {
        Ok(t) => t,
        Err(e) => {
            return SafetensorsError::HeaderNotUtf8 {
                at: 8 + e.valid_up_to(),
                end,
            }
        }
    };
    let header = |detail: String| SafetensorsError::Header { end, detail };
    let map = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(other) => return header(format!("expected a JSON object, found {}", kind(&other))),
        Err(e) => return header(e.to_string()),
    };
    let mut tensors = Vec::new();
    for (name, entry) in &map {
        if name == "__metadata__" {
            if let Err(detail) = metadata(entry) {
                return header(format!("`__metadata__` {detail}"));
            }
            continue;
        }
        match tensor_info(entry) {
            Ok(info) => tensors.push((name.as_str(), info)),
            Err(detail) => {
                return SafetensorsError::Tensor {
                    name: name.clone(),
                    detail,
                }
            }
        }
    }
    if let Some(e) = tiling(&mut tensors) {
        return e;
    }
    let data = tensors.last().map_or(0, |(_, t)| t.offsets.1);
    let (declared, actual) = (8 + n + data, bytes.len() as u64);
    if actual < declared {
        return SafetensorsError::Truncated {
            declared,
            header: n,
            data,
            actual,
        };
    }
    if actual > declared {
        return SafetensorsError::TrailingBytes {
            declared,
            header: n,
            data,
            extra: actual - declared,
        };
    }
    SafetensorsError::Other(err.to_string())
}

/// A tensor entry of the header.
struct Info {
    dtype: Dtype,
    shape: Vec<u64>,
    offsets: (u64, u64),
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `__metadata__` must map names to strings (or be null).
fn metadata(v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    let Value::Object(m) = v else {
        return Err(format!("must be an object of strings, found {}", kind(v)));
    };
    match m.iter().find(|(_, v)| !v.is_string()) {
        Some((k, v)) => Err(format!("entry `{k}` must be a string, found {}", kind(v))),
        None => Ok(()),
    }
}

fn unsigned_list(v: Option<&Value>, field: &str) -> Result<Vec<u64>, String> {
    let items = match v {
        Some(Value::Array(a)) => a,
        Some(other) => return Err(format!("`{field}` must be a list, found {}", kind(other))),
        None => return Err(format!("has no `{field}`")),
    };
    items
        .iter()
        .map(|x| {
            x.as_u64()
                .ok_or_else(|| format!("`{field}` holds {x}, not a non-negative integer"))
        })
        .collect()
}

/// Parses `{"dtype", "shape", "data_offsets"}` as `safetensors` does.
fn tensor_info(v: &Value) -> Result<Info, String> {
    let Value::Object(m) = v else {
        return Err(format!(
            "expected {{\"dtype\", \"shape\", \"data_offsets\"}}, found {}",
            kind(v)
        ));
    };
    let dtype = match m.get("dtype") {
        Some(d) => serde_json::from_value::<Dtype>(d.clone())
            .map_err(|_| format!("unknown dtype {d} (expected F32, F64, I64, ...)"))?,
        None => return Err("has no `dtype`".into()),
    };
    let shape = unsigned_list(m.get("shape"), "shape")?;
    let offsets = unsigned_list(m.get("data_offsets"), "data_offsets")?;
    let [begin, end] = offsets[..] else {
        return Err(format!(
            "`data_offsets` must be [begin, end], found {} numbers",
            offsets.len()
        ));
    };
    Ok(Info {
        dtype,
        shape,
        offsets: (begin, end),
    })
}

/// Checks that the tensors, in offset order, tile the data section and that each one's byte
/// range fits its dtype and shape; the first problem found.
fn tiling(tensors: &mut [(&str, Info)]) -> Option<SafetensorsError> {
    tensors.sort_by_key(|(_, t)| t.offsets);
    let mut start = 0u64;
    for (name, t) in tensors.iter() {
        let bad = |detail: String| {
            Some(SafetensorsError::Tensor {
                name: name.to_string(),
                detail,
            })
        };
        let (b, e) = t.offsets;
        if e < b {
            return bad(format!("data_offsets [{b}, {e}] end before they begin"));
        }
        if b != start {
            return bad(format!(
                "data_offsets [{b}, {e}] begin at byte {b} of the data, but the tensors before end at byte {start} (tensors must tile the data without gaps or overlaps)"
            ));
        }
        let size = t
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .and_then(|n| n.checked_mul(t.dtype.size() as u64))
            .filter(|&n| usize::try_from(n).is_ok());
        let Some(size) = size else {
            return bad(format!("shape {:?} is too large to address", t.shape));
        };
        if e - b != size {
            return bad(format!(
                "{:?} of shape {:?} takes {size} bytes, but data_offsets [{b}, {e}] span {}",
                t.dtype,
                t.shape,
                e - b
            ));
        }
        start = e;
    }
    None
}
