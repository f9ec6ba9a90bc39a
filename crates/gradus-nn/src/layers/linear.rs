//! `Linear`: `y = x W^T + b` with PyTorch's layout `weight [out, in]`.

use super::lora::{LoraSlot, LoraTarget};
use crate::init;
use crate::module::Module;
use crate::param::Param;
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
