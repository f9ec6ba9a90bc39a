//! State dicts in BF16 and F16: written with `state_dict::to_bytes_as`, loaded back as the
//! values rounded to the format (bit for bit), readable by the streaming reader, and kept as
//! fixtures that `tests/python/test_half_safetensors.py` reads with the `safetensors` pip
//! package and `ml_dtypes`. Set `GRADUS_WRITE_FIXTURES=1` to rewrite the fixtures.

use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::safetensors_reader::SafetensorsReader;
use gradus_nn::{state_dict, Module};
use gradus_tensor::precision::Half;
use gradus_tensor::{DType, Rng};
use safetensors::{Dtype, SafeTensors};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The MLP of the fixtures: 4 -> 8 -> 3, seeded.
fn mlp(seed: u64) -> Mlp {
    Mlp::new(&[4, 8, 3], Activation::ReLU, &mut Rng::seed(seed))
}

/// Every parameter of `m`, by name, as f64 values.
fn values(m: &dyn Module) -> Vec<(String, Vec<f64>)> {
    m.named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor().to_vec_f64()))
        .collect()
}

#[test]
fn a_16_bit_state_dict_loads_back_as_the_rounded_values() {
    for dtype in [DType::F32, DType::F64] {
        for format in [Half::BF16, Half::F16] {
            let a = mlp(0);
            a.cast(dtype).unwrap();
            let bytes = state_dict::to_bytes_as(&a, format).unwrap();
            let file = SafeTensors::deserialize(&bytes).unwrap();
            let want = if format == Half::BF16 {
                Dtype::BF16
            } else {
                Dtype::F16
            };
            for (name, view) in file.tensors() {
                assert_eq!(view.dtype(), want, "{name}");
            }
            let expected: Vec<(String, Vec<f64>)> = a
                .named_parameters()
                .into_iter()
                .map(|(n, p)| (n, p.tensor().round_to(format).unwrap().to_vec_f64()))
                .collect();
            // in memory and streamed from a reader
            let b = mlp(1);
            b.cast(dtype).unwrap();
            state_dict::from_bytes(&b, &bytes).unwrap();
            assert_eq!(values(&b), expected, "{dtype:?} {format:?}");
            let c = mlp(2);
            c.cast(dtype).unwrap();
            let mut reader = SafetensorsReader::new(std::io::Cursor::new(bytes)).unwrap();
            state_dict::load_from(&c, &mut reader, &|_| false).unwrap();
            assert_eq!(values(&c), expected, "{dtype:?} {format:?} streamed");
            assert_eq!(b.named_parameters()[0].1.tensor().dtype(), dtype);
        }
    }
}

#[test]
fn the_fixtures_the_python_check_reads_are_what_gradus_writes() {
    let m = mlp(0);
    let files = [
        (
            "gradus_mlp_f32.safetensors",
            state_dict::to_bytes(&m).unwrap(),
        ),
        (
            "gradus_mlp_bf16.safetensors",
            state_dict::to_bytes_as(&m, Half::BF16).unwrap(),
        ),
        (
            "gradus_mlp_f16.safetensors",
            state_dict::to_bytes_as(&m, Half::F16).unwrap(),
        ),
    ];
    for (name, bytes) in files {
        if std::env::var_os("GRADUS_WRITE_FIXTURES").is_some() {
            std::fs::write(fixture(name), &bytes).unwrap();
        }
        let kept = std::fs::read(fixture(name)).unwrap();
        assert!(kept == bytes, "{name}: gradus now writes other bytes");
    }
}
