//! Checkpoints that scale: a 50 M-parameter MLP trained with Adam resumes bit for bit from a
//! checkpoint whose optimizer state lies in the file body (12 bytes per parameter for f32 Adam:
//! weights, `exp_avg`, `exp_avg_sq`) behind a header of a few KiB. Before, the state was JSON in
//! the header: a 5.8 M-parameter model already wrote a 156 MB header that no reader accepts.

use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Adam, Data, Optimizer, State};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::checkpoint::{self, RunState};

/// 5000 → 5000 → 5000 → 10: 50,060,010 parameters.
const SIZES: [usize; 4] = [5000, 5000, 5000, 10];

fn setup() -> (Mlp, Optimizer) {
    let model = Mlp::new(&SIZES, Activation::ReLU, &mut Rng::seed(7));
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let optimizer = Optimizer::new(Adam::new(1e-3), &params).unwrap();
    (model, optimizer)
}

fn batch(step: u64) -> Tensor {
    Tensor::randn(&[2, SIZES[0]], DType::F32, 100 + step)
}

fn train(model: &Mlp, optimizer: &mut Optimizer, steps: std::ops::Range<u64>) {
    for step in steps {
        optimizer.zero_grad();
        let out = model.forward(&batch(step)).unwrap();
        out.mul(&out)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        optimizer.step().unwrap();
    }
}

fn param_bits(model: &Mlp) -> Vec<Vec<u32>> {
    model
        .parameters()
        .iter()
        .map(|p| {
            p.tensor()
                .with_data(|v: &[f32]| v.iter().map(|x| x.to_bits()).collect())
                .unwrap()
        })
        .collect()
}

/// Asserts two states are equal bit for bit (buffers, counts, scalars, inner states).
fn assert_same_state(a: &State, b: &State) {
    assert_eq!(a.count, b.count);
    assert_eq!(a.slot_names, b.slot_names);
    let bits = |m: &std::collections::BTreeMap<String, f64>| -> Vec<(String, u64)> {
        m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
    };
    assert_eq!(bits(&a.scalars), bits(&b.scalars));
    assert_eq!(a.slots.len(), b.slots.len());
    for (p, (ra, rb)) in a.slots.iter().zip(&b.slots).enumerate() {
        for (k, (x, y)) in ra.iter().zip(rb).enumerate() {
            assert_eq!(x.shape(), y.shape(), "slot {k} of parameter {p}");
            let same = match (&x.to_data(), &y.to_data()) {
                (Data::F32(u), Data::F32(v)) => {
                    u.iter().zip(v).all(|(s, t)| s.to_bits() == t.to_bits())
                }
                (Data::F64(u), Data::F64(v)) => {
                    u.iter().zip(v).all(|(s, t)| s.to_bits() == t.to_bits())
                }
                _ => false,
            };
            assert!(same, "slot {k} of parameter {p} differs");
        }
    }
    assert_eq!(a.inner.len(), b.inner.len());
    a.inner
        .iter()
        .zip(&b.inner)
        .for_each(|(x, y)| assert_same_state(x, y));
}

#[test]
fn a_50m_parameter_adam_run_resumes_bit_for_bit_from_a_12_bytes_per_parameter_checkpoint() {
    let params: usize = SIZES.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    assert_eq!(params, 50_060_010);

    // uninterrupted: three steps
    let (straight, mut straight_opt) = setup();
    train(&straight, &mut straight_opt, 0..3);

    // one step, checkpoint, then a fresh model and optimizer resume for two more
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    {
        let (model, mut optimizer) = setup();
        train(&model, &mut optimizer, 0..1);
        let progress = RunState {
            step: 1,
            ..RunState::default()
        };
        checkpoint::save(&path, &model, &optimizer, None, &progress).unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len() as usize;
    let head = std::fs::read(&path).map(|b| b[..8].to_vec()).unwrap();
    let header = u64::from_le_bytes(head.try_into().unwrap()) as usize;
    assert!(header < 64 * 1024, "header of {header} bytes");
    assert_eq!(size, 8 + header + 12 * params);

    let model = Mlp::new(&SIZES, Activation::ReLU, &mut Rng::seed(99));
    let ps: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let mut optimizer = Optimizer::new(Adam::new(1e-3), &ps).unwrap();
    let back = checkpoint::load(&path, &model, &mut optimizer, None).unwrap();
    assert_eq!(back.step, 1);
    train(&model, &mut optimizer, 1..3);

    assert!(
        param_bits(&model) == param_bits(&straight),
        "parameters differ"
    );
    let (a, b) = (optimizer.states(), straight_opt.states());
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).for_each(|(x, y)| assert_same_state(x, y));
    assert_eq!(a[0].count, 3);
}
