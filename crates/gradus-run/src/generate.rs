//! Text from a trained character-level GPT or LSTM language model (`gradus sample`, and the
//! report's samples): the prompt's characters, then one drawn at a time from the model's
//! next-character distribution with temperature and top-k, as nanoGPT's `sample.py` and GPT-2's
//! `generate` draw them. The GPT reads the last `block_size` characters at each step; the LSTM
//! reads the prompt once and then each drawn character from the state it carries (char-rnn's
//! `sample.lua`), so its context is the whole text so far.

use crate::error::{Result, RunError};
use crate::setup::{dtype_of, lstm_lm_size, ModelSpec};
use gradus_nn::layers::RecurrentState;
use gradus_nn::models::LstmLm;
use gradus_nn::Module;
use gradus_tensor::{autodiff::no_grad, Rng, Tensor};

/// How to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleOptions {
    /// Characters to generate after the prompt.
    pub tokens: usize,
    /// Logits are divided by this before the softmax: under 1 sharper, over 1 flatter; 0 takes
    /// the most likely character every time (greedy).
    pub temperature: f64,
    /// Draw among the `k` most likely characters only (`None`: all).
    pub top_k: Option<usize>,
    /// Seeds the draws: the same seed, prompt and model give the same text.
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            tokens: 200,
            temperature: 0.8,
            top_k: None,
            seed: 0,
        }
    }
}

/// The prompt followed by `options.tokens` generated characters (the continuation only is
/// returned). The model sees the last `block_size` characters at each step.
///
/// # Errors
/// When the model is not a GPT or LSTM language model trained on text (no vocabulary), the
/// prompt holds a character
/// the vocabulary lacks (named with its position), the temperature is negative or not finite,
/// or `top_k` is 0.
pub fn generate(
    model: &dyn Module,
    spec: &ModelSpec,
    prompt: &str,
    options: &SampleOptions,
) -> Result<String> {
    let vocab = match (&spec.vocab, spec.model.kind.as_str()) {
        (Some(v), "gpt" | "lstm_lm") => v,
        _ => {
            return Err(RunError::Setup(format!(
                "sampling needs a GPT or LSTM language model (lstm_lm) trained on text; this model is `{}` on {} data",
                spec.model.kind, spec.data.format
            )))
        }
    };
    if !options.temperature.is_finite() || options.temperature < 0.0 {
        return Err(format!(
            "--temperature {}: must be 0 (greedy) or more",
            options.temperature
        )
        .into());
    }
    if options.top_k == Some(0) {
        return Err("--top-k 0: must be at least 1 (or left out for all characters)".into());
    }
    let block = spec.input_shape.first().copied().unwrap_or(1).max(1);
    let dtype = dtype_of(&spec.dtype)?;
    let mut ids = vocab.encode(prompt).map_err(|e| {
        RunError::Setup(format!(
            "--prompt: {e} (the model knows {} characters)",
            vocab.len()
        ))
    })?;
    if ids.is_empty() {
        // no prompt: start from a newline, as a new paragraph, when the text has one
        ids.push(vocab.id('\n').unwrap_or(0));
    }
    let start = ids.len();
    let mut rng = Rng::seed(options.seed);
    model.eval();
    if spec.model.kind == "lstm_lm" {
        let lm = typed_lstm_lm(model, spec, vocab.len())?;
        let mut input = ids.clone();
        let mut state: Option<RecurrentState> = None;
        for _ in 0..options.tokens {
            let x = ids_tensor(&input, dtype)?;
            let (logits, next) =
                no_grad(|| lm.forward_from(&x, state.as_ref())).map_err(|e| e.to_string())?;
            state = Some(next);
            let id = draw(&last_logits(&logits), options, &mut rng) as u32;
            ids.push(id);
            input = vec![id];
        }
        return vocab
            .decode(&ids[start..])
            .map_err(|e| e.to_string().into());
    }
    for _ in 0..options.tokens {
        let x = ids_tensor(&ids[ids.len().saturating_sub(block)..], dtype)?;
        let logits = no_grad(|| model.forward(&x)).map_err(|e| e.to_string())?;
        ids.push(draw(&last_logits(&logits), options, &mut rng) as u32);
    }
    vocab
        .decode(&ids[start..])
        .map_err(|e| e.to_string().into())
}

/// The ids as a `[1, len]` tensor of the model's dtype.
fn ids_tensor(ids: &[u32], dtype: gradus_tensor::DType) -> Result<Tensor> {
    let x: Vec<f64> = ids.iter().map(|&i| f64::from(i)).collect();
    Tensor::from_vec(x, &[1, ids.len()])
        .and_then(|t| t.to_dtype(dtype))
        .map_err(|e| e.to_string().into())
}

/// The logits of the last position of `[1, seq, vocab]`.
fn last_logits(logits: &Tensor) -> Vec<f64> {
    let v = logits.shape().last().copied().unwrap_or(0);
    let all = logits.to_vec_f64();
    all[all.len() - v..].to_vec()
}

/// The loaded `lstm_lm` as its own type (a copy of its weights), for the step-by-step reads
/// that carry the LSTM's state.
fn typed_lstm_lm(model: &dyn Module, spec: &ModelSpec, vocab: usize) -> Result<LstmLm> {
    let (hidden, layers) = lstm_lm_size(&spec.model);
    let lm = LstmLm::new(vocab, hidden, layers, &mut Rng::seed(0));
    let err = |e: &dyn std::fmt::Display| RunError::Setup(format!("lstm_lm: {e}"));
    lm.cast(dtype_of(&spec.dtype)?).map_err(|e| err(&e))?;
    let bytes = gradus_nn::state_dict::to_bytes(model).map_err(|e| err(&e))?;
    gradus_nn::state_dict::from_bytes(&lm, &bytes).map_err(|e| err(&e))?;
    lm.eval();
    Ok(lm)
}

/// One index drawn from `softmax(logits / temperature)` over the top `k` logits.
fn draw(logits: &[f64], options: &SampleOptions, rng: &mut Rng) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if options.temperature == 0.0 {
        return order[0];
    }
    order.truncate(options.top_k.unwrap_or(order.len()).min(order.len()));
    let top = logits[order[0]];
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] - top) / options.temperature).exp())
        .collect();
    let mut u = rng.uniform_f64() * weights.iter().sum::<f64>();
    for (w, &i) in weights.iter().zip(&order) {
        if u < *w {
            return i;
        }
        u -= w;
    }
    order[order.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_and_temperature_limit_the_draws() {
        let logits = [0.0, 3.0, 1.0, 2.9];
        let greedy = SampleOptions {
            temperature: 0.0,
            ..Default::default()
        };
        assert_eq!(draw(&logits, &greedy, &mut Rng::seed(0)), 1);
        let top2 = SampleOptions {
            temperature: 1.0,
            top_k: Some(2),
            ..Default::default()
        };
        let mut rng = Rng::seed(1);
        let draws: Vec<usize> = (0..400).map(|_| draw(&logits, &top2, &mut rng)).collect();
        assert!(
            draws.iter().all(|&i| i == 1 || i == 3),
            "only the two most likely"
        );
        // nearly equal logits: both drawn often (e^0.1 : 1, so about 52% / 48%)
        let ones = draws.iter().filter(|&&i| i == 1).count();
        assert!((140..260).contains(&ones), "{ones} of 400");
    }

    #[test]
    fn all_characters_are_drawn_at_high_temperature() {
        let logits = [0.0, 1.0, 2.0];
        let hot = SampleOptions {
            temperature: 100.0,
            ..Default::default()
        };
        let mut rng = Rng::seed(2);
        let mut seen = [0usize; 3];
        for _ in 0..300 {
            seen[draw(&logits, &hot, &mut rng)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }
}
