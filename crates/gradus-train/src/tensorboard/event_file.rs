//! The record framing of TensorBoard's event files (TensorFlow's `TFRecord`): each record is
//!
//! ```text
//! u64 little-endian   length of the payload
//! u32 little-endian   masked CRC-32C of those 8 length bytes
//! [length bytes]      the payload (a serialized `Event`)
//! u32 little-endian   masked CRC-32C of the payload
//! ```
//!
//! where the mask is TensorFlow's `crc32c::Mask`: `((crc >> 15) | (crc << 17)) + 0xa282ead8`.

use crc::{Crc, CRC_32_ISCSI};
use std::io::{self, Write};

/// CRC-32C (Castagnoli), the checksum of TFRecord files.
const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// The CRC-32C of `data`.
///
/// ```
/// // the check value of CRC-32C (RFC 3720)
/// assert_eq!(gradus_train::tensorboard::event_file::crc32c(b"123456789"), 0xe306_9283);
/// ```
pub fn crc32c(data: &[u8]) -> u32 {
    CRC32C.checksum(data)
}

/// The masked CRC-32C TFRecord stores (TensorFlow's `crc32c::Mask`, so that a CRC of data that
/// itself holds CRCs does not look like one).
///
/// ```
/// assert_eq!(gradus_train::tensorboard::event_file::masked_crc32c(b"123456789"), 0xc78a_b0e5);
/// ```
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Writes one record (length, its masked CRC, `payload`, its masked CRC) to `out`.
///
/// # Errors
/// When `out` fails to take the bytes.
///
/// ```
/// let mut out = Vec::new();
/// gradus_train::tensorboard::event_file::write_record(&mut out, b"abc").unwrap();
/// assert_eq!(out.len(), 8 + 4 + 3 + 4);
/// assert_eq!(&out[..8], &3u64.to_le_bytes());
/// ```
pub fn write_record(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut header = [0u8; 12];
    header[..8].copy_from_slice(&len);
    header[8..].copy_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.write_all(&header)?;
    out.write_all(payload)?;
    out.write_all(&masked_crc32c(payload).to_le_bytes())
}

/// Reads the records written by [`write_record`] back, checking both CRCs (for tests and tools;
/// TensorBoard has its own reader).
///
/// # Errors
/// A truncated record or a CRC that does not match, naming the record's byte offset.
///
/// ```
/// use gradus_train::tensorboard::event_file::{read_records, write_record};
/// let mut out = Vec::new();
/// write_record(&mut out, b"one").unwrap();
/// write_record(&mut out, b"two").unwrap();
/// assert_eq!(read_records(&out).unwrap(), vec![b"one".to_vec(), b"two".to_vec()]);
/// ```
pub fn read_records(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let total = bytes.len();
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let at = total - bytes.len();
        let truncated = || format!("event file: record at byte {at} is truncated");
        if bytes.len() < 12 {
            return Err(truncated());
        }
        let (len_bytes, rest) = bytes.split_at(8);
        let stored = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        if stored != masked_crc32c(len_bytes) {
            return Err(format!(
                "event file: record at byte {at}: length CRC does not match"
            ));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let rest = &rest[4..];
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n.checked_add(4).is_some_and(|m| m <= rest.len()))
            .ok_or_else(truncated)?;
        let (payload, rest) = rest.split_at(len);
        let stored = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        if stored != masked_crc32c(payload) {
            return Err(format!(
                "event file: record at byte {at}: payload CRC does not match"
            ));
        }
        records.push(payload.to_vec());
        bytes = &rest[4..];
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_values() {
        // RFC 3720 (iSCSI), appendix B.4
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46dd_794e);
    }

    #[test]
    fn masked_crc_matches_tensorboards_own() {
        // values from tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c
        assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc32c(&24u64.to_le_bytes()), 0x224b_7fa3);
    }

    #[test]
    fn a_record_is_length_crc_payload_crc() {
        let mut out = Vec::new();
        write_record(&mut out, b"123456789").unwrap();
        assert_eq!(&out[..8], &9u64.to_le_bytes());
        assert_eq!(
            &out[8..12],
            &masked_crc32c(&9u64.to_le_bytes()).to_le_bytes()
        );
        assert_eq!(&out[12..21], b"123456789");
        assert_eq!(&out[21..], &0xc78a_b0e5u32.to_le_bytes());
    }

    #[test]
    fn reading_back_finds_corruption_and_truncation() {
        let mut out = Vec::new();
        write_record(&mut out, b"payload").unwrap();
        assert_eq!(read_records(&out).unwrap(), vec![b"payload".to_vec()]);
        let mut bad = out.clone();
        bad[14] ^= 1;
        assert!(read_records(&bad).unwrap_err().contains("payload CRC"));
        let mut bad = out.clone();
        bad[0] ^= 1;
        assert!(read_records(&bad).unwrap_err().contains("length CRC"));
        assert!(read_records(&out[..out.len() - 1])
            .unwrap_err()
            .contains("truncated"));
    }
}
