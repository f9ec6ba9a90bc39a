//! Semantics of masks in attention and of the LoRA adapter.

use gradus_nn::layers::{Linear, LoraLinear, MultiheadAttention, TransformerBlock};
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
    let base = Linear::new(5, 3, true, &mut rng);
    let lora = LoraLinear::new(base, 2, 4.0, &mut rng);
    lora.cast(DType::F64).unwrap();
    lora.lora_b.tensor().copy_from(&randn(&[3, 2], 4)).unwrap();
    let x = randn(&[4, 5], 5);
    lora.forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(lora.base.weight.grad().is_none() && lora.base.bias.as_ref().unwrap().grad().is_none());
    assert!(lora.lora_a.grad().is_some() && lora.lora_b.grad().is_some());
    let names: Vec<String> = lora
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "lora_A.weight",
            "lora_B.weight",
            "base_layer.weight",
            "base_layer.bias"
        ]
    );
    let before = lora.forward(&x).unwrap();
    lora.merge().unwrap();
    lora.merge().unwrap(); // idempotent
    let after = lora.forward(&x).unwrap();
    let plain = lora.base.forward(&x).unwrap();
    assert!(before
        .to_vec_f64()
        .iter()
        .zip(after.to_vec_f64())
        .all(|(a, b)| (a - b).abs() < 1e-12));
    assert_eq!(after.to_vec_f64(), plain.to_vec_f64());
}
