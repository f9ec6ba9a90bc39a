//! `Linear`: `y = x W^T + b` with PyTorch's layout `weight [out, in]`.

use super::lora::{LoraSlot, LoraTarget};
use crate::init;
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::precision::autocast;
use gradus_tensor::{capture, DType, Result, Rng, Tensor};

/// A fully connected layer (`torch.nn.Linear`). Input `[.., in]`, output `[.., out]`.
///
/// ```
/// use gradus_nn::{layers::Linear, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let lin = Linear::new(4, 2, true, &mut Rng::seed(0));
/// assert_eq!(lin.forward(&Tensor::ones(&[3, 5, 4], DType::F32)).unwrap().shape(), &[3, 5, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[out, in]`
    pub weight: Param,
    /// `[out]`
    pub bias: Option<Param>,
    /// A LoRA adapter, when one is attached ([`super::lora::add_lora`]).
    pub lora: LoraSlot,
}

impl Linear {
    /// A layer with PyTorch's default init: weight and bias `U(-1/sqrt(in), 1/sqrt(in))`.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// let lin = gradus_nn::layers::Linear::new(4, 2, false, &mut Rng::seed(0));
    /// assert!(lin.bias.is_none() && lin.weight.tensor().to_vec_f64().iter().all(|w| w.abs() <= 0.5));
    /// ```
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut Rng) -> Linear {
        let weight = Param::new(init::default_weight(
            &[out_features, in_features],
            DType::F32,
            rng,
        ));
        let bias = bias.then(|| {
            Param::new(init::default_bias(
                &[out_features],
                in_features,
                DType::F32,
                rng,
            ))
        });
        Linear {
            weight,
            bias,
            lora: LoraSlot::default(),
        }
    }

    /// A layer from given tensors (`weight [out, in]`, `bias [out]`).
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// let lin = Linear::from_tensors(Tensor::ones(&[1, 2], DType::F64), Some(Tensor::ones(&[1], DType::F64)));
    /// assert_eq!(lin.forward(&Tensor::ones(&[1, 2], DType::F64)).unwrap().to_vec_f64(), vec![3.0]);
    /// ```
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Linear {
        Linear {
            weight: Param::new(weight),
            bias: bias.map(Param::new),
            lora: LoraSlot::default(),
        }
    }
}

/// `x @ w` for `x [.., k]` and a 2-D `w [k, n]`, as one matrix product over the flattened leading
/// axes (so the weight gradient is one `[k, n]` product, not a per-batch stack summed after).
///
/// # Errors
/// When the inner sizes differ.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let y = gradus_nn::layers::linear::matmul_last(&Tensor::ones(&[2, 3, 4], DType::F32), &Tensor::ones(&[4, 5], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[2, 3, 5]);
/// assert_eq!(y.to_vec_f64()[0], 4.0);
/// ```
pub fn matmul_last(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if x.rank() <= 2 {
        return x.matmul(w);
    }
    let lead = &x.shape()[..x.rank() - 1];
    let rows: usize = lead.iter().product();
    let y = x.reshape(&[rows, x.shape()[x.rank() - 1]])?.matmul(w)?;
    let mut shape = lead.to_vec();
    shape.push(y.shape()[1]);
    y.reshape(&shape)
}

/// `x @ weight^T + bias` over the last axis of `x` (`torch.nn.functional.linear`): `x [.., in]`,
/// `weight [out, in]`, `bias [out]`, output `[.., out]`. Under
/// [`autocast`](gradus_tensor::precision::autocast) one 16-bit op as PyTorch's `linear`: the
/// inputs rounded, the bias added in f32, the output rounded once.
///
/// # Errors
/// When the shapes do not fit together.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let w = Tensor::ones(&[2, 4], DType::F32);
/// let b = Tensor::ones(&[2], DType::F32);
/// let y = gradus_nn::layers::linear::linear(&Tensor::ones(&[3, 4], DType::F32), &w, Some(&b)).unwrap();
/// assert_eq!(y.to_vec_f64(), vec![5.0; 6]);
/// ```
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let inputs: Vec<&Tensor> = [Some(x), Some(weight), bias]
        .into_iter()
        .flatten()
        .collect();
    // one GEMM with the bias added inside it ([`Tensor::linear`])
    gradus_tensor::precision::autocast::lower_precision(&inputs, |t| t[0].linear(&t[1], t.get(2)))
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.weight.tensor();
        let bias = self.bias.as_ref().map(Param::tensor);
        let y = linear(x, &w, bias.as_ref())?;
        let y = self.lora.apply(x, y)?;
        if !capture::is_active() {
            return Ok(y);
        }
        // K-FAC / natural gradient: record the inputs as rows and a probe on the output
        let inputs = x
            .detach()
            .reshape(&[x.numel() / w.shape()[1].max(1), w.shape()[1]])?;
        let (probe, y) = capture::probe(&y)?;
        capture::record(capture::LayerCapture {
            weight: w.id(),
            bias: self.bias.as_ref().map(|b| b.tensor().id()),
            inputs,
            probe,
            layout: capture::OutputLayout::Rows,
            batch: if x.rank() > 1 { x.shape()[0] } else { 1 },
        });
        Ok(y)
    }

    fn fused_bce_with_logits(
        &self,
        x: &Tensor,
        target: &Tensor,
    ) -> Option<Result<(Tensor, Tensor)>> {
        let w = self.weight.tensor();
        let bias = self.bias.as_ref()?.tensor();
        let plain =
            self.lora.adapter().is_none() && !capture::is_active() && autocast::current().is_none();
        let dtypes = matches!(x.dtype(), DType::F32 | DType::F64)
            && [&w, &bias, target].iter().all(|t| t.dtype() == x.dtype());
        if !(plain && dtypes && w.shape()[0] == 1 && x.rank() == 2) {
            return None;
        }
        let fused = || -> Result<(Tensor, Tensor)> {
            let w = w.reshape(&[w.shape()[1]])?;
            let (loss, z) = x.linear_bce_with_logits_and_logits(&w, &bias, target, true)?;
            Ok((loss, z.reshape(&[x.shape()[0], 1])?))
        };
        Some(fused())
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        out.extend(self.lora.named_params(""));
        out
    }

    fn own_lora_targets(&self) -> Vec<(String, LoraTarget<'_>)> {
        vec![(
            String::new(),
            LoraTarget {
                weight: &self.weight,
                slot: &self.lora,
            },
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{lora, Sequential};
    use crate::loss::{bce_with_logits, Reduction};
    use gradus_tensor::precision::Half;

    fn data(dtype: DType) -> (Tensor, Tensor) {
        let x = Tensor::randn(&[37, 6], dtype, 5);
        let y: Vec<f64> = (0..37).map(|i| f64::from(i % 3 == 0)).collect();
        let y = Tensor::from_vec(y, &[37]).unwrap().to_dtype(dtype).unwrap();
        (x, y)
    }

    #[test]
    fn the_fused_loss_and_its_gradients_are_the_composed_ones() {
        let (x, y) = data(DType::F64);
        let lin = Linear::new(6, 1, true, &mut Rng::seed(2));
        lin.cast(DType::F64).unwrap();
        let (fused, fused_out) = lin.fused_bce_with_logits(&x, &y).unwrap().unwrap();
        assert!(!fused_out.requires_grad());
        fused.backward().unwrap();
        let grads = |l: &Linear| -> Vec<f64> {
            let params = l.parameters();
            params
                .iter()
                .flat_map(|p| p.tensor().grad().unwrap().to_vec_f64())
                .collect()
        };
        let fused_grads = grads(&lin);
        lin.zero_grad();
        let out = lin.forward(&x).unwrap();
        let composed =
            bce_with_logits(&out, &y.reshape(&[37, 1]).unwrap(), Reduction::Mean).unwrap();
        composed.backward().unwrap();
        let (a, b) = (fused.item().unwrap(), composed.item().unwrap());
        assert_eq!(fused_out.shape(), out.shape());
        for (p, q) in fused_out.to_vec_f64().iter().zip(out.to_vec_f64()) {
            assert!((p - q).abs() < 1e-14, "outputs {p} and {q}");
        }
        assert!((a - b).abs() < 1e-14, "fused {a}, composed {b}");
        for (g, h) in fused_grads.iter().zip(grads(&lin)) {
            assert!((g - h).abs() < 1e-14, "{fused_grads:?}");
        }
        assert_eq!(fused_grads.len(), 7);
    }

    #[test]
    fn layers_and_settings_without_the_fused_pass_have_none() {
        let (x, y) = data(DType::F32);
        let one = Linear::new(6, 1, true, &mut Rng::seed(2));
        assert!(one.fused_bce_with_logits(&x, &y).is_some());
        // two outputs, no bias
        let two = Linear::new(6, 2, true, &mut Rng::seed(2));
        assert!(two.fused_bce_with_logits(&x, &y).is_none());
        let no_bias = Linear::new(6, 1, false, &mut Rng::seed(2));
        assert!(no_bias.fused_bce_with_logits(&x, &y).is_none());
        // 16-bit data, and a 16-bit product under autocast
        let (xh, yh) = data(DType::BF16);
        let half = Linear::new(6, 1, true, &mut Rng::seed(2));
        half.cast(DType::BF16).unwrap();
        assert!(half.fused_bce_with_logits(&xh, &yh).is_none());
        let under = autocast::autocast(Some(Half::BF16), || one.fused_bce_with_logits(&x, &y));
        assert!(under.is_none());
        // layer capture (K-FAC) records the forward's inputs and output
        capture::enable(true);
        let captured = one.fused_bce_with_logits(&x, &y);
        capture::enable(false);
        assert!(captured.is_none());
        // a LoRA adapter changes the output
        let net = Sequential::new().push(Linear::new(6, 1, true, &mut Rng::seed(2)));
        let config = lora::LoraConfig {
            rank: 1,
            alpha: 1.0,
            target_modules: vec!["0".into()],
        };
        assert_eq!(lora::add_lora(&net, &config, &mut Rng::seed(3)).unwrap(), 1);
        assert!(net.children()[0].1.fused_bce_with_logits(&x, &y).is_none());
    }
}
