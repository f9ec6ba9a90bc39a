//! `report.html`: one self-contained page (inline SVG and CSS, images as data URIs, no script)
//! that shows a run as TensorBoard's first screen would and more: per-step training loss smoothed
//! as TensorBoard smooths it with the raw values faint, per-epoch validation, markers at the best
//! epoch and where early stopping ended the run, the test metrics, timings and throughput, peak
//! memory, per-layer gradient norms as small multiples with the vanishing and exploding
//! thresholds, the task's own view (confusion matrix and most confident mistakes, predicted
//! against actual, generated text), the learning-rate schedule per step, the model's parameters
//! and the resolved config.
//!
//! The page is built from the run folder's files ([`run_files::RunFiles`]) and what only the run
//! knows ([`ReportInput`]), so `gradus compare` draws from the same files.

pub mod analysis;
pub mod chart;
pub mod compare;
pub mod federated;
pub mod png;
pub mod predictions;
pub mod run_files;
mod sections;
pub mod smooth;
pub mod ticks;

pub use predictions::{Confusion, Mistake, TaskView};

use chart::escape;
use run_files::RunFiles;

/// What the page shows besides the run folder's files.
#[derive(Clone, Debug, Default)]
pub struct ReportInput {
    /// Page title (the run folder's name).
    pub title: String,
    /// Test loss and metrics, when the run evaluated test data.
    pub test: Option<(f64, Vec<(String, f64)>)>,
    /// The trainable parameters: name and shape, in model order.
    pub parameters: Vec<(String, Vec<usize>)>,
    /// Training samples per epoch (for the throughput).
    pub train_samples: usize,
    /// The gradient watch's thresholds: vanishing below, exploding above.
    pub thresholds: (f64, f64),
    /// The task's own view.
    pub view: TaskView,
    /// Peak resident memory of the process in bytes, where the OS tells it.
    pub peak_memory: Option<u64>,
    /// The epoch whose weights `model.safetensors` holds (the best one when early stopping
    /// restored it).
    pub weights_epoch: Option<usize>,
    /// Text the model generated (language models), as `(prompt, continuation)`.
    pub samples: Vec<(String, String)>,
}

/// The ids of the page's sections, in page order (the test checks each is present).
pub const SECTIONS: [&str; 10] = [
    "summary", "curves", "test", "timing", "layers", "task", "schedule", "model", "config",
    "warnings",
];

/// A wall-clock time for people: milliseconds below a second, then seconds (two decimals below
/// ten), minutes and hours.
///
/// ```
/// use gradus_run::report::duration;
/// assert_eq!(duration(0.0291), "29 ms");
/// assert_eq!(duration(2.346), "2.35 s");
/// assert_eq!(duration(42.25), "42.2 s");
/// assert_eq!(duration(125.0), "2 min 5 s");
/// assert_eq!(duration(7260.0), "2 h 1 min");
/// ```
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1e3)
    } else if secs < 10.0 {
        format!("{secs:.2} s")
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} min {:.0} s", (secs / 60.0).floor(), secs % 60.0)
    } else {
        format!(
            "{} h {:.0} min",
            (secs / 3600.0).floor(),
            (secs % 3600.0) / 60.0
        )
    }
}

/// The whole page.
///
/// ```
/// use gradus_run::report::{page, run_files::{RunFiles, Table}, ReportInput};
/// let files = RunFiles {
///     dir: "runs/demo".into(),
///     metrics: Table::parse("epoch,step,train_loss,val_loss,grad_norm,lr,update_ratio,seconds\n1,10,0.5,0.6,1.0,0.1,0.001,0.2\n"),
///     steps: Table::default(),
///     layers: Table::default(),
///     summary: None,
///     config: Some("epochs = 1\n".into()),
/// };
/// let html = page(&files, &ReportInput { title: "demo".into(), ..Default::default() });
/// assert!(html.contains("<svg") && html.contains("id=\"config\""));
/// ```
pub fn page(files: &RunFiles, input: &ReportInput) -> String {
    let body = [
        sections::summary(files, input),
        sections::curves(files),
        sections::test(input),
        sections::timing(files, input),
        sections::layers(files, input),
        sections::task(input),
        sections::schedule(files),
        sections::model(input),
        sections::config(files),
        sections::warnings(files),
    ]
    .join("\n");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · gradus report</title><style>{STYLE}</style></head>\n<body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(&input.title)
    )
}

/// The page's CSS (inline in its `<style>`), shared by the other reports built on these charts
/// (`gradus-generative`'s).
pub const STYLE: &str = "body{font-family:sans-serif;margin:1.5em 2em;color:#222;max-width:1250px}\
h1{margin:0 0 .3em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.row{display:flex;flex-wrap:wrap;gap:12px}\
.note{color:#666;font-size:12px}pre{background:#f6f6f6;padding:.6em;font-size:12px;overflow:auto;max-height:30em}\
svg.chart{border:1px solid #eee;background:#fff}circle.hover{fill-opacity:0}circle.hover:hover{fill-opacity:1}\
table.cm td{width:26px;height:22px;text-align:center;font-size:11px;padding:0}\
.sample{white-space:pre-wrap;font-family:monospace;background:#f6f6f6;padding:.5em;margin:.3em 0}\
.kv th{color:#555;font-weight:normal}.mistakes{display:flex;flex-wrap:wrap;gap:8px}\
.mistakes figure{margin:0;text-align:center;font-size:11px}.mistakes img{image-rendering:pixelated;width:56px;height:56px}";

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
///
/// ```
/// # #[cfg(target_os = "linux")]
/// assert!(gradus_run::report::peak_memory().unwrap() > 0);
/// ```
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
