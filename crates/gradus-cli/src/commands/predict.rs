//! `gradus predict MODEL --input in.csv`: one prediction per row of a CSV file.

use gradus_data::csv::CsvOptions;
use gradus_tensor::autodiff::no_grad;
use gradus_train::task::Task;
use std::fmt::Write;
use std::path::Path;

/// Runs `gradus predict`.
pub fn run(model_path: &Path, input: &Path, output: Option<&Path>) -> Result<(), String> {
    let (model, spec) = gradus_quant::file::load_any(model_path).map_err(|e| e.to_string())?;
    if spec.features.is_empty() {
        return Err(format!(
            "{}: predict works on models trained on CSV columns; this one was trained on {} data",
            model_path.display(),
            spec.data.format
        ));
    }
    // the training CSV reader, with the model's columns by name (other columns are ignored)
    let names: Vec<&str> = spec.features.iter().map(String::as_str).collect();
    let table = gradus_data::csv::read_csv_table(input, &CsvOptions::features_only(&names))
        .map_err(|e| e.to_string())?;
    let rows = table.rows();
    let x = spec
        .input_tensor(table.features, rows)
        .map_err(|e| e.to_string())?;
    // linear/logistic/softmax/mlp/cnn f32 models run on the tape-free Predictor; other kinds
    // (LSTM, GPT) and quantized files run their own forward
    let predictor = match spec.dtype.as_str() {
        "f32" => gradus_quant::Predictor::new(model.as_ref(), &spec).ok(),
        _ => None,
    };
    let model: &dyn gradus_nn::Module = match &predictor {
        Some(p) => p,
        None => model.as_ref(),
    };
    let out = no_grad(|| model.forward(&x)).map_err(|e| e.to_string())?;
    let values = out.to_vec_f64();
    let per_row = values.len() / rows.max(1);
    let task = spec.task();
    // the classes accuracy is computed on, in training and in `gradus eval`
    let predicted = task.predicted_classes(&out).map_err(|e| e.to_string())?;
    let mut csv = String::new();
    match task {
        Task::Classification { classes } => {
            let probs = no_grad(|| out.softmax(-1))
                .map_err(|e| e.to_string())?
                .to_vec_f64();
            csv.push_str("prediction");
            (0..classes).for_each(|k| write!(csv, ",p{k}").expect("string"));
            csv.push('\n');
            for (r, best) in probs.chunks(classes).zip(&predicted) {
                write!(csv, "{best}").expect("string");
                r.iter()
                    .for_each(|p| write!(csv, ",{p:.6}").expect("string"));
                csv.push('\n');
            }
        }
        Task::Binary => {
            csv.push_str("prediction,p1\n");
            for (z, class) in values.iter().zip(&predicted) {
                let p = 1.0 / (1.0 + (-z).exp());
                writeln!(csv, "{class},{p:.6}").expect("string");
            }
        }
        Task::Regression { .. } => {
            let name = spec.target.clone().unwrap_or_else(|| "prediction".into());
            writeln!(csv, "{name}").expect("string");
            for r in values.chunks(per_row.max(1)) {
                writeln!(
                    csv,
                    "{}",
                    r.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
                .expect("string");
            }
        }
    }
    match output {
        Some(p) => gradus_train::checkpoint::write_atomic(p, csv.as_bytes())
            .map_err(|e| format!("{}: {e}", p.display())),
        None => {
            print!("{csv}");
            Ok(())
        }
    }
}
