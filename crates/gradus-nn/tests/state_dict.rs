//! Safetensors state dicts: PyTorch names, bitwise round trips for every ready model, strict
//! loading errors, and module bookkeeping (freezing, training mode, tied weights).

use gradus_nn::layers::{Activation, BatchNorm, Dropout, Linear, Sequential};
use gradus_nn::models::{Gpt, GptConfig, LeNet, LstmClassifier, MatrixFactorization, Mlp};
use gradus_nn::{state_dict, Module, NnError};
use gradus_tensor::{DType, Rng, Tensor};
use safetensors::{Dtype, SafeTensors};

fn temp_file(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "gradus-nn-{}-{tag}.safetensors",
        std::process::id()
    ))
}

/// Saves `a` to a file, loads it into `b` (differently seeded) and compares outputs bitwise.
fn round_trip(tag: &str, a: &dyn Module, b: &dyn Module, x: &Tensor) {
    a.eval();
    b.eval();
    let path = temp_file(tag);
    state_dict::save(a, &path).unwrap();
    assert_ne!(
        a.forward(x).unwrap().to_vec_f64(),
        b.forward(x).unwrap().to_vec_f64(),
        "{tag}: seeds should differ"
    );
    state_dict::load(b, &path).unwrap();
    std::fs::remove_file(&path).ok();
    let (ya, yb) = (
        a.forward(x).unwrap().to_vec_f64(),
        b.forward(x).unwrap().to_vec_f64(),
    );
    assert!(
        ya.iter().zip(&yb).all(|(p, q)| p.to_bits() == q.to_bits()),
        "{tag}: outputs differ after loading"
    );
}

fn ids(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

#[test]
fn every_model_round_trips_bitwise() {
    let (r0, r1) = (&mut Rng::seed(0), &mut Rng::seed(1));
    let x = Rng::seed(9).normal(&[3, 4], 0.0, 1.0, DType::F32);
    round_trip(
        "mlp",
        &Mlp::new(&[4, 8, 2], Activation::GELU, r0),
        &Mlp::new(&[4, 8, 2], Activation::GELU, r1),
        &x,
    );
    let img = Rng::seed(9).normal(&[2, 1, 28, 28], 0.0, 1.0, DType::F32);
    round_trip("lenet", &LeNet::new(10, r0), &LeNet::new(10, r1), &img);
    let seq = Rng::seed(9).normal(&[2, 5, 3], 0.0, 1.0, DType::F32);
    round_trip(
        "lstm",
        &LstmClassifier::new(3, 6, 2, 4, r0),
        &LstmClassifier::new(3, 6, 2, 4, r1),
        &seq,
    );
    let cfg = GptConfig {
        vocab: 13,
        block_size: 8,
        embed_dim: 8,
        heads: 2,
        layers: 2,
        tie_weights: true,
    };
    round_trip(
        "gpt",
        &Gpt::new(cfg, r0),
        &Gpt::new(cfg, r1),
        &ids(&[1.0, 5.0, 12.0, 0.0], &[1, 4]),
    );
    let pairs = ids(&[0.0, 1.0, 3.0, 2.0], &[2, 2]);
    round_trip(
        "mf",
        &MatrixFactorization::new(4, 3, 2, r0),
        &MatrixFactorization::new(4, 3, 2, r1),
        &pairs,
    );
}

#[test]
fn batchnorm_buffers_round_trip_with_pytorch_dtypes() {
    let make = || {
        Sequential::new()
            .push(Linear::new(3, 4, true, &mut Rng::seed(0)))
            .push(BatchNorm::new_1d(4))
    };
    let (a, b) = (make(), make());
    a.forward(&Rng::seed(2).normal(&[6, 3], 1.0, 2.0, DType::F32))
        .unwrap(); // moves the running stats
    let bytes = state_dict::to_bytes(&a).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        file.tensor("1.num_batches_tracked").unwrap().dtype(),
        Dtype::I64
    );
    assert_eq!(file.tensor("1.running_var").unwrap().dtype(), Dtype::F32);
    assert_eq!(file.tensor("0.weight").unwrap().shape(), &[4, 3]);
    let x = Rng::seed(3).normal(&[2, 3], 0.0, 1.0, DType::F32);
    round_trip("bn", &a, &b, &x);
    assert_eq!(b.named_buffers()[2].1.tensor().item().unwrap(), 1.0);
}

#[test]
fn an_f32_file_loads_into_an_f64_model() {
    let a = Linear::new(2, 2, true, &mut Rng::seed(0));
    let b = Linear::new(2, 2, true, &mut Rng::seed(1));
    b.cast(DType::F64).unwrap();
    state_dict::from_bytes(&b, &state_dict::to_bytes(&a).unwrap()).unwrap();
    assert_eq!(b.weight.tensor().dtype(), DType::F64);
    assert_eq!(
        b.weight.tensor().to_vec_f64(),
        a.weight.tensor().to_vec_f64()
    );
}

#[test]
fn names_follow_pytorch() {
    let mlp = Mlp::new(&[2, 3, 3, 1], Activation::ReLU, &mut Rng::seed(0));
    let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    );
    let gpt = Gpt::new(
        GptConfig {
            vocab: 7,
            layers: 1,
            ..Default::default()
        },
        &mut Rng::seed(0),
    );
    let sd = state_dict::state_dict(&gpt);
    for name in [
        "tok_emb.weight",
        "pos_emb.weight",
        "blocks.0.self_attn.in_proj_weight",
        "blocks.0.self_attn.out_proj.bias",
        "blocks.0.norm1.weight",
        "blocks.0.linear2.weight",
        "ln_f.bias",
        "head.weight",
    ] {
        assert!(sd.contains_key(name), "missing {name}");
    }
}

#[test]
fn tied_weights_are_one_parameter() {
    let cfg = GptConfig {
        vocab: 7,
        layers: 1,
        embed_dim: 8,
        ..Default::default()
    };
    let (tied, untied) = (
        Gpt::new(cfg, &mut Rng::seed(0)),
        Gpt::new(
            GptConfig {
                tie_weights: false,
                ..cfg
            },
            &mut Rng::seed(0),
        ),
    );
    assert_eq!(untied.num_parameters() - tied.num_parameters(), 7 * 8);
    assert!(tied.head.weight.same_as(&tied.tok_emb.weight));
}

#[test]
fn loading_is_strict_and_names_the_tensor() {
    let with_bias = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
    let without_bias = state_dict::to_bytes(&Linear::new(2, 3, false, &mut Rng::seed(0))).unwrap();
    let missing =
        state_dict::from_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0)), &without_bias)
            .unwrap_err();
    assert!(
        matches!(&missing, NnError::MissingTensor(n) if n == "bias"),
        "{missing}"
    );
    let extra = state_dict::from_bytes(&Linear::new(2, 3, false, &mut Rng::seed(0)), &with_bias)
        .unwrap_err();
    assert!(
        matches!(&extra, NnError::UnexpectedTensor(n) if n == "bias"),
        "{extra}"
    );
    let shaped = state_dict::from_bytes(&Linear::new(2, 4, true, &mut Rng::seed(0)), &with_bias)
        .unwrap_err();
    assert!(
        matches!(&shaped, NnError::ShapeMismatch { name, .. } if name == "weight"),
        "{shaped}"
    );
    assert!(shaped.to_string().contains("[3, 2]") && shaped.to_string().contains("[4, 2]"));
    assert!(
        state_dict::from_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0)), b"not a file").is_err()
    );
}

#[test]
fn freezing_stops_gradients() {
    let mlp = Mlp::new(&[2, 4, 1], Activation::Tanh, &mut Rng::seed(0));
    mlp.freeze();
    assert_eq!(mlp.num_trainable_parameters(), 0);
    let x = Tensor::ones(&[3, 2], DType::F32).requires_grad_(true);
    mlp.forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(mlp.parameters().iter().all(|p| p.grad().is_none()));
    assert!(x.grad().is_some());
    mlp.unfreeze();
    assert_eq!(mlp.num_trainable_parameters(), mlp.num_parameters());
}

#[test]
fn eval_mode_reaches_nested_layers() {
    let net = Sequential::new().push(Sequential::new().push(Dropout::new(0.9, 0)));
    let x = Tensor::ones(&[50], DType::F32);
    assert_ne!(net.forward(&x).unwrap().to_vec_f64(), x.to_vec_f64());
    net.eval();
    assert_eq!(net.forward(&x).unwrap().to_vec_f64(), x.to_vec_f64());
    net.train(true);
    assert_ne!(net.forward(&x).unwrap().to_vec_f64(), x.to_vec_f64());
}
