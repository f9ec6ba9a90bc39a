//! Loading a checkpoint streams it: the header, then each tensor through reads of at most one
//! chunk, every byte of the file read once and never the file as a whole. A declared optimizer
//! state dtype (f64 moments for f32 parameters) is what the file stores, what loading checks,
//! and resumes bit for bit.

use gradus_nn::layers::Linear;
use gradus_nn::safetensors_reader::CHUNK;
use gradus_nn::Module;
use gradus_optim::{Adam, GradientTransformation, Optimizer, State};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::checkpoint::{self, RunState};
use safetensors::{Dtype, SafeTensors};
use std::io::{Read, Seek, SeekFrom};

/// A reader that records how it is used.
struct Counting<R> {
    inner: R,
    total: u64,
    largest: usize,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        self.largest = self.largest.max(n);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn params(model: &Linear) -> Vec<Tensor> {
    model.parameters().iter().map(|p| p.tensor()).collect()
}

fn step(model: &Linear, optimizer: &mut Optimizer, seed: u64) {
    optimizer.zero_grad();
    let x = Rng::seed(seed).normal(&[8, 700], 0.0, 1.0, DType::F32);
    let y = model.forward(&x).unwrap();
    y.mul(&y).unwrap().sum_all().unwrap().backward().unwrap();
    optimizer.step().unwrap();
}

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec_f64().into_iter().map(f64::to_bits).collect()
}

fn state_bits(s: &State) -> Vec<u64> {
    let mut out: Vec<u64> = s
        .slots
        .iter()
        .flatten()
        .flat_map(|b| bits(b.tensor()))
        .collect();
    out.push(s.count);
    out
}

fn adam_f64_state(p: &[Tensor]) -> Optimizer {
    Optimizer::new(Adam::new(1e-3).state_dtype(DType::F64), p).unwrap()
}

#[test]
fn loading_reads_each_byte_once_in_chunks_and_resumes_declared_f64_state_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    // 700 x 600 weights: 3.4 MB of f64 moments each, several chunks per tensor
    let model = Linear::new(700, 600, true, &mut Rng::seed(0));
    let mut opt = adam_f64_state(&params(&model));
    for s in 0..3 {
        step(&model, &mut opt, s);
    }
    let progress = RunState {
        step: 3,
        ..RunState::default()
    };
    checkpoint::save(&path, &model, &opt, None, &progress).unwrap();
    for s in 3..5 {
        step(&model, &mut opt, s);
    }

    // the file stores the declared dtype
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.tensor("weight").unwrap().dtype(), Dtype::F32);
    assert_eq!(
        file.tensor("optimizer.0.exp_avg.1").unwrap().dtype(),
        Dtype::F64
    );
    let file_len = bytes.len() as u64;
    drop(file);
    drop(bytes);

    let fresh = Linear::new(700, 600, true, &mut Rng::seed(9));
    let mut resumed = adam_f64_state(&params(&fresh));
    let mut reader = Counting {
        inner: std::fs::File::open(&path).unwrap(),
        total: 0,
        largest: 0,
    };
    let back =
        checkpoint::load_from_reader(&path, &mut reader, &fresh, &mut resumed, None).unwrap();
    assert_eq!(back.step, 3);
    let header = {
        let mut f = std::fs::File::open(&path).unwrap();
        let mut n = [0u8; 8];
        f.read_exact(&mut n).unwrap();
        u64::from_le_bytes(n) as usize
    };
    assert!(
        reader.largest <= CHUNK.max(header),
        "a read of {} bytes (chunk {CHUNK}, header {header})",
        reader.largest
    );
    assert!(
        (file_len as usize) > 4 * CHUNK,
        "the file spans many chunks"
    );
    assert_eq!(reader.total, file_len, "every byte is read exactly once");

    for s in 3..5 {
        step(&fresh, &mut resumed, s);
    }
    for (a, b) in params(&model).iter().zip(&params(&fresh)) {
        assert_eq!(bits(a), bits(b));
    }
    let (a, b) = (&opt.states()[0], &resumed.states()[0]);
    assert_eq!(a.slots[0][0].dtype(), DType::F64);
    assert_eq!(state_bits(a), state_bits(b));
}

#[test]
fn a_checkpoint_with_f64_state_is_refused_by_an_optimizer_declaring_f32_naming_the_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    let model = Linear::new(700, 2, true, &mut Rng::seed(0));
    let mut opt = adam_f64_state(&params(&model));
    step(&model, &mut opt, 0);
    checkpoint::save(&path, &model, &opt, None, &RunState::default()).unwrap();
    let mut plain = Optimizer::new(Adam::new(1e-3), &params(&model)).unwrap();
    let msg = checkpoint::load(&path, &model, &mut plain, None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("does not match the optimizer")
            && msg.contains("F64 in the checkpoint but")
            && msg.contains("F32 in this optimizer (its declared state dtype)"),
        "{msg}"
    );
}
