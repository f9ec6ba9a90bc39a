//! Reading a safetensors file tensor by tensor, without holding the file in memory.
//!
//! [`SafetensorsReader`] reads the 8-byte length and the JSON header, validates them against the
//! file's size exactly as `safetensors::SafeTensors::deserialize` does (same files accepted), and
//! then reads any tensor's bytes on request with a seek and reads of at most [`CHUNK`] bytes, which
//! the caller decodes straight into the tensor they belong to. Loading a model or a checkpoint
//! therefore needs about one tensor of extra memory (often only one chunk), not a copy of the file.
//!
//! [`TensorSource`] is what loaders read from: a [`SafetensorsReader`] or bytes already in memory
//! (`SafeTensors`).

use crate::safetensors_check::{check, SafetensorsError};
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The largest read a [`SafetensorsReader`] makes for tensor data (1 MiB, a multiple of every
/// element size).
pub const CHUNK: usize = 1 << 20;

/// The largest header `safetensors` reads (100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// Where loaders read named tensors from: their names, dtypes and shapes, and their bytes.
pub trait TensorSource {
    /// Every tensor name.
    fn tensor_names(&self) -> Vec<String>;
    /// The dtype and shape of tensor `name`, if present.
    fn tensor_info(&self, name: &str) -> Option<(Dtype, Vec<usize>)>;
    /// Passes the bytes of tensor `name` to `f`, in order, in pieces that each hold whole
    /// elements.
    ///
    /// # Errors
    /// When the tensor is absent or cannot be read.
    fn read_tensor(&mut self, name: &str, f: &mut dyn FnMut(&[u8])) -> std::io::Result<()>;
}

fn not_found(name: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("no tensor `{name}` in the file"),
    )
}

impl TensorSource for SafeTensors<'_> {
    fn tensor_names(&self) -> Vec<String> {
        self.names().into_iter().cloned().collect()
    }
    fn tensor_info(&self, name: &str) -> Option<(Dtype, Vec<usize>)> {
        self.tensor(name)
            .ok()
            .map(|v| (v.dtype(), v.shape().to_vec()))
    }
    fn read_tensor(&mut self, name: &str, f: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
        let view = self.tensor(name).map_err(|_| not_found(name))?;
        f(view.data());
        Ok(())
    }
}

/// A safetensors file read through `R`: header parsed on creation, tensors read on request.
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_nn::safetensors_reader::{SafetensorsReader, TensorSource};
/// use gradus_tensor::Rng;
/// let bytes = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
/// let mut file = SafetensorsReader::new(std::io::Cursor::new(bytes)).unwrap();
/// assert_eq!(file.tensor_names(), vec!["bias", "weight"]);
/// let mut n = 0;
/// file.read_tensor("weight", &mut |chunk| n += chunk.len()).unwrap();
/// assert_eq!(n, 6 * 4);
/// ```
pub struct SafetensorsReader<R> {
    reader: R,
    /// Offset in the file of the tensor data (8 + header length).
    data_start: u64,
    header: Metadata,
}

impl SafetensorsReader<std::fs::File> {
    /// Opens the file at `path` and reads its header.
    ///
    /// # Errors
    /// [`ReadError::Io`] when it cannot be read, [`ReadError::Invalid`] when it is not a valid
    /// safetensors file.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        SafetensorsReader::new(std::fs::File::open(path)?)
    }
}

/// Why a [`SafetensorsReader`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not a valid safetensors file (what and where).
    #[error(transparent)]
    Invalid(#[from] SafetensorsError),
}

impl<R: Read + Seek> SafetensorsReader<R> {
    /// Reads and validates the header through `reader`; the data is read only on request.
    ///
    /// # Errors
    /// [`ReadError::Invalid`] exactly when `SafeTensors::deserialize` would refuse the whole file,
    /// with the same explanation as [`crate::safetensors_check::check`] (to explain an
    /// inconsistent header against the data, the file is then read once in full: error path
    /// only); [`ReadError::Io`] when reading fails.
    pub fn new(mut reader: R) -> Result<Self, ReadError> {
        let file_len = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(0))?;
        if file_len < 8 {
            return Err(SafetensorsError::TooShort {
                len: file_len as usize,
            }
            .into());
        }
        let mut len = [0u8; 8];
        reader.read_exact(&mut len)?;
        let n = u64::from_le_bytes(len);
        if n > MAX_HEADER {
            return Err(SafetensorsError::HeaderTooLarge { declared: n }.into());
        }
        if 8 + n > file_len {
            return Err(SafetensorsError::TruncatedHeader {
                declared: n,
                actual: (file_len - 8) as usize,
            }
            .into());
        }
        let mut text = vec![0u8; n as usize];
        reader.read_exact(&mut text)?;
        let header = std::str::from_utf8(&text)
            .ok()
            .and_then(|s| serde_json::from_str::<Metadata>(s).ok());
        match header {
            Some(header) if data_len(&header) == Some(file_len - 8 - n) => Ok(SafetensorsReader {
                reader,
                data_start: 8 + n,
                header,
            }),
            _ => Err(explain(&mut reader).into()),
        }
    }

    /// The header's `__metadata__` strings.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.header
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The reader, back (for tests that count what was read).
    pub fn into_inner(self) -> R {
        self.reader
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.header.info(name)
    }
}

impl<R: Read + Seek> TensorSource for SafetensorsReader<R> {
    fn tensor_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.header.tensors().into_keys().collect();
        names.sort();
        names
    }

    fn tensor_info(&self, name: &str) -> Option<(Dtype, Vec<usize>)> {
        self.info(name).map(|i| (i.dtype, i.shape.clone()))
    }

    fn read_tensor(&mut self, name: &str, f: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
        let (begin, end) = self.info(name).ok_or_else(|| not_found(name))?.data_offsets;
        self.reader
            .seek(SeekFrom::Start(self.data_start + begin as u64))?;
        let mut buf = vec![0u8; CHUNK.min(end - begin)];
        let mut left = end - begin;
        while left > 0 {
            let piece = &mut buf[..CHUNK.min(left)];
            self.reader.read_exact(piece)?;
            f(piece);
            left -= piece.len();
        }
        Ok(())
    }
}

/// The data length the header declares when its entries tile it without gaps with the sizes
/// their dtypes and shapes give (`safetensors`' own validation), else `None`.
fn data_len(header: &Metadata) -> Option<u64> {
    let mut infos: Vec<&TensorInfo> = header.tensors().into_values().collect();
    infos.sort_by_key(|i| i.data_offsets);
    let mut start = 0usize;
    for info in infos {
        let (s, e) = info.data_offsets;
        if s != start || e < s {
            return None;
        }
        let numel = info
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))?;
        if numel.checked_mul(info.dtype.size())? != e - s {
            return None;
        }
        start = e;
    }
    Some(start as u64)
}

/// Explains why the file is not valid, reading it in full (error path only).
fn explain<R: Read + Seek>(reader: &mut R) -> SafetensorsError {
    let mut bytes = Vec::new();
    let read = reader
        .seek(SeekFrom::Start(0))
        .and_then(|_| reader.read_to_end(&mut bytes));
    match read {
        Err(e) => SafetensorsError::Other(e.to_string()),
        Ok(_) => check(&bytes)
            .err()
            .unwrap_or_else(|| SafetensorsError::Other("inconsistent header".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Linear;
    use crate::state_dict;
    use gradus_tensor::Rng;
    use std::io::Cursor;

    #[test]
    fn accepts_and_refuses_the_files_safetensors_does() {
        let bytes = state_dict::to_bytes(&Linear::new(3, 2, true, &mut Rng::seed(0))).unwrap();
        let mut cases = vec![
            bytes.clone(),
            bytes[..bytes.len() - 1].to_vec(),
            bytes[..5].to_vec(),
        ];
        let mut longer = bytes.clone();
        longer.push(0);
        cases.push(longer);
        let mut bad_json = bytes.clone();
        bad_json[9] = b'[';
        cases.push(bad_json);
        for case in cases {
            let ours = SafetensorsReader::new(Cursor::new(case.clone())).map(|_| ());
            match (ours, check(&case)) {
                (Ok(()), Ok(())) => {}
                (Err(ReadError::Invalid(a)), Err(b)) => assert_eq!(a, b),
                (ours, theirs) => panic!("reader {ours:?}, safetensors {theirs:?}"),
            }
        }
    }

    #[test]
    fn tensor_bytes_are_those_of_the_file() {
        let bytes = state_dict::to_bytes(&Linear::new(3, 2, true, &mut Rng::seed(0))).unwrap();
        let whole = SafeTensors::deserialize(&bytes).unwrap();
        let mut file = SafetensorsReader::new(Cursor::new(bytes.clone())).unwrap();
        for name in file.tensor_names() {
            let mut got = Vec::new();
            file.read_tensor(&name, &mut |c| got.extend_from_slice(c))
                .unwrap();
            assert_eq!(got, whole.tensor(&name).unwrap().data());
            assert_eq!(
                file.tensor_info(&name),
                TensorSource::tensor_info(&whole, &name)
            );
        }
        assert!(file.read_tensor("nope", &mut |_| {}).is_err());
    }
}
