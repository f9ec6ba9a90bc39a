//! `gradus compare RUN...`: one HTML page overlaying the runs' curves, with the settings their
//! configs differ in and their final metrics (see `gradus_run::report::compare`).

use gradus_run::report::{compare, run_files::RunFiles};
use std::path::{Path, PathBuf};

/// Runs `gradus compare`: reads each run folder (a file inside one, such as its
/// `model.safetensors`, names its folder) and writes the page to `out`.
pub fn run(runs: &[PathBuf], out: &Path) -> Result<(), String> {
    if runs.len() < 2 {
        return Err("gradus compare needs two or more run folders".into());
    }
    let files = runs
        .iter()
        .map(|r| {
            let dir = if r.is_file() {
                r.parent().unwrap_or(Path::new("."))
            } else {
                r.as_path()
            };
            RunFiles::read(dir).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let html = compare::page(&files);
    std::fs::write(out, html).map_err(|e| format!("{}: {e}", out.display()))?;
    let configs: Vec<_> = files
        .iter()
        .map(|f| compare::flatten(f.config.as_deref().unwrap_or("")))
        .collect();
    let diffs = compare::config_differences(&configs);
    let labels = compare::labels(&files);
    println!("{:<28}{}", "", labels.join("  "));
    for (k, vals) in diffs.iter().take(20) {
        let vals: Vec<String> = vals
            .iter()
            .map(|v| v.clone().unwrap_or_else(|| "—".into()))
            .collect();
        println!("{k:<28}{}", vals.join("  "));
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
