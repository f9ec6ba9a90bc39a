//! `gradus predict MODEL --input in.csv`: one prediction per row of a CSV file.

use crate::commands::load_model;
use gradus_tensor::{autodiff::no_grad, Tensor};
use gradus_train::task::Task;
use std::fmt::Write;
use std::path::Path;

/// Runs `gradus predict`.
pub fn run(model_path: &Path, input: &Path, output: Option<&Path>) -> Result<(), String> {
    let (model, spec) = load_model(model_path)?;
    if spec.features.is_empty() {
        return Err(format!(
            "{}: predict works on models trained on CSV columns; this one was trained on {} data",
            model_path.display(),
            spec.data.format
        ));
    }
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{}: empty file", input.display()))?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let index: Vec<usize> = spec
        .features
        .iter()
        .map(|f| {
            columns.iter().position(|c| c == f).ok_or_else(|| {
                format!(
                    "{}: line 1: missing feature column `{f}` (the model needs {:?})",
                    input.display(),
                    spec.features
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut x = Vec::new();
    let mut rows = 0;
    for (i, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        for (&c, name) in index.iter().zip(&spec.features) {
            let cell = cells.get(c).ok_or_else(|| {
                format!(
                    "{}: line {}: has {} columns, expected {}",
                    input.display(),
                    i + 1,
                    cells.len(),
                    columns.len()
                )
            })?;
            let v: f32 = cell.parse().map_err(|_| {
                format!(
                    "{}: line {}, column {} (`{name}`): `{cell}` is not a number",
                    input.display(),
                    i + 1,
                    c + 1
                )
            })?;
            x.push(v);
        }
        rows += 1;
    }
    if let Some(s) = &spec.scaler {
        s.transform_slice(&mut x).map_err(|e| e.to_string())?;
    }
    let dtype = crate::setup::dtype_of(&spec.dtype)?;
    let out = no_grad(|| {
        Tensor::from_vec(x, &[rows, spec.features.len()])
            .and_then(|x| x.to_dtype(dtype))
            .and_then(|x| model.forward(&x))
    })
    .map_err(|e| e.to_string())?;
    let values = out.to_vec_f64();
    let per_row = values.len() / rows.max(1);
    let mut csv = String::new();
    match spec.task() {
        Task::Classification { classes } => {
            let probs = no_grad(|| out.softmax(-1))
                .map_err(|e| e.to_string())?
                .to_vec_f64();
            csv.push_str("prediction");
            (0..classes).for_each(|k| write!(csv, ",p{k}").expect("string"));
            csv.push('\n');
            for r in probs.chunks(classes) {
                let best = r
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(k, _)| k);
                write!(csv, "{best}").expect("string");
                r.iter()
                    .for_each(|p| write!(csv, ",{p:.6}").expect("string"));
                csv.push('\n');
            }
        }
        Task::Binary => {
            csv.push_str("prediction,p1\n");
            for z in &values {
                let p = 1.0 / (1.0 + (-z).exp());
                writeln!(csv, "{},{p:.6}", (p > 0.5) as u8).expect("string");
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
