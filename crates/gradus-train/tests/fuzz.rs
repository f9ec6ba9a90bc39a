//! Property test: checkpoint and model files fed random bytes and mutations of a valid checkpoint
//! (truncations, byte flips, insertions). Resuming from one and reading its metadata must return,
//! never panic; a resume error names the checkpoint file and says what is wrong in the user's
//! terms. `PROPTEST_CASES` sets the number of cases (4096 by default).

use gradus_fuzz::{config, mutated};
use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer, ReduceOnPlateau, Schedule};
use gradus_tensor::{Rng, Tensor};
use gradus_train::checkpoint::{self, RunState};
use gradus_train::model_file::{read_metadata, tensor_infos};
use proptest::prelude::*;

fn setup(seed: u64) -> (Linear, Optimizer, ReduceOnPlateau) {
    let model = Linear::new(3, 2, true, &mut Rng::seed(seed));
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let plateau = ReduceOnPlateau::new(0.1);
    let optimizer = Optimizer::new(Adam::new(Schedule::Shared(plateau.lr())), &params).unwrap();
    (model, optimizer, plateau)
}

/// A valid checkpoint's bytes (model, Adam state after one step, plateau, progress).
fn valid_checkpoint() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    let (model, mut optimizer, plateau) = setup(0);
    let x = Tensor::ones(&[4, 3], gradus_tensor::DType::F32);
    model
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    optimizer.step().unwrap();
    let progress = RunState {
        epoch: 1,
        step: 1,
        ..RunState::default()
    };
    checkpoint::save(&path, &model, &optimizer, Some(&plateau), &progress).unwrap();
    std::fs::read(&path).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn checkpoint_files(bytes in mutated(valid_checkpoint())) {
        let _ = read_metadata(&bytes);
        let _ = tensor_infos(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let (model, mut optimizer, mut plateau) = setup(1);
        if let Err(e) = checkpoint::load(&path, &model, &mut optimizer, Some(&mut plateau)) {
            let msg = e.to_string();
            prop_assert!(msg.starts_with(&format!("checkpoint {}: ", path.display())), "{}", msg);
            for raw in ["MetadataIncompleteBuffer", "InvalidOffset", "TensorInvalidInfo", "HeaderTooLarge", "InvalidHeader"] {
                prop_assert!(!msg.contains(raw), "{}", msg);
            }
        }
    }
}
