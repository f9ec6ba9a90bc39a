//! Random and mutated bytes for the fuzz tests of gradus's file readers (CSV, IDX, libsvm, text,
//! TOML configs, safetensors models and checkpoints): a valid file cut short, with bytes flipped,
//! bytes inserted, or all of these; or bytes at random. A dev-dependency only.
//!
//! ```
//! use gradus_fuzz::mutated;
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//! let valid = b"a,b\n1,2\n".to_vec();
//! let bytes = mutated(valid).new_tree(&mut TestRunner::deterministic()).unwrap().current();
//! // at most four edits of at most five bytes each, or random bytes up to 2 x 8 + 16
//! assert!(bytes.len() <= 32);
//! ```

use proptest::prelude::*;
use proptest::sample::Index;

/// One edit of a file.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Keep only a prefix.
    Truncate(Index),
    /// Replace one byte.
    Flip(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
}

/// Bytes that the readers treat specially (digits, separators, quotes, brackets, TOML's `=`,
/// `'` and keywords' letters, NUL, a byte-order mark), to make flips and insertions bite.
const SPECIAL: &[u8] = b"0123456789:,;.=-+_eE\n\r\t \"'{}[]#abcdfglrt\x00\xff\xef\xbb\xbf";

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(SPECIAL)]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<Index>().prop_map(Edit::Truncate),
        (any::<Index>(), byte()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<Index>(), proptest::collection::vec(byte(), 1..6))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
    ]
}

/// Applies `edits` to `bytes` in order.
pub fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        match e {
            Edit::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
            Edit::Flip(i, b) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, b) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
        }
    }
    bytes
}

/// Mutations of `valid` (one to four edits) half the time, random bytes otherwise.
pub fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..valid.len() * 2 + 16);
    prop_oneof![
        3 => proptest::collection::vec(edit(), 1..5).prop_map(move |e| apply(valid.clone(), &e)),
        1 => random,
    ]
}

/// Proptest's settings: `PROPTEST_CASES` cases (4096 by default: a few seconds for all readers on two cores),
/// no regression files written into the source tree.
pub fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
