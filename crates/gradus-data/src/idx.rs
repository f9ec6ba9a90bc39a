//! IDX files, the format of MNIST and Fashion-MNIST, plain or gzipped.
//!
//! Layout: two zero bytes, a type byte (`0x08` = unsigned byte, the only type
//! supported here), the number of dimensions, then one big-endian `u32` per
//! dimension, then the data. MNIST images have magic `0x00000803` (2051:
//! u8, 3 dims), labels `0x00000801` (2049: u8, 1 dim).
//!
//! Files starting with the gzip magic `1f 8b` are decompressed first. The
//! declared dimensions are never used to allocate: at most one byte more than
//! declared is read, and the count is compared, so a lying header (or a gzip
//! bomb) cannot cause a huge allocation or a panic.

use std::io::Read;
use std::path::Path;

use crate::DataError;

/// The IDX type byte for unsigned bytes.
const TYPE_U8: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file.
///
/// ```
/// use gradus_data::idx::parse_idx;
/// let bytes: &[u8] = &[0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9];
/// let a = parse_idx(bytes, "labels.idx")?;
/// assert_eq!((a.dims, a.data), (vec![2], vec![7, 9]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements, row-major; `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes, gzipped (magic `1f 8b`) or not.
///
/// ```
/// use gradus_data::idx::read_idx;
/// let labels = read_idx("../../data/mnist/t10k-labels-idx1-ubyte.gz")?;
/// assert_eq!(labels.dims, vec![10000]);
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::read::MultiGzDecoder::new(&bytes[..]);
        parse_stream(decoder, path, true)
    } else {
        parse_stream(&bytes[..], path, false)
    }
}

/// Parses an uncompressed IDX stream; `source` names it in error messages.
///
/// ```
/// use gradus_data::idx::parse_idx;
/// let bytes: &[u8] = &[0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9];
/// assert_eq!(parse_idx(bytes, "labels.idx")?.data, vec![7, 9]);
/// let err = parse_idx(&bytes[..9], "short.idx").unwrap_err();
/// assert!(err.to_string().starts_with("short.idx: header declares 2 bytes"), "{err}");
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn parse_idx(reader: impl Read, source: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    parse_stream(reader, source.as_ref(), false)
}

/// Reads the header, then at most one byte more than the header declares, so
/// memory grows only with bytes really present (no trust in declared sizes).
fn parse_stream(mut reader: impl Read, path: &Path, gzip: bool) -> Result<IdxArray, DataError> {
    let mut read = |n: u64| -> Result<Vec<u8>, DataError> {
        let mut buf = Vec::new();
        match (&mut reader).take(n).read_to_end(&mut buf) {
            Ok(_) => Ok(buf),
            Err(source) if gzip => Err(DataError::Gzip {
                path: path.to_path_buf(),
                source,
            }),
            Err(source) => Err(DataError::io(path, source)),
        }
    };
    let magic = read(4)?;
    let ndims = check_magic(&magic, path)?;
    let raw_dims = read(4 * ndims as u64)?;
    if raw_dims.len() < 4 * ndims {
        return Err(idx_error(
            path,
            format!(
                "file ends inside the header of {ndims} dimensions: the header takes {} bytes, the file has {}",
                4 + 4 * ndims,
                4 + raw_dims.len()
            ),
        ));
    }
    let dims: Vec<usize> = raw_dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    let data = read(expected.saturating_add(1))?;
    if data.len() as u64 > expected {
        return Err(idx_error(
            path,
            format!("file has data after the {expected} bytes its header declares"),
        ));
    }
    if (data.len() as u64) < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual: data.len() as u64,
        });
    }
    Ok(IdxArray { dims, data })
}

fn idx_error(path: &Path, message: String) -> DataError {
    DataError::Idx {
        path: path.to_path_buf(),
        message,
    }
}

/// Checks `00 00 08 <ndims>` and returns `ndims`.
fn check_magic(magic: &[u8], path: &Path) -> Result<usize, DataError> {
    if magic.len() < 4 {
        return Err(idx_error(
            path,
            format!("file is {} bytes, too short for an IDX header", magic.len()),
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(idx_error(
            path,
            format!(
                "bad magic {:02x} {:02x} {:02x} {:02x}: not an IDX file (expected 00 00 <type> <ndims>)",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    }
    if magic[2] != TYPE_U8 {
        return Err(idx_error(
            path,
            format!(
                "unsupported IDX element type 0x{:02x} (only unsigned bytes, 0x08, are supported)",
                magic[2]
            ),
        ));
    }
    match magic[3] {
        0 => Err(idx_error(path, "IDX header declares 0 dimensions".into())),
        n => Ok(n as usize),
    }
}
