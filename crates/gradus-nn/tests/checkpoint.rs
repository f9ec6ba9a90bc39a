//! Gradient checkpointing of modules: the `Checkpoint` wrapper (dropout replayed) and the GPT's
//! `checkpoint_activations` give the plain model's outputs and gradients, bit for bit.

use gradus_nn::layers::{Activation, Checkpoint, Dropout, Linear, Sequential};
use gradus_nn::models::{Gpt, GptConfig};
use gradus_nn::{loss, Module};
use gradus_tensor::{DType, Rng, Tensor};

fn bits(m: &dyn Module) -> Vec<Vec<u32>> {
    m.parameters()
        .iter()
        .map(|p| {
            let g = p.grad().expect("a gradient").to_vec::<f32>().unwrap();
            g.iter().map(|v| v.to_bits()).collect()
        })
        .collect()
}

fn out_bits(t: &Tensor) -> Vec<u32> {
    t.to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// Linear, GELU, dropout, linear, dropout: random masks inside the checkpointed part.
fn net(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    Sequential::new()
        .push(Linear::new(6, 16, true, &mut rng))
        .push(Activation::GELU)
        .push(Dropout::new(0.3, seed + 1))
        .push(Linear::new(16, 3, true, &mut rng))
        .push(Dropout::new(0.2, seed + 2))
}

#[test]
fn checkpointed_dropout_model_matches_the_plain_one_over_several_steps() {
    let plain = net(7);
    let wrapped = Checkpoint::new(net(7));
    let x = Rng::seed(1).normal(&[5, 6], 0.0, 1.0, DType::F32);
    for _ in 0..3 {
        // each step draws new masks: the recomputation must not disturb the generators' course
        let (a, b) = (plain.forward(&x).unwrap(), wrapped.forward(&x).unwrap());
        assert_eq!(out_bits(&a), out_bits(&b));
        a.powf(2.0).unwrap().sum_all().unwrap().backward().unwrap();
        b.powf(2.0).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(bits(&plain), bits(&wrapped));
    }
}

#[test]
fn checkpoint_keeps_the_wrapped_modules_names_and_training_mode() {
    let inner = net(0);
    let names: Vec<String> = inner
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let wrapped = Checkpoint::new(inner);
    let wrapped_names: Vec<String> = wrapped
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, wrapped_names);
    wrapped.eval();
    let x = Tensor::ones(&[2, 6], DType::F32);
    let y = wrapped.forward(&x).unwrap();
    let z = wrapped.module().forward(&x).unwrap();
    assert_eq!(out_bits(&y), out_bits(&z)); // no dropout in eval mode
}

#[test]
fn gpt_with_checkpointed_blocks_has_the_plain_gradients_bit_for_bit() {
    let cfg = GptConfig {
        vocab: 11,
        block_size: 8,
        embed_dim: 16,
        heads: 2,
        layers: 3,
        tie_weights: true,
    };
    let plain = Gpt::new(cfg, &mut Rng::seed(3));
    let mut checkpointed = Gpt::new(cfg, &mut Rng::seed(3));
    checkpointed.checkpoint_activations = true;
    let ids: Vec<f32> = (0..16).map(|i| ((i * 5 + 1) % 11) as f32).collect();
    let x = Tensor::from_vec(ids.clone(), &[2, 8]).unwrap();
    let targets: Vec<f32> = ids.iter().map(|&i| (i + 1.0) % 11.0).collect();
    let y = Tensor::from_vec(targets, &[16]).unwrap();
    for model in [&plain, &checkpointed] {
        let logits = model.forward(&x).unwrap().reshape(&[16, 11]).unwrap();
        loss::cross_entropy(&logits, &y, &loss::CrossEntropyOptions::default())
            .unwrap()
            .backward()
            .unwrap();
    }
    assert_eq!(bits(&plain), bits(&checkpointed));
}
