//! Model files: safetensors with gradus's own metadata (the model's configuration, the feature
//! scaler, training state) in the header's `__metadata__` map, so one file is enough to rebuild
//! and use a model, and PyTorch still loads its tensors.

use std::collections::BTreeMap;

/// Errors reading a model file's header.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The bytes are not a safetensors file.
    #[error("not a safetensors file: {0}")]
    Format(String),
    /// The file is damaged: truncated, a bad header, inconsistent tensor offsets (what and where).
    #[error(transparent)]
    Damaged(#[from] gradus_nn::safetensors_check::SafetensorsError),
}

/// The header's length and JSON map, after checking the whole file as `safetensors` does, so a
/// damaged model or checkpoint file is reported as such (truncated: with declared and actual
/// sizes) before anything reads its metadata.
fn header(
    bytes: &[u8],
) -> Result<(usize, serde_json::Map<String, serde_json::Value>), ModelFileError> {
    gradus_nn::safetensors_check::check(bytes)?;
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| ModelFileError::Format("shorter than its 8-byte header size".into()))?;
    let json = bytes.get(8..8usize.saturating_add(len)).ok_or_else(|| {
        ModelFileError::Format(format!(
            "header of {len} bytes runs past the end of the file"
        ))
    })?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json)
        .map_err(|e| ModelFileError::Format(format!("header is not JSON: {e}")))?;
    Ok((len, map))
}

/// Returns safetensors `bytes` with `metadata` added to the header (existing keys replaced).
///
/// # Errors
/// When `bytes` is not a safetensors file.
///
/// ```
/// use std::collections::BTreeMap;
/// use gradus_train::model_file::{read_metadata, with_metadata};
/// let empty = safetensors_empty();
/// # fn safetensors_empty() -> Vec<u8> { let h = b"{}      "; let mut v = (h.len() as u64).to_le_bytes().to_vec(); v.extend_from_slice(h); v }
/// let meta = BTreeMap::from([("gradus.model".to_string(), "{\"kind\":\"mlp\"}".to_string())]);
/// let bytes = with_metadata(&empty, &meta).unwrap();
/// assert_eq!(read_metadata(&bytes).unwrap(), meta);
/// ```
pub fn with_metadata(
    bytes: &[u8],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ModelFileError> {
    let (len, mut map) = header(bytes)?;
    let entry = map
        .entry("__metadata__")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if let serde_json::Value::Object(m) = entry {
        for (k, v) in metadata {
            m.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
    }
    let mut json = serde_json::to_vec(&map).map_err(|e| ModelFileError::Format(e.to_string()))?;
    while json.len() % 8 != 0 {
        json.push(b' '); // safetensors pads the header with spaces to keep data aligned
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - len);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + len..]);
    Ok(out)
}

/// The `__metadata__` map of a safetensors file (empty when it has none).
///
/// # Errors
/// When `bytes` is not a safetensors file.
pub fn read_metadata(bytes: &[u8]) -> Result<BTreeMap<String, String>, ModelFileError> {
    let (_, map) = header(bytes)?;
    Ok(match map.get("__metadata__") {
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// Name, dtype and shape of every tensor in a safetensors file, in name order.
///
/// # Errors
/// When `bytes` is not a safetensors file.
pub fn tensor_infos(bytes: &[u8]) -> Result<Vec<(String, String, Vec<usize>)>, ModelFileError> {
    let (_, map) = header(bytes)?;
    let mut out = Vec::new();
    for (name, info) in map.iter().filter(|(k, _)| *k != "__metadata__") {
        let dtype = info
            .get("dtype")
            .and_then(|d| d.as_str())
            .unwrap_or("?")
            .to_string();
        let shape = info
            .get("shape")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_u64().map(|d| d as usize))
                    .collect()
            })
            .unwrap_or_default();
        out.push((name.clone(), dtype, shape));
    }
    Ok(out)
}
