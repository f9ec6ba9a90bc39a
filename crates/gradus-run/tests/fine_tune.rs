//! Fine-tuning: `model.init_from` starts a run from a trained model file, `[model.lora]` trains
//! only low-rank adapters on the frozen model, and the run's `model.safetensors` holds the
//! plain model with the adapters merged in.

use gradus_nn::safetensors_reader::TensorSource;
use gradus_run::{load_model, Config, RunBuilder};
use std::collections::BTreeMap;
use std::path::Path;

const BASE_TEXT: &str = "To be, or not to be, that is the question: whether 'tis nobler.\n";
const NEW_TEXT: &str = "the question is whether to be noble, or not: that is it.\n";

/// A tiny GPT on `text`, optionally from `init_from` with LoRA `targets`.
fn config(text: &Path, init_from: Option<&Path>, lora: Option<&str>) -> Config {
    let mut toml = format!(
        r#"
seed = 1
epochs = 2

[data]
format = "text"
path = {text:?}
block_size = 16

[model]
kind = "gpt"
width = 16
layers = 2
heads = 2
tie_weights = true
"#
    );
    if let Some(p) = init_from {
        toml += &format!("init_from = {p:?}\n");
    }
    if let Some(targets) = lora {
        toml += &format!("lora = {{ rank = 2, alpha = 4, target_modules = {targets} }}\n");
    }
    toml += "[optimizer]\nname = \"adam\"\nlr = 0.01\n[batch]\nsize = 8\n";
    Config::from_toml_str(&toml).expect("a valid config")
}

fn train(config: Config, out: &Path) -> gradus_run::Run {
    let mut run = RunBuilder::new(config)
        .out_dir(out)
        .quiet(true)
        .build()
        .unwrap();
    run.train().unwrap();
    run
}

fn weights(path: &Path) -> BTreeMap<String, Vec<f64>> {
    let (model, _) = load_model(path).unwrap();
    model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor().to_vec_f64()))
        .collect()
}

/// The base run: trained on `BASE_TEXT`, returns its model file.
fn base(dir: &Path) -> std::path::PathBuf {
    let text = dir.join("base.txt");
    std::fs::write(&text, BASE_TEXT.repeat(30)).unwrap();
    train(config(&text, None, None), &dir.join("base"));
    dir.join("base").join("model.safetensors")
}

#[test]
fn lora_trains_only_the_adapters_and_writes_a_merged_plain_model() {
    let dir = tempfile::tempdir().unwrap();
    let base_file = base(dir.path());
    // the new text uses fewer characters than the base's: it is encoded with the base vocabulary
    let text = dir.path().join("new.txt");
    std::fs::write(&text, NEW_TEXT.repeat(30)).unwrap();
    let targets = r#"["in_proj", "linear2"]"#;
    let run = train(
        config(&text, Some(&base_file), Some(targets)),
        &dir.path().join("lora"),
    );
    let base_spec = load_model(&base_file).unwrap().1;
    assert_eq!(run.spec.vocab, base_spec.vocab);
    assert!(
        run.spec.model.lora.is_none(),
        "the merged model's spec has no adapters"
    );
    // the checkpoint (for --resume) holds the adapters; only they trained
    let ckpt = gradus_nn::safetensors_reader::SafetensorsReader::open(
        &dir.path().join("lora").join("checkpoint.safetensors"),
    )
    .unwrap();
    let names: Vec<String> = ckpt.tensor_names();
    assert!(names
        .iter()
        .any(|n| n == "blocks.1.self_attn.in_proj.lora_A.weight"));
    assert!(names.iter().any(|n| n == "blocks.0.linear2.lora_B.weight"));
    // Adam's two moments for each of the 8 adapters (2 blocks x 2 layers x A, B), nothing more
    let adapters: Vec<&String> = names.iter().filter(|n| n.contains(".lora_")).collect();
    let moments: Vec<&String> = names.iter().filter(|n| n.contains(".exp_avg")).collect();
    assert_eq!((adapters.len(), moments.len()), (8, 16), "{names:?}");
    let numel = |n: &String| ckpt.tensor_info(n).unwrap().1.iter().product::<usize>();
    let adapter_values: usize = adapters.iter().map(|n| numel(n)).sum();
    let moment_values: usize = moments.iter().map(|n| numel(n)).sum();
    assert_eq!(moment_values, 2 * adapter_values);
    // model.safetensors is the plain GPT: the base's tensor names, the frozen ones unchanged,
    // the adapted ones moved by the merge
    let (before, after) = (
        weights(&base_file),
        weights(&dir.path().join("lora/model.safetensors")),
    );
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, w) in &before {
        let adapted = name.ends_with("in_proj_weight") || name.ends_with("linear2.weight");
        assert_eq!(&after[name] != w, adapted, "{name}");
    }
    // both epochs ran and were logged
    let metrics = std::fs::read_to_string(dir.path().join("lora/metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
}

#[test]
fn init_from_refuses_what_does_not_fit_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base_file = base(dir.path());
    let build = |c: Config| {
        RunBuilder::new(c)
            .out_dir(dir.path().join("x"))
            .quiet(true)
            .build()
            .err()
            .expect("an error")
            .to_string()
    };
    // a character outside the base vocabulary, by line and column
    let text = dir.path().join("z.txt");
    std::fs::write(&text, "to be\nzebra\n".repeat(20)).unwrap();
    let e = build(config(&text, Some(&base_file), None));
    assert!(e.contains("line 2") || e.contains(":2:"), "{e}");
    assert!(e.contains("'z' is not in the vocabulary"), "{e}");
    // other sizes: the tensor at fault, with both shapes
    let same = dir.path().join("same.txt");
    std::fs::write(&same, BASE_TEXT.repeat(30)).unwrap();
    let mut wide = config(&same, Some(&base_file), None);
    wide.model.width = Some(32);
    let e = build(wide);
    assert!(
        e.starts_with("model.init_from: ") && e.contains("tok_emb.weight"),
        "{e}"
    );
    // another kind
    let mut lstm = config(&same, Some(&base_file), None);
    lstm.model = gradus_run::config::ModelConfig {
        kind: "lstm_lm".into(),
        init_from: lstm.model.init_from.clone(),
        ..Default::default()
    };
    let e = build(lstm);
    assert!(
        e.contains("holds a `gpt` model, but model.kind is `lstm_lm`"),
        "{e}"
    );
    // a LoRA target that is not a layer of the model lists those that are
    let e = build(config(&same, Some(&base_file), Some(r#"["qkv"]"#)));
    assert!(
        e.contains("model.lora: target_modules: `qkv` names no layer"),
        "{e}"
    );
    assert!(e.contains("blocks.0.self_attn.in_proj"), "{e}");
    // not a model file
    let e = build(config(&same, Some(&same), None));
    assert!(e.starts_with("model.init_from: "), "{e}");
}
