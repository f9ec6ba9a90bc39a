//! Semantics of masks in attention and of the LoRA adapter.

use gradus_nn::layers::lora::{add_lora, merge_lora, LoraConfig};
use gradus_nn::layers::{Linear, MultiheadAttention, Sequential, TransformerBlock};
use gradus_nn::models::{Gpt, GptConfig};
use gradus_nn::Module;
use gradus_tensor::{DType, Rng, Tensor};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Rng::seed(seed).normal(shape, 0.0, 1.0, DType::F64)
}

fn assert_close(a: &Tensor, b: &Tensor) {
    let (a, b) = (a.to_vec_f64(), b.to_vec_f64());
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12),
        "{a:?} vs {b:?}"
    );
}

#[test]
fn causal_outputs_do_not_see_the_future() {
    let mha = MultiheadAttention::new(6, 3, true, &mut Rng::seed(0));
    mha.cast(DType::F64).unwrap();
    let x = randn(&[1, 5, 6], 1);
    // changing the last two positions leaves the first three outputs unchanged
    let changed = Tensor::concat(&[&x.narrow(1, 0, 3).unwrap(), &randn(&[1, 2, 6], 2)], 1).unwrap();
    let (a, b) = (mha.forward(&x).unwrap(), mha.forward(&changed).unwrap());
    assert_close(&a.narrow(1, 0, 3).unwrap(), &b.narrow(1, 0, 3).unwrap());
    assert!(
        (a.sub(&b)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .item()
            .unwrap())
            > 1e-6
    );
}

#[test]
fn padded_keys_are_invisible() {
    let block = TransformerBlock::new(4, 2, 8, false, &mut Rng::seed(0));
    block.cast(DType::F64).unwrap();
    let x = randn(&[1, 5, 4], 3);
    // the last two positions are padding: the first three outputs equal those of the short sequence
    let mask = [false, false, false, true, true];
    let padded = block
        .forward_masked(&x, Some(&mask))
        .unwrap()
        .narrow(1, 0, 3)
        .unwrap();
    let short = block.forward(&x.narrow(1, 0, 3).unwrap()).unwrap();
    assert_close(&padded, &short);
}

#[test]
fn lora_trains_only_the_adapter_and_merges_exactly() {
    let mut rng = Rng::seed(0);
    let model = Sequential::new().push(Linear::new(5, 3, true, &mut rng));
    model.cast(DType::F64).unwrap();
    let config = LoraConfig {
        rank: 2,
        alpha: 4.0,
        target_modules: vec!["0".into()],
    };
    assert_eq!(add_lora(&model, &config, &mut rng).unwrap(), 1);
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "0.lora_A.weight", "0.lora_B.weight"]
    );
    let adapter = model.named_parameters()[3].1.clone();
    assert_eq!(adapter.tensor().dtype(), DType::F64);
    adapter.tensor().copy_from(&randn(&[3, 2], 4)).unwrap();
    let x = randn(&[4, 5], 5);
    model
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let grads: Vec<bool> = model
        .parameters()
        .iter()
        .map(|p| p.grad().is_some())
        .collect();
    assert_eq!(grads, [false, false, true, true]);
    // the adapter's output: x W^T + b + 2 x A^T B^T
    let p = model.parameters();
    let (w, b, a, bb) = (p[0].tensor(), p[1].tensor(), p[2].tensor(), p[3].tensor());
    let by_hand = x
        .matmul(&w.t().unwrap())
        .unwrap()
        .add(&b)
        .unwrap()
        .add(
            &x.matmul(&a.t().unwrap())
                .unwrap()
                .matmul(&bb.t().unwrap())
                .unwrap()
                .mul_scalar(2.0)
                .unwrap(),
        )
        .unwrap();
    let before = model.forward(&x).unwrap();
    assert_close(&before, &by_hand);
    assert_eq!(merge_lora(&model).unwrap(), 1);
    assert_eq!(merge_lora(&model).unwrap(), 0); // nothing left to merge
    assert_eq!(model.named_parameters().len(), 2);
    assert_close(&model.forward(&x).unwrap(), &before);
}

#[test]
fn lora_on_a_gpt_names_its_targets_and_refuses_bad_configs() {
    let mut rng = Rng::seed(0);
    let config = GptConfig {
        vocab: 11,
        block_size: 6,
        embed_dim: 8,
        heads: 2,
        layers: 2,
        tie_weights: true,
    };
    let gpt = Gpt::new(config, &mut rng);
    let lora = |targets: &[&str], rank: usize| LoraConfig {
        rank,
        alpha: 8.0,
        target_modules: targets.iter().map(|t| t.to_string()).collect(),
    };
    let err = |c: LoraConfig| {
        add_lora(&gpt, &c, &mut Rng::seed(1))
            .unwrap_err()
            .to_string()
    };
    assert!(err(lora(&["qkv"], 4)).contains("`qkv` names no layer that takes an adapter (these do: blocks.0.self_attn.in_proj, blocks.0.self_attn.out_proj, blocks.0.linear1"));
    assert!(
        err(lora(&["head"], 4)).contains("shared by tok_emb.weight, head.weight (tied weights)")
    );
    assert!(err(lora(&["in_proj"], 0)).contains("rank must be at least 1"));
    assert!(err(lora(&[], 4)).contains("target_modules is empty"));
    assert_eq!(gpt.num_trainable_parameters(), gpt.num_parameters()); // nothing changed
    let total = gpt.num_parameters();
    assert_eq!(
        add_lora(&gpt, &lora(&["in_proj", "blocks.1.linear2"], 4), &mut rng).unwrap(),
        3
    );
    // in_proj: A [4, 8] + B [24, 4], twice; blocks.1.linear2: A [4, 32] + B [8, 4]
    assert_eq!(gpt.num_trainable_parameters(), 2 * (32 + 96) + 128 + 32);
    assert_eq!(gpt.num_parameters(), total + 2 * (32 + 96) + 128 + 32);
    assert!(gpt
        .named_parameters()
        .iter()
        .any(|(n, _)| n == "blocks.1.self_attn.in_proj.lora_B.weight"));
    assert!(
        err(lora(&["in_proj"], 4)).contains("`blocks.0.self_attn.in_proj` already has an adapter")
    );
    // a trained adapter changes the output; merging keeps it and leaves a plain GPT
    for (name, p) in gpt.named_parameters() {
        if name.contains("lora_B") {
            p.tensor()
                .copy_from(&Rng::seed(7).normal(&p.shape(), 0.0, 0.1, DType::F32))
                .unwrap();
        }
    }
    let idx = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 6]).unwrap();
    let adapted = gpt.forward(&idx).unwrap();
    assert_eq!(merge_lora(&gpt).unwrap(), 3);
    assert_eq!(gpt.num_parameters(), total);
    let merged = gpt.forward(&idx).unwrap();
    let diff = adapted
        .to_vec_f64()
        .iter()
        .zip(merged.to_vec_f64())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-4, "merged output differs by {diff}");
}
