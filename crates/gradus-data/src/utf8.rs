//! Text decoding shared by the text readers: a UTF-8 byte-order mark is dropped (spreadsheets and
//! Windows editors write one when saving "UTF-8"), and invalid UTF-8 is an error naming the line,
//! the column and the byte offset where it starts.

use std::path::Path;

use crate::DataError;

/// The UTF-8 encoding of U+FEFF, the byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` without a leading UTF-8 byte-order mark.
///
/// ```
/// use gradus_data::utf8::strip_bom;
/// assert_eq!(strip_bom(b"\xEF\xBB\xBFarea"), b"area");
/// assert_eq!(strip_bom(b"area"), b"area");
/// ```
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// Decodes a whole file's bytes as UTF-8 text, without a leading byte-order mark.
///
/// # Errors
/// [`DataError::Parse`] at the first invalid byte, naming `path`, the 1-based line, and in the
/// message the 1-based column (in characters) and the byte offset in the file.
///
/// ```
/// use gradus_data::utf8::decode;
/// assert_eq!(decode(b"\xEF\xBB\xBFab\r\n".to_vec(), "t.txt")?, "ab\r\n");
/// let err = decode(b"ok\nx\xFFy".to_vec(), "t.txt").unwrap_err();
/// assert_eq!(err.to_string(), "t.txt:2: column 2 (byte 5 of the file): invalid UTF-8");
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn decode(mut bytes: Vec<u8>, path: impl AsRef<Path>) -> Result<String, DataError> {
    let skip = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    if let Err(e) = std::str::from_utf8(&bytes[skip..]) {
        let valid = &bytes[skip..skip + e.valid_up_to()];
        return Err(invalid_at(path.as_ref(), valid, skip));
    }
    bytes.drain(..skip);
    Ok(String::from_utf8(bytes).expect("checked above"))
}

/// The error for invalid UTF-8 right after `valid` (the valid text before it, which starts
/// `skip` bytes into the file); bytes are counted from 1.
fn invalid_at(path: &Path, valid: &[u8], skip: usize) -> DataError {
    let text = std::str::from_utf8(valid).expect("the valid prefix");
    let line = text.matches('\n').count() as u64 + 1;
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    DataError::Parse {
        path: path.to_path_buf(),
        line,
        message: format!(
            "column {column} (byte {} of the file): invalid UTF-8",
            skip + valid.len() + 1
        ),
    }
}
