//! A character-level LSTM language model: embedding, a stack of LSTM layers, and a linear
//! head over the vocabulary at every position (PyTorch's `examples/word_language_model`
//! `RNNModel`, Karpathy's char-rnn).

use crate::layers::{Embedding, Linear, Recurrent, RecurrentState};
use crate::module::Module;
use gradus_tensor::{Result, Rng, Tensor, TensorError};

/// `[batch, seq]` token ids (whole numbers in a float dtype) `-> [batch, seq, vocab]` logits of
/// the next token: `encoder` (embedding, width `hidden`), `rnn` (LSTM, batch first), `decoder`
/// (linear), named as PyTorch's `RNNModel` names them.
///
/// ```
/// use gradus_nn::{models::LstmLm, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let m = LstmLm::new(10, 8, 2, &mut Rng::seed(0));
/// assert_eq!(m.forward(&Tensor::zeros(&[3, 5], DType::F32)).unwrap().shape(), &[3, 5, 10]);
/// assert_eq!(m.named_parameters()[0].0, "encoder.weight");
/// assert_eq!(m.named_parameters()[1].0, "rnn.weight_ih_l0");
/// ```
pub struct LstmLm {
    /// `[vocab, hidden]`
    pub encoder: Embedding,
    /// The recurrent stack.
    pub rnn: Recurrent,
    /// `[vocab, hidden]`
    pub decoder: Linear,
}

impl LstmLm {
    /// A model over `vocab` tokens with `layers` LSTM layers of `hidden` units (the embedding
    /// has `hidden` dimensions too).
    pub fn new(vocab: usize, hidden: usize, layers: usize, rng: &mut Rng) -> LstmLm {
        LstmLm {
            encoder: Embedding::new(vocab, hidden, rng),
            rnn: Recurrent::lstm(hidden, hidden, layers, rng),
            decoder: Linear::new(hidden, vocab, true, rng),
        }
    }

    /// The logits `[batch, seq, vocab]` of `x` `[batch, seq]` read on from `state` (the state
    /// a previous call returned; zeros when `None`), and the state after its last token: what
    /// sampling carries from one generated token to the next, so that each step reads one token.
    ///
    /// # Errors
    /// On ids that are not `[batch, seq]` or out of the vocabulary, or a state of other shapes.
    ///
    /// ```
    /// use gradus_nn::{models::LstmLm, Module};
    /// use gradus_tensor::{Rng, Tensor};
    /// let m = LstmLm::new(5, 4, 1, &mut Rng::seed(0));
    /// let ids = Tensor::from_vec(vec![1.0f32, 3.0, 2.0], &[1, 3]).unwrap();
    /// let whole = m.forward(&ids).unwrap().narrow(1, 2, 1).unwrap().to_vec_f64();
    /// let (_, s) = m.forward_from(&ids.narrow(1, 0, 2).unwrap(), None).unwrap();
    /// let (last, _) = m.forward_from(&ids.narrow(1, 2, 1).unwrap(), Some(&s)).unwrap();
    /// let stepped = last.to_vec_f64();
    /// assert!(whole.iter().zip(&stepped).all(|(a, b)| (a - b).abs() < 1e-5));
    /// ```
    pub fn forward_from(
        &self,
        x: &Tensor,
        state: Option<&RecurrentState>,
    ) -> Result<(Tensor, RecurrentState)> {
        if x.rank() != 2 {
            return Err(TensorError::InvalidShape {
                op: "lstm_lm",
                shape: x.shape().to_vec(),
                detail: "expected [batch, seq] token ids".into(),
            });
        }
        let (h, state) = self.rnn.forward_from(&self.encoder.forward(x)?, state)?;
        Ok((self.decoder.forward(&h)?, state))
    }
}

impl Module for LstmLm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_from(x, None)?.0)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("encoder".into(), &self.encoder),
            ("rnn".into(), &self.rnn),
            ("decoder".into(), &self.decoder),
        ]
    }
}
