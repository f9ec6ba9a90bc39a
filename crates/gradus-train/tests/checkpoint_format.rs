//! The checkpoint file: a valid safetensors file whose model tensors keep their names and whose
//! optimizer buffers are tensors named `optimizer.<path>.<slot>.<param>`; a file from an older
//! gradus, a damaged file, another model or another optimizer each get an error that blames the
//! right thing.

use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Adam, Lookahead, Optimizer, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::checkpoint::{self, RunState};
use gradus_train::model_file::{read_metadata, with_metadata};
use safetensors::SafeTensors;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn params(model: &Linear) -> Vec<Tensor> {
    model.parameters().iter().map(|p| p.tensor()).collect()
}

fn step(model: &Linear, optimizer: &mut Optimizer) {
    optimizer.zero_grad();
    let x = Tensor::ones(&[4, 3], DType::F32);
    let y = model.forward(&x).unwrap();
    y.mul(&y).unwrap().sum_all().unwrap().backward().unwrap();
    optimizer.step().unwrap();
}

/// A checkpoint of a `Linear(3, 2)` after one step of `optimizer`, in `dir`.
fn saved(dir: &Path, optimizer: impl FnOnce(&[Tensor]) -> Optimizer) -> PathBuf {
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let mut opt = optimizer(&params(&model));
    step(&model, &mut opt);
    let path = dir.join("checkpoint.safetensors");
    let progress = RunState {
        step: 1,
        ..RunState::default()
    };
    checkpoint::save(&path, &model, &opt, None, &progress).unwrap();
    path
}

fn adam(p: &[Tensor]) -> Optimizer {
    Optimizer::new(Adam::new(1e-2), p).unwrap()
}

fn load_err(path: &Path, model: &Linear, optimizer: &mut Optimizer) -> String {
    checkpoint::load(path, model, optimizer, None)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_file_is_safetensors_with_model_names_and_optimizer_tensors_and_a_small_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), adam);
    let bytes = std::fs::read(&path).unwrap();
    let mut file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = file.names().into_iter().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bias",
            "optimizer.0.exp_avg.0",
            "optimizer.0.exp_avg.1",
            "optimizer.0.exp_avg_sq.0",
            "optimizer.0.exp_avg_sq.1",
            "weight"
        ]
    );
    let w = file.tensor("optimizer.0.exp_avg.0").unwrap();
    assert_eq!(
        (w.dtype(), w.shape()),
        (safetensors::Dtype::F32, &[2usize, 3][..])
    );
    let meta = read_metadata(&bytes).unwrap();
    assert!(!meta.contains_key("gradus.optimizer"));
    assert!(meta["gradus.optimizer_state"].contains("\"slot_names\":[\"exp_avg\",\"exp_avg_sq\"]"));
    // the model's keys load as a model, the optimizer's are ignored (PyTorch's strict=False)
    let other = Linear::new(3, 2, true, &mut Rng::seed(5));
    gradus_nn::state_dict::load_from(&other, &mut file, &|n| n.starts_with("optimizer.")).unwrap();
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let mut opt = adam(&params(&model));
    step(&model, &mut opt);
    assert_eq!(
        params(&other)[0].to_vec::<f32>().unwrap(),
        params(&model)[0].to_vec::<f32>().unwrap()
    );
}

#[test]
fn nested_states_round_trip_under_inner_paths() {
    let dir = tempfile::tempdir().unwrap();
    let lookahead =
        |p: &[Tensor]| Optimizer::new(Lookahead::new(Adam::new(1e-2), 2, 0.5), p).unwrap();
    let path = saved(dir.path(), lookahead);
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    for name in ["optimizer.0.slow.1", "optimizer.0.inner.0.exp_avg_sq.1"] {
        assert!(file.tensor(name).is_ok(), "{name}");
    }
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let mut straight = lookahead(&params(&model));
    step(&model, &mut straight);
    step(&model, &mut straight);
    let resumed = Linear::new(3, 2, true, &mut Rng::seed(3));
    let mut opt = lookahead(&params(&resumed));
    checkpoint::load(&path, &resumed, &mut opt, None).unwrap();
    step(&resumed, &mut opt);
    assert_eq!(opt.state_dict(), straight.state_dict());
    assert_eq!(
        params(&resumed)[0].to_vec::<f32>().unwrap(),
        params(&model)[0].to_vec::<f32>().unwrap()
    );
}

#[test]
fn a_checkpoint_of_an_older_gradus_says_so_and_how_to_proceed() {
    let dir = tempfile::tempdir().unwrap();
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let mut opt = adam(&params(&model));
    step(&model, &mut opt);
    let mut meta = BTreeMap::new();
    let progress = serde_json::to_string(&RunState::default()).unwrap();
    meta.insert("gradus.progress".to_string(), progress);
    meta.insert(
        "gradus.optimizer".to_string(),
        serde_json::to_string(&opt.state_dict()).unwrap(),
    );
    let bytes = gradus_nn::state_dict::to_bytes(&model).unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    std::fs::write(&path, with_metadata(&bytes, &meta).unwrap()).unwrap();
    let msg = load_err(&path, &model, &mut opt);
    assert!(
        msg.contains("older gradus") && msg.contains("without --resume"),
        "{msg}"
    );
}

#[test]
fn an_older_checkpoint_with_a_header_over_100_mb_is_named_as_such_not_as_a_bad_model() {
    // What gradus wrote before for 5.8 M parameters: bytes 0..8 declare a 156 MB JSON header that
    // starts with the metadata and its optimizer state. The reader decides from the first MiB.
    let mut bytes = 156_000_000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{\"__metadata__\":{\"gradus.optimizer\":\"[{\\\"count\\\":10,\\\"slot_names\\\":[\\\"exp_avg\\\"");
    bytes.extend(std::iter::repeat_n(b'0', 4096));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let mut opt = adam(&params(&model));
    let msg = load_err(&path, &model, &mut opt);
    assert!(
        msg.contains("older gradus") && msg.contains("without --resume"),
        "{msg}"
    );
    assert!(
        !msg.contains("model") || !msg.contains("does not match"),
        "{msg}"
    );
}

#[test]
fn a_damaged_checkpoint_is_called_damaged_with_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), adam);
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 10]).unwrap();
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    let mut opt = adam(&params(&model));
    let msg = load_err(&path, &model, &mut opt);
    assert!(
        msg.contains("damaged") && msg.contains("truncated"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("the file has {} bytes", full.len() - 10)),
        "{msg}"
    );
    assert!(!msg.contains("does not match"), "{msg}");
}

#[test]
fn another_model_is_named_by_its_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), adam);
    let model = Linear::new(4, 2, true, &mut Rng::seed(0));
    let mut opt = adam(&params(&model));
    let msg = load_err(&path, &model, &mut opt);
    assert!(
        msg.contains("does not match the model") && msg.contains("weight"),
        "{msg}"
    );
}

#[test]
fn another_optimizer_is_named_by_its_slots_and_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), adam);
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));

    let mut sgd = Optimizer::new(Sgd::new(0.1).momentum(0.9), &params(&model)).unwrap();
    let msg = load_err(&path, &model, &mut sgd);
    assert!(
        msg.contains("does not match the optimizer")
            && msg.contains(
                "[\"exp_avg\", \"exp_avg_sq\"] in the checkpoint but [\"momentum_buffer\"]"
            ),
        "{msg}"
    );

    let mut fewer = adam(&params(&model)[..1]);
    let msg = load_err(&path, &model, &mut fewer);
    assert!(
        msg.contains("buffers for 2 parameters in the checkpoint but 1"),
        "{msg}"
    );

    let mut reversed: Vec<Tensor> = params(&model);
    reversed.reverse();
    let mut swapped = adam(&reversed);
    let msg = load_err(&path, &model, &mut swapped);
    assert!(
        msg.contains("tensor `optimizer.0.exp_avg.0` (exp_avg of parameter 0) is [2, 3] F32 in the checkpoint but [2] F32"),
        "{msg}"
    );

    // the first parameter matches, the second does not: nothing is restored, not even the
    // model (whose tensors do match: the saved ones are one step further)
    let weight = params(&model)[0].clone();
    let mut half = adam(&[weight.clone(), weight.clone()]);
    let before = half.state_dict();
    let weights = weight.to_vec::<f32>().unwrap();
    let msg = load_err(&path, &model, &mut half);
    assert!(msg.contains("tensor `optimizer.0.exp_avg.1` (exp_avg of parameter 1) is [2] F32 in the checkpoint but [2, 3] F32"), "{msg}");
    assert_eq!(half.state_dict(), before);
    assert_eq!(weight.to_vec::<f32>().unwrap(), weights);
}
