//! Property test: safetensors model files fed random bytes and mutations of a valid file
//! (truncations, byte flips, insertions). Loading must return, never panic; an error names the
//! file and says what is wrong in the file's terms (never a bare `safetensors` variant name);
//! [`check`] accepts exactly the files `safetensors` accepts. `PROPTEST_CASES` sets the number of
//! cases (4096 by default).

use gradus_fuzz::{config, mutated};
use gradus_nn::layers::{Activation, Linear};
use gradus_nn::models::Mlp;
use gradus_nn::safetensors_check::check;
use gradus_nn::{state_dict, NnError};
use gradus_tensor::Rng;
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The names `safetensors` gives its errors; none may reach the user.
const RAW_NAMES: &[&str] = &[
    "MetadataIncompleteBuffer",
    "InvalidHeader",
    "HeaderTooLarge",
    "HeaderTooSmall",
    "InvalidOffset",
    "TensorInvalidInfo",
    "ValidationOverflow",
    "InvalidTensorView",
];

fn model() -> Mlp {
    Mlp::new(&[3, 4, 2], Activation::ReLU, &mut Rng::seed(0))
}

fn temp_path() -> std::path::PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "gradus-nn-fuzz-{}-{}.safetensors",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn safetensors_model_files(bytes in mutated(state_dict::to_bytes(&model()).unwrap())) {
        let accepted = safetensors::SafeTensors::deserialize(&bytes).is_ok();
        prop_assert_eq!(check(&bytes).is_ok(), accepted);
        let path = temp_path();
        std::fs::write(&path, &bytes).unwrap();
        let target = model();
        let result = state_dict::load(&target, &path);
        std::fs::remove_file(&path).ok();
        let Err(err) = result else { return Ok(()) };
        let msg = err.to_string();
        for raw in RAW_NAMES {
            prop_assert!(!msg.contains(raw), "{}", msg);
        }
        match err {
            NnError::Safetensors(_) => {
                prop_assert!(!accepted);
                prop_assert!(msg.starts_with(&format!("{}: ", path.display())), "{}", msg);
            }
            // a well-formed file that does not fit the model names the tensor
            NnError::MissingTensor(_) | NnError::UnexpectedTensor(_)
            | NnError::ShapeMismatch { .. } | NnError::UnsupportedDType { .. } => {
                prop_assert!(accepted);
                prop_assert!(msg.contains('`'), "{}", msg);
            }
            other => prop_assert!(false, "unexpected error {:?}", other),
        }
    }

    /// The single-tensor file of a `Linear`: flips land in the header more often.
    #[test]
    fn small_safetensors_files(bytes in mutated(state_dict::to_bytes(&Linear::new(1, 1, false, &mut Rng::seed(0))).unwrap())) {
        let accepted = safetensors::SafeTensors::deserialize(&bytes).is_ok();
        match check(&bytes) {
            Ok(()) => prop_assert!(accepted),
            Err(e) => {
                prop_assert!(!accepted);
                let msg = e.to_string();
                for raw in RAW_NAMES {
                    prop_assert!(!msg.contains(raw), "{}", msg);
                }
            }
        }
        let target = Linear::new(1, 1, false, &mut Rng::seed(1));
        if state_dict::from_bytes(&target, &bytes).is_ok() {
            prop_assert!(accepted);
        }
    }
}
