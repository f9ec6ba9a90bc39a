//! LoRA: a low-rank adapter on a frozen [`Linear`], `y = base(x) + (alpha / r) x A^T B^T`.

use super::linear::{matmul_last, Linear};
use crate::init;
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{autodiff, Result, Rng, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};

/// A LoRA-adapted linear layer. The base is frozen; `lora_A [r, in]` starts Kaiming-uniform and
/// `lora_B [out, r]` at zero, so the adapter starts as the identity change. Parameters are named
/// `base_layer.weight`, `base_layer.bias`, `lora_A.weight`, `lora_B.weight` (as PEFT, without
/// the adapter name).
///
/// ```
/// use gradus_nn::{layers::{Linear, LoraLinear}, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let mut rng = Rng::seed(0);
/// let lora = LoraLinear::new(Linear::new(8, 4, true, &mut rng), 2, 4.0, &mut rng);
/// assert_eq!(lora.num_trainable_parameters(), 2 * 8 + 4 * 2);
/// let x = Tensor::ones(&[3, 8], DType::F32);
/// let before = lora.forward(&x).unwrap().to_vec_f64();
/// lora.merge().unwrap();
/// assert_eq!(lora.forward(&x).unwrap().to_vec_f64(), before);
/// ```
#[derive(Debug)]
pub struct LoraLinear {
    /// The frozen base layer.
    pub base: Linear,
    /// `[r, in]`
    pub lora_a: Param,
    /// `[out, r]`
    pub lora_b: Param,
    /// `alpha / r`
    pub scaling: f64,
    merged: AtomicBool,
}

impl LoraLinear {
    /// Wraps `base` (freezing it) with a rank-`rank` adapter scaled by `alpha / rank`.
    ///
    /// ```
    /// use gradus_nn::layers::{Linear, LoraLinear};
    /// use gradus_tensor::Rng;
    /// let mut rng = Rng::seed(0);
    /// let l = LoraLinear::new(Linear::new(6, 3, true, &mut rng), 2, 8.0, &mut rng);
    /// assert!(!l.base.weight.requires_grad() && l.scaling == 4.0);
    /// ```
    pub fn new(base: Linear, rank: usize, alpha: f64, rng: &mut Rng) -> LoraLinear {
        base.freeze();
        let w = base.weight.tensor();
        let (out, inp) = (w.shape()[0], w.shape()[1]);
        let lora_a = Param::new(init::default_weight(&[rank, inp], w.dtype(), rng));
        let lora_b = Param::new(Tensor::zeros(&[out, rank], w.dtype()));
        LoraLinear {
            base,
            lora_a,
            lora_b,
            scaling: alpha / rank as f64,
            merged: AtomicBool::new(false),
        }
    }

    /// Folds the adapter into the base weight (`W += scaling * B A`) for inference; afterwards the
    /// forward pass is the base layer alone. Merging twice is a no-op.
    ///
    /// # Errors
    /// On a tensor error (not expected for a well-formed layer).
    ///
    /// ```
    /// use gradus_nn::layers::{Linear, LoraLinear};
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let mut rng = Rng::seed(0);
    /// let l = LoraLinear::new(Linear::new(2, 2, false, &mut rng), 1, 1.0, &mut rng);
    /// l.lora_b.tensor().update_data(|v: &mut [f32]| v.fill(1.0)).unwrap();
    /// let w0 = l.base.weight.tensor().to_vec_f64();
    /// l.merge().unwrap();
    /// assert_ne!(l.base.weight.tensor().to_vec_f64(), w0);
    /// ```
    pub fn merge(&self) -> Result<()> {
        if self.merged.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        autodiff::no_grad(|| {
            let w = self.base.weight.tensor();
            let delta = self
                .lora_b
                .tensor()
                .matmul(&self.lora_a.tensor())?
                .mul_scalar(self.scaling)?;
            w.copy_from(&w.add(&delta)?)
        })
    }

    /// Whether the adapter has been merged.
    ///
    /// ```
    /// use gradus_nn::layers::{Linear, LoraLinear};
    /// use gradus_tensor::Rng;
    /// let mut rng = Rng::seed(0);
    /// let l = LoraLinear::new(Linear::new(2, 2, false, &mut rng), 1, 1.0, &mut rng);
    /// assert!(!l.is_merged());
    /// l.merge().unwrap();
    /// assert!(l.is_merged());
    /// ```
    pub fn is_merged(&self) -> bool {
        self.merged.load(Ordering::SeqCst)
    }
}

impl Module for LoraLinear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.base.forward(x)?;
        if self.is_merged() {
            return Ok(y);
        }
        let low = matmul_last(
            &matmul_last(x, &self.lora_a.tensor().t()?)?,
            &self.lora_b.tensor().t()?,
        )?;
        y.add(&low.mul_scalar(self.scaling)?)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![
            ("lora_A.weight".into(), self.lora_a.clone()),
            ("lora_B.weight".into(), self.lora_b.clone()),
        ]
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("base_layer".into(), &self.base)]
    }
}
