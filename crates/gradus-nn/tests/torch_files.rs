//! Files written by PyTorch (`safetensors.torch.save_file` of a `state_dict`) load into the
//! equivalent gradus models and give PyTorch's outputs. The fixtures and their generating script
//! are in `tests/fixtures/`.

use gradus_nn::layers::{Activation, Recurrent};
use gradus_nn::models::{LeNet, Mlp};
use gradus_nn::{state_dict, Module};
use gradus_tensor::{DType, Rng, Tensor};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn check(name: &str, model: &dyn Module) {
    model.cast(DType::F64).unwrap();
    state_dict::load(model, fixture(&format!("torch_{name}.safetensors"))).unwrap();
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("torch_outputs.json")).unwrap())
            .unwrap();
    let case = &all["cases"][name];
    let vec = |k: &str| {
        case[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect::<Vec<f64>>()
    };
    let shape = |k: &str| {
        case[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect::<Vec<usize>>()
    };
    let x = Tensor::from_vec(vec("input"), &shape("input_shape")).unwrap();
    let y = model.forward(&x).unwrap();
    assert_eq!(y.shape(), shape("output_shape").as_slice(), "{name}");
    for (i, (got, want)) in y
        .to_vec::<f64>()
        .unwrap()
        .iter()
        .zip(vec("output"))
        .enumerate()
    {
        assert!(
            (got - want).abs() <= 1e-10 * want.abs().max(1.0),
            "{name}[{i}]: {got} vs PyTorch {want}"
        );
    }
}

#[test]
fn pytorch_mlp_lenet_and_lstm_files_load_and_match_pytorch_outputs() {
    let mut rng = Rng::seed(0);
    check("mlp", &Mlp::new(&[4, 8, 3], Activation::ReLU, &mut rng));
    check("lenet", &LeNet::new(10, &mut rng));
    check("lstm", &Recurrent::lstm(3, 5, 2, &mut rng));
}
