//! A grayscale PNG writer for the small images the report shows inline (MNIST digits): 8-bit
//! gray, one zlib stream of stored (uncompressed) deflate blocks, with the CRC-32 and Adler-32
//! checks of the PNG (ISO/IEC 15948) and zlib (RFC 1950/1951) specifications. A 28×28 digit is
//! under 900 bytes, so compression would buy nothing worth a dependency.

/// An 8-bit grayscale PNG of `width × height` pixels, row-major, 0 black to 255 white.
///
/// # Panics
/// When `pixels.len() != width * height`.
///
/// ```
/// let png = gradus_run::report::png::gray_png(2, 1, &[0, 255]);
/// assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
/// ```
pub fn gray_png(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    assert_eq!(pixels.len(), width * height, "pixels for {width}x{height}");
    let mut raw = Vec::with_capacity((width + 1) * height);
    for row in pixels.chunks(width.max(1)) {
        raw.push(0); // filter type 0: none
        raw.extend_from_slice(row);
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // depth 8, gray, deflate, filter 0, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored deflate blocks (at most 65535 bytes each).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, b) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len())); // BFINAL, BTYPE 00
        let len = b.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// `bytes` as a `data:` URI of media type `mime`, base64-encoded (RFC 4648), for an `<img>`.
///
/// ```
/// assert_eq!(gradus_run::report::png::data_uri("image/png", b"hi!?"), "data:image/png;base64,aGkhPw==");
/// ```
pub fn data_uri(mime: &str, bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = format!("data:{mime};base64,");
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_published_check_values() {
        // the "check" values of the CRC catalogue and of RFC 1950's Adler-32 for "123456789"
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"123456789"), 0x091E_01DE);
        // CRC of the IEND chunk type, as every PNG ends: AE 42 60 82
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn image_layout_is_as_the_spec_says() {
        let png = gray_png(3, 2, &[0, 128, 255, 1, 2, 3]);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..24], &[0, 0, 0, 3, 0, 0, 0, 2]);
        // IDAT payload: zlib header, one final stored block of 8 bytes (2 rows of filter + 3)
        let idat = &png[33 + 8..];
        assert_eq!(&idat[..5], &[0x78, 0x01, 1, 8, 0]);
        assert_eq!(&idat[7..15], &[0, 0, 128, 255, 0, 1, 2, 3]);
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
    }
}
