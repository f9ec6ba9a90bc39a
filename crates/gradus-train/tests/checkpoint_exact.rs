//! Checkpoints keep f64 values exactly, in the library's normal build (no dev-dependency features):
//! optimizer moments, scalars and losses go through JSON, whose parser must round-trip every f64.

use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Adam, Buffer, Data, Optimizer};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::checkpoint::{self, RunState};
use gradus_train::metrics::EpochRecord;

/// f64 values whose shortest decimal form a fast, inexact float parser reads back one ulp off.
const HARD: [f64; 6] = [
    2.1073947491912492e-7,
    3.4048592608515074e-9,
    90.27474764568267,
    0.9519560284026387,
    0.0018057721557255225,
    0.9259338926496359,
];

fn setup() -> (Linear, Optimizer) {
    let model = Linear::new(3, 2, true, &mut Rng::seed(0));
    model.cast(DType::F64).unwrap();
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let opt = Optimizer::new(Adam::new(1e-3), &params).unwrap();
    (model, opt)
}

#[test]
fn a_checkpoint_round_trips_hard_f64_values_bit_for_bit() {
    let (model, mut opt) = setup();
    let mut states = opt.state_dict();
    let mut k = 0;
    for slots in &mut states[0].slots {
        for buffer in slots {
            if let Data::F64(mut values) = buffer.to_data() {
                for v in values.iter_mut() {
                    *v = HARD[k % HARD.len()];
                    k += 1;
                }
                *buffer = Buffer::from_data(buffer.shape(), Data::F64(values)).unwrap();
            }
        }
    }
    assert!(k >= HARD.len(), "the state has f64 buffers to fill");
    states[0].scalars.insert("probe".into(), HARD[3]);
    opt.load_state_dict(states.clone()).unwrap();
    let progress = RunState {
        history: HARD
            .iter()
            .map(|&v| EpochRecord {
                train_loss: v,
                grad_norm: v,
                ..EpochRecord::default()
            })
            .collect(),
        ..RunState::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    checkpoint::save(&path, &model, &opt, None, &progress).unwrap();

    let (fresh, mut opt2) = setup();
    let back = checkpoint::load(&path, &fresh, &mut opt2, None).unwrap();
    let bits = |s: &[gradus_optim::State]| -> Vec<u64> {
        s[0].slots
            .iter()
            .flatten()
            .flat_map(|b| b.tensor().to_vec::<f64>().unwrap())
            .chain(s[0].scalars.values().copied())
            .map(f64::to_bits)
            .collect()
    };
    assert_eq!(bits(&opt2.state_dict()), bits(&states));
    let losses: Vec<u64> = back
        .history
        .iter()
        .map(|r| r.train_loss.to_bits())
        .collect();
    assert_eq!(losses, HARD.map(f64::to_bits).to_vec());
}

/// `predict --output` and every run file go through `write_atomic`: a symbolic link keeps
/// pointing at its file, and a pipe is written into instead of being replaced by a file.
#[cfg(target_os = "linux")]
#[test]
fn atomic_writes_keep_links_and_write_into_pipes() {
    use gradus_train::checkpoint::write_atomic;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.csv");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    write_atomic(&link, b"new").unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"new");

    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // a reader that does not wait for a writer (O_NONBLOCK), so a regression fails, not hangs
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000; // Linux's value
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    write_atomic(&fifo, b"rows\n").unwrap();
    let mut got = Vec::new();
    let _ = reader.read_to_end(&mut got);
    assert_eq!(got, b"rows\n");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// The per-epoch logs are replaced without flushing (`write_replace`): the new content replaces
/// the old in one rename, no temporary file is left beside it, and a symbolic link keeps
/// pointing at its file, as with `write_atomic`.
#[cfg(target_os = "linux")]
#[test]
fn replaced_logs_are_whole_and_leave_no_temporary_file() {
    use gradus_train::checkpoint::write_replace;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    write_replace(&path, b"epoch\n1\n").unwrap();
    write_replace(&path, b"epoch\n1\n2\n").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"epoch\n1\n2\n");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["metrics.csv"]);

    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    write_replace(&link, b"new").unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
}
