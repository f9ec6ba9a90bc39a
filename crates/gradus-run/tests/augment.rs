//! `[data] augment = { ... }`: the keys round-trip and are checked, a run augments its training
//! batches only, and a resumed augmented run ends bit for bit where an uninterrupted one does.

use gradus_data::{Dataset, Targets};
use gradus_run::{Config, RunBuilder};
use std::path::Path;

/// 48 images [1, 8, 8], four classes: which quadrant is bright, over a fixed noise.
fn images() -> Dataset {
    let (n, side) = (48, 8);
    let mut x = Vec::with_capacity(n * side * side);
    let mut labels = Vec::with_capacity(n);
    let mut state = 12345u64;
    for i in 0..n {
        let class = i % 4;
        let (qr, qc) = (class / 2, class % 2);
        for r in 0..side {
            for c in 0..side {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = (state >> 40) as f32 / (1u64 << 24) as f32 * 0.2;
                let bright = r / 4 == qr && c / 4 == qc;
                x.push(noise + if bright { 0.8 } else { 0.0 });
            }
        }
        labels.push(class as u32);
    }
    let targets = Targets::Classes {
        labels,
        num_classes: 4,
    };
    Dataset::new(x, vec![1, side, side], targets).unwrap()
}

const AUGMENT: &str = "augment = { shift = 0.25, rotation = 15, scale = [0.9, 1.1], hflip = 0.5 }";

fn config(augment: &str, extra: &str) -> String {
    format!(
        "seed = 3\nepochs = 3\n{extra}\n[data]\nformat = \"mnist\"\npath = \"arrays\"\n{augment}\n\
         [model]\nkind = \"mlp\"\nhidden = [16]\n[optimizer]\nname = \"adam\"\nlr = 0.01\n\
         [batch]\nsize = 8\n"
    )
}

/// The parameters after training `text` on [`images`] into `dir` (resuming when `resume`).
fn params_after(text: &str, dir: &Path, resume: bool) -> Vec<f64> {
    let c = Config::from_toml_str(text).unwrap();
    let mut run = RunBuilder::new(c)
        .data(images(), None)
        .out_dir(dir)
        .resume(resume)
        .quiet(true)
        .build()
        .unwrap();
    run.train().unwrap();
    run.trainer
        .model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

#[test]
fn an_augmented_run_resumed_inside_an_epoch_ends_bit_equal_to_an_uninterrupted_one() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let uninterrupted = params_after(&config(AUGMENT, ""), whole.path(), false);
    // 6 batches an epoch: stop after 8 steps, inside epoch 2, with a step checkpoint there
    let stopped = config(
        AUGMENT,
        "max_steps = 8\n[train]\ncheckpoint_every_steps = 4",
    );
    let partial = params_after(&stopped, parts.path(), false);
    assert_ne!(partial, uninterrupted);
    let resumed = params_after(
        &config(AUGMENT, "[train]\ncheckpoint_every_steps = 4"),
        parts.path(),
        true,
    );
    assert_eq!(resumed, uninterrupted);
    // and augmentation did change the training
    let plain = params_after(&config("", ""), tempfile::tempdir().unwrap().path(), false);
    assert_ne!(plain, uninterrupted);
}

#[test]
fn only_the_training_batches_are_augmented() {
    // lr 0: the model never changes, so the losses show what each split was fed
    let losses = |augment: &str| {
        let text = config(augment, "epochs = 1")
            .replace("epochs = 3\n", "")
            .replace("lr = 0.01", "lr = 0.0")
            .replace("path = \"arrays\"", "path = \"arrays\"\nvalidation = 0.25");
        let c = Config::from_toml_str(&text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunBuilder::new(c)
            .data(images(), None)
            .out_dir(dir.path())
            .quiet(true)
            .build()
            .unwrap();
        let last = run.train().unwrap().summary.last.unwrap();
        (last.train_loss, last.val_loss.unwrap())
    };
    let (plain, augmented) = (losses(""), losses(AUGMENT));
    assert_ne!(plain.0, augmented.0, "training batches were not augmented");
    assert_eq!(plain.1, augmented.1, "validation data was augmented");
}

#[test]
fn the_augment_table_round_trips_and_defaults_to_the_identity() {
    let c = Config::from_toml_str(&config(AUGMENT, "")).unwrap();
    let a = c.data.augment.clone().unwrap();
    assert_eq!(
        (a.shift, a.rotation, a.scale, a.hflip, a.fill),
        (0.25, 15.0, [0.9, 1.1], 0.5, 0.0)
    );
    let again = Config::from_toml_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(again.data.augment, Some(a));
    let only_shift = Config::from_toml_str(&config("augment = { shift = 0.1 }", "")).unwrap();
    let p = only_shift.data.augment.unwrap().params();
    assert_eq!((p.rotation, p.scale, p.hflip), (0.0, [1.0, 1.0], 0.0));
    assert!(Config::from_toml_str(&config("", ""))
        .unwrap()
        .data
        .augment
        .is_none());
}

#[test]
fn bad_augment_values_are_refused_naming_the_key() {
    let refused = |augment: &str| {
        Config::from_toml_str(&config(augment, ""))
            .unwrap_err()
            .to_string()
    };
    for (augment, key) in [
        ("augment = { rotation = -5 }", "data.augment.rotation"),
        ("augment = { scale = [1.2, 0.8] }", "data.augment.scale"),
        ("augment = { scale = [0, 1] }", "data.augment.scale"),
        ("augment = { hflip = 1.5 }", "data.augment.hflip"),
        ("augment = { shift = -0.1 }", "data.augment.shift"),
        ("augment = { shift = 2 }", "data.augment.shift"),
    ] {
        let e = refused(augment);
        assert!(e.contains(key), "{augment}: {e}");
    }
    let e = refused("augment = { rotate = 5 }");
    assert!(e.contains("rotate"), "{e}");
    // not image data
    let csv = config(AUGMENT, "").replace("format = \"mnist\"", "format = \"csv\"\ntarget = \"y\"");
    let e = Config::from_toml_str(&csv).unwrap_err().to_string();
    assert!(e.contains("data.augment") && e.contains("mnist"), "{e}");
    // samples that are no images, given as arrays
    let c = Config::from_toml_str(&config(AUGMENT, "")).unwrap();
    let flat = Dataset::new(
        vec![0.0; 8],
        vec![4],
        Targets::Classes {
            labels: vec![0, 1],
            num_classes: 2,
        },
    )
    .unwrap();
    let e = RunBuilder::new(c)
        .data(flat, None)
        .quiet(true)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("data.augment") && e.contains("[4]"), "{e}");
}

#[test]
fn the_augmented_examples_parse_with_their_defaults() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let digits = Config::from_toml_file(examples.join("mnist-cnn-augment.toml")).unwrap();
    let d = digits.data.augment.unwrap().params();
    assert_eq!(
        (d.shift, d.rotation, d.scale, d.hflip),
        (0.1, 10.0, [0.9, 1.1], 0.0)
    );
    let clothes = Config::from_toml_file(examples.join("fashion-mnist-augment.toml")).unwrap();
    let f = clothes.data.augment.unwrap().params();
    assert_eq!((f.shift, f.rotation, f.hflip), (0.1, 0.0, 0.5));
}
