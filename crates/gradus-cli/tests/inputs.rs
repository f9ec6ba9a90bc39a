//! Training, `eval` and `predict` read files the same way: CSV columns by name (any order, a
//! byte-order mark and CRLF line ends as spreadsheets write them), the same scaling and the same
//! class picking; a damaged model or checkpoint file is reported in the user's terms.

mod common;

use common::{assert_fails_with, example, gradus, repo, stdout, train, write};

use std::path::Path;

/// A CSV table as rows of cells.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The table with its columns in the order `order` (indices into the original columns).
fn reorder(rows: &[Vec<String>], order: &[usize]) -> String {
    rows.iter()
        .map(|r| {
            order
                .iter()
                .map(|&c| r[c].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The feature names stored in a model file's metadata.
fn stored_features(model: &Path) -> Vec<String> {
    let bytes = std::fs::read(model).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let spec: serde_json::Value =
        serde_json::from_str(header["__metadata__"]["gradus.spec"].as_str().unwrap()).unwrap();
    serde_json::from_value(spec["features"].clone()).unwrap()
}

/// The number after `key ` in `gradus eval`'s output line.
fn eval_value(line: &str, key: &str) -> f64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == key).expect(key);
    words[i + 1].parse().unwrap()
}

fn house_prices_config(dir: &Path, data: &str) -> String {
    write(
        dir,
        "house.toml",
        &format!(
            "seed = 1\nepochs = 3\n[data]\nformat = \"csv\"\npath = \"{data}\"\ntarget = \"price\"\ntask = \"regression\"\nstandardize = true\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n[batch]\nsize = 8\n"
        ),
    )
}

/// Fault 8: a spreadsheet's "CSV UTF-8" (byte-order mark, CRLF) trains a model whose feature is
/// `area`, not `\u{feff}area`, and `predict` on a plain `area` column works and agrees with `eval`.
#[test]
fn a_bom_crlf_csv_trains_a_model_that_predicts_on_a_plain_header() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read_to_string(repo().join("data/house-prices.csv")).unwrap();
    let spreadsheet = format!("\u{feff}{}\r\n", plain.trim_end().replace('\n', "\r\n"));
    let data = write(dir.path(), "prices.csv", &spreadsheet);
    // the config saved the same way: a byte-order mark and CRLF
    let config = std::fs::read_to_string(house_prices_config(dir.path(), &data)).unwrap();
    let config = write(
        dir.path(),
        "spreadsheet.toml",
        &format!("\u{feff}{}", config.replace('\n', "\r\n")),
    );
    let run = train(dir.path(), &config, "run", &[]);
    let model = run.join("model.safetensors");
    assert_eq!(stored_features(&model), vec!["area".to_string()]);

    let input = write(dir.path(), "in.csv", "area\n1000\n2000\n");
    let m = model.to_str().unwrap();
    let pred = stdout(&gradus(&["predict", m, "--input", &input]));
    assert_eq!(pred.lines().count(), 3, "{pred}");
    assert_eq!(pred.lines().next(), Some("price"));
    // the same rows with a BOM, CRLF, other columns first: the same predictions
    let bom_input = write(
        dir.path(),
        "in2.csv",
        "\u{feff}price,area\r\n0,1000\r\n0,2000\r\n",
    );
    assert_eq!(
        stdout(&gradus(&["predict", m, "--input", &bom_input])),
        pred
    );

    // eval's loss on the training file is the mean squared error of predict's outputs on it
    let eval = stdout(&gradus(&["eval", m, "--data", &data]));
    let loss = eval_value(&eval, "loss");
    let predicted = stdout(&gradus(&["predict", m, "--input", &data]));
    let truth: Vec<f64> = plain
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let outputs: Vec<f64> = predicted
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(outputs.len(), truth.len());
    let mse = outputs
        .iter()
        .zip(&truth)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        / truth.len() as f64;
    assert!(
        (mse - loss).abs() <= 1e-4 * loss.max(1.0),
        "eval loss {loss}, predict's mse {mse}"
    );
}

/// Fault 13: columns are matched by name in `eval`, `predict` and the validation and test files of
/// training; reordering them changes nothing, and a missing one is named.
#[test]
fn columns_are_matched_by_name_in_eval_predict_and_validation_files() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(repo().join("data/sklearn/breast_cancer.csv")).unwrap();
    let rows = table(&original);
    let width = rows[0].len();
    let reversed: Vec<usize> = (0..width).rev().collect();
    let mut swapped: Vec<usize> = (0..width).collect();
    swapped.swap(0, 1);
    let reversed_csv = write(dir.path(), "reversed.csv", &reorder(&rows, &reversed));
    let swapped_csv = write(dir.path(), "swapped.csv", &reorder(&rows, &swapped));
    let original_csv = "data/sklearn/breast_cancer.csv";

    let run = train(
        dir.path(),
        "examples/breast-cancer.toml",
        "run",
        &["--set", "epochs=5"],
    );
    let model = run.join("model.safetensors");
    let m = model.to_str().unwrap();
    let expected = stdout(&gradus(&["eval", m, "--data", original_csv]));
    assert!(eval_value(&expected, "accuracy") > 0.9, "{expected}");
    for file in [&reversed_csv, &swapped_csv] {
        assert_eq!(stdout(&gradus(&["eval", m, "--data", file])), expected);
    }
    let predicted = stdout(&gradus(&["predict", m, "--input", original_csv]));
    assert_eq!(
        stdout(&gradus(&["predict", m, "--input", &reversed_csv])),
        predicted
    );

    // a dropped feature column is named, for eval and predict alike
    let mut without: Vec<usize> = (0..width).collect();
    let dropped = without.remove(3);
    let dropped_csv = write(dir.path(), "dropped.csv", &reorder(&rows, &without));
    let name = format!("no column named `{}`", rows[0][dropped]);
    assert_fails_with(
        &gradus(&["eval", m, "--data", &dropped_csv]),
        &[&name, "dropped.csv"],
    );
    assert_fails_with(
        &gradus(&["predict", m, "--input", &dropped_csv]),
        &[&name, "dropped.csv"],
    );

    // training's validation and test files are read by the training file's column names
    // (the example holds out a fraction; these runs give a validation file instead)
    let example = example("breast-cancer.toml");
    let no_fraction: String = example
        .lines()
        .filter(|l| !l.starts_with("validation = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(example.contains("\nvalidation = ") && !no_fraction.contains("\nvalidation = "));
    let config = write(dir.path(), "files.toml", &no_fraction);
    let runs: Vec<String> = [original_csv, reversed_csv.as_str()]
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let set_val = format!("data.validation_path=\"{file}\"");
            let set_test = format!("data.test_path=\"{file}\"");
            let out = train(
                dir.path(),
                &config,
                &format!("val{i}"),
                &["--set", "epochs=2", "--set", &set_val, "--set", &set_test],
            );
            // every column but the wall time
            let text = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
            let rows = table(&text);
            let seconds = rows[0].iter().position(|c| c == "seconds");
            let metrics: Vec<String> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .filter(|(i, _)| Some(*i) != seconds)
                        .map(|(_, c)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            assert!(metrics[0].contains("val_loss"), "{metrics:?}");
            let summary: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                    .unwrap();
            format!("{}\n{}", metrics.join("\n"), summary["test"])
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
}

/// Fault 9: a model file missing its last 10 bytes is reported as truncated, with the declared
/// and actual sizes, by `eval`, `predict` and `inspect`; so is a truncated checkpoint on resume.
#[test]
fn a_truncated_model_or_checkpoint_is_reported_with_declared_and_actual_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let config = "examples/breast-cancer.toml";
    let run = train(dir.path(), config, "run", &["--set", "epochs=1"]);
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let size = bytes.len() as u64;
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let expected = format!(
        "{}: the file is truncated: its header declares {size} bytes in all (8 + {header} of header + {} of tensor data), but the file has {} bytes",
        cut.display(),
        size - 8 - header,
        size - 10
    );
    let c = cut.to_str().unwrap();
    let err = assert_fails_with(
        &gradus(&["eval", c, "--data", "data/sklearn/breast_cancer.csv"]),
        &[&expected],
    );
    assert!(!err.contains("MetadataIncompleteBuffer"), "{err}");
    assert_fails_with(
        &gradus(&["predict", c, "--input", "data/sklearn/breast_cancer.csv"]),
        &[&expected],
    );
    assert_fails_with(&gradus(&["inspect", c]), &[&expected]);

    let checkpoint = run.join("checkpoint.safetensors");
    let full = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &full[..full.len() - 10]).unwrap();
    let o = gradus(&[
        "train",
        config,
        "--out",
        run.to_str().unwrap(),
        "-q",
        "--resume",
        "--set",
        "epochs=2",
    ]);
    assert_fails_with(
        &o,
        &[
            "checkpoint.safetensors",
            "truncated",
            &format!("but the file has {} bytes", full.len() - 10),
        ],
    );
}

/// Text files beside the training text (validation, test, `eval`) are encoded with the training
/// text's vocabulary, not one of their own; a character outside it is named with its place.
#[test]
fn text_files_are_read_with_the_training_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let train_txt = write(dir.path(), "train.txt", &"hello world\n".repeat(30));
    // its own vocabulary would be {'\n', 'l', 'o'}: ids 0, 1, 2 instead of the training ids
    let val_txt = write(dir.path(), "val.txt", &"lol\n".repeat(30));
    let config = write(
        dir.path(),
        "gpt.toml",
        &format!(
            "seed = 0\nepochs = 1\n[data]\nformat = \"text\"\npath = \"{train_txt}\"\nvalidation_path = \"{val_txt}\"\nblock_size = 8\n[model]\nkind = \"gpt\"\nwidth = 8\nlayers = 1\nheads = 2\n[optimizer]\nname = \"adam\"\nlr = 0.01\n[batch]\nsize = 8\n"
        ),
    );
    let run = train(dir.path(), &config, "run", &[]);
    let model = run.join("model.safetensors");
    let m = model.to_str().unwrap();
    let eval = stdout(&gradus(&["eval", m, "--data", &val_txt]));
    assert!(eval.starts_with("samples 14 "), "{eval}"); // (120 - 9) / 8 + 1 windows
    let unknown = write(dir.path(), "unknown.txt", "hello\nworld!\nhello world\n");
    assert_fails_with(
        &gradus(&["eval", m, "--data", &unknown]),
        &["unknown.txt:2: column 6: character '!' is not in the vocabulary"],
    );
}

/// A binary task's labels must be 0 and 1: a third label is named with the file it came from.
#[test]
fn a_binary_task_with_a_third_label_names_the_file_and_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..30)
        .map(|i| format!("{},{}\n", i as f32 * 0.1, i % 3))
        .collect();
    let csv = write(dir.path(), "three.csv", &format!("x,y\n{rows}"));
    let config = write(
        dir.path(),
        "binary.toml",
        &format!(
            "seed = 0\nepochs = 1\n[data]\nformat = \"csv\"\npath = \"{csv}\"\ntarget = \"y\"\ntask = \"binary\"\n[model]\nkind = \"logistic\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n"
        ),
    );
    let out = dir.path().join("run");
    assert_fails_with(
        &gradus(&["train", &config, "--out", out.to_str().unwrap(), "-q"]),
        &[
            "three.csv",
            "needs labels 0 and 1",
            "label 2",
            "task = \"classification\"",
        ],
    );
}
