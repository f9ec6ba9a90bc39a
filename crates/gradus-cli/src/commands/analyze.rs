//! `gradus analyze MODEL --config CONFIG`: the curvature of a trained model's training loss
//! (Hessian spectrum, trace, density, per-layer top eigenvalue, sharpness) on the first batches
//! of the config's training data, written to `analysis.json` with a short summary printed, and
//! drawn as plots in the folder's `report.html` (or `analysis.html` when there is none).

use gradus_analysis::landscape::interpolate;
use gradus_analysis::model_objective::{first_batches, model_objective};
use gradus_analysis::{analyze, Analysis, AnalysisOptions};
use gradus_run::{load_model, Config, RunBuilder};
use std::path::{Path, PathBuf};

/// What `gradus analyze` was asked for.
pub struct Request<'a> {
    /// The model file.
    pub model: &'a Path,
    /// The config it was trained with (its data, batch size and learning rate are used).
    pub config: &'a Path,
    /// Training batches the loss is taken over.
    pub batches: usize,
    /// Largest eigenvalues reported.
    pub top_k: usize,
    /// Points per side of the 2-D loss surface (0: none).
    pub grid: usize,
    /// Where `analysis.json` goes [default: the model file's folder].
    pub out: Option<PathBuf>,
}

/// The 1-D interpolation's α: from −0.5 to 1.5 in steps of 0.1 (0 the initial weights, 1 the
/// trained ones).
fn alphas() -> Vec<f64> {
    (0..=20).map(|i| -0.5 + 0.1 * i as f64).collect()
}

/// Runs `gradus analyze`.
pub fn run(req: &Request<'_>) -> Result<(), String> {
    let text = gradus_data::text::read_text(req.config).map_err(|e| e.to_string())?;
    let config = Config::parse_file(&text, req.config, &[]).map_err(|e| e.to_string())?;
    let lr = config.optimizer.lr;
    // the data read, scaled and shaped as the run that trained the model read it
    let run = RunBuilder::new(config)
        .quiet(true)
        .build()
        .map_err(|e| e.to_string())?;
    let (model, _) = load_model(req.model).map_err(|e| e.to_string())?;
    check_fits(model.as_ref(), run.trainer.model.as_ref(), req)?;
    let options = &run.trainer.options;
    let batches =
        first_batches(run.train.len(), options.batch, req.batches).map_err(|e| e.to_string())?;
    let samples: usize = batches.iter().map(Vec::len).sum();
    let task = run.trainer.task;
    let f = model_objective(model.as_ref(), &task, &run.train, &batches, options.dtype)
        .map_err(|e| e.to_string())?;
    let analysis_options = AnalysisOptions {
        top_k: req.top_k,
        lr: Some(lr),
        surface_points: req.grid,
        ..AnalysisOptions::default()
    };
    let a = analyze(&f, &analysis_options).map_err(|e| e.to_string())?;
    // the run's initial weights: the config's model with its seed, as RunBuilder built it
    let initial: Vec<_> = run
        .trainer
        .model
        .named_parameters()
        .into_iter()
        .filter(|(_, p)| p.requires_grad())
        .map(|(_, p)| p.tensor())
        .collect();
    let line = interpolate(&f, &initial, &f.values(), &alphas()).map_err(|e| e.to_string())?;
    let out = req.out.clone().unwrap_or_else(|| {
        req.model
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut json = serde_json::to_value(&a).map_err(|e| e.to_string())?;
    json["model"] = req.model.display().to_string().into();
    json["config"] = req.config.display().to_string().into();
    json["batches"] = batches.len().into();
    json["samples"] = samples.into();
    json["interpolation"] = serde_json::to_value(&line).map_err(|e| e.to_string())?;
    let path = out.join("analysis.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    gradus_train::checkpoint::write_atomic(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    print_summary(&a, batches.len(), samples);
    if let (Some(first), Some(last)) = (line.losses.get(5), line.losses.get(15)) {
        println!("loss from the initial weights to the trained ones  {first:.6} -> {last:.6}");
    }
    println!("wrote {}", path.display());
    let plots = write_plots(&out, &json)?;
    println!("plots in {} (section \"analysis\")", plots.display());
    Ok(())
}

/// Puts the analysis section into `out/report.html` (replacing one an earlier analysis put
/// there) when the folder holds a run's report, else writes it as `out/analysis.html`; returns
/// the file written.
fn write_plots(out: &Path, json: &serde_json::Value) -> Result<PathBuf, String> {
    use gradus_run::report::analysis::{analysis_page, analysis_section, with_analysis};
    let section = analysis_section(json);
    let report = out.join("report.html");
    let (path, html) = match std::fs::read_to_string(&report) {
        Ok(page) => (report, with_analysis(&page, &section)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let title = out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "analysis".into());
            (out.join("analysis.html"), analysis_page(&title, &section))
        }
        Err(e) => return Err(format!("{}: {e}", report.display())),
    };
    gradus_train::checkpoint::write_atomic(&path, html.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The model file must hold the model the config builds (same parameters, same shapes).
fn check_fits(
    loaded: &dyn gradus_nn::Module,
    built: &dyn gradus_nn::Module,
    req: &Request<'_>,
) -> Result<(), String> {
    let shapes = |m: &dyn gradus_nn::Module| -> Vec<(String, Vec<usize>)> {
        m.named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.shape()))
            .collect()
    };
    let (a, b) = (shapes(loaded), shapes(built));
    if a != b {
        let first = a
            .iter()
            .zip(&b)
            .find(|(x, y)| x != y)
            .map(|(x, y)| {
                format!(
                    ": `{}` {:?} in the file, `{}` {:?} from the config",
                    x.0, x.1, y.0, y.1
                )
            })
            .unwrap_or_else(|| {
                format!(
                    ": {} parameters in the file, {} from the config",
                    a.len(),
                    b.len()
                )
            });
        return Err(format!(
            "{} does not hold the model {} describes{first}",
            req.model.display(),
            req.config.display()
        ));
    }
    Ok(())
}

fn print_summary(a: &Analysis, batches: usize, samples: usize) {
    println!(
        "parameters {}  loss {:.6}  on {batches} batches ({samples} samples)",
        a.parameters, a.loss
    );
    let top: Vec<String> = a
        .top_eigenvalues
        .iter()
        .map(|e| format!("{:.6e}", e.value))
        .collect();
    println!("top eigenvalues   {}", top.join("  "));
    println!(
        "trace (Hutchinson, {} probes)  {:.6e} ± {:.1e}",
        a.trace.probes, a.trace.trace, a.trace.std_error
    );
    let s = &a.saddle;
    if s.detected {
        println!(
            "smallest eigenvalue {:.6e}: negative curvature, the weights sit at a saddle point, not a minimum",
            s.min_eigenvalue
        );
    } else {
        println!(
            "smallest eigenvalue {:.6e}: no negative curvature beyond its error {:.1e}",
            s.min_eigenvalue, s.residual
        );
    }
    if let Some(e) = &a.sharpness.edge_of_stability {
        println!(
            "edge of stability  λ_max {:.4e} {} 2/lr = {:.4e} (λ_max·lr/2 = {:.3})",
            e.lambda_max,
            if e.beyond { ">" } else { "<=" },
            e.threshold,
            e.ratio
        );
    }
    let eps = &a.sharpness.epsilon;
    println!(
        "ε-sharpness (ε = {:e})  {:.4}%",
        eps.epsilon, eps.sharpness_percent
    );
    if let Some(l) = a
        .per_layer
        .iter()
        .max_by(|x, y| x.top.value.total_cmp(&y.top.value))
    {
        println!("sharpest layer  {} (λ_max {:.4e})", l.name, l.top.value);
    }
}
