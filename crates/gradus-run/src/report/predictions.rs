//! The task's own view of a trained model on held-out data: a confusion matrix and the most
//! confident mistakes (images inline when the inputs are 28×28 pictures, as MNIST's) for
//! classification, predicted against actual values for regression.

use super::chart::{escape, short, Chart, Series, Style};
use super::png::{data_uri, gray_png};
use crate::error::Result;
use gradus_data::{Dataset, Targets};
use gradus_tensor::autodiff::no_grad;
use gradus_train::batch::to_device;
use gradus_train::task::Task;
use gradus_train::Trainer;
use std::fmt::Write;

/// Samples the view looks at, at most (the first ones of the data).
pub const MAX_SAMPLES: usize = 10_000;
/// Classes a confusion matrix is drawn for, at most.
pub const MAX_CLASSES: usize = 40;

/// What the task view shows.
#[derive(Clone, Debug, Default)]
pub enum TaskView {
    /// No view (sequence models, too many classes).
    #[default]
    None,
    /// Classification.
    Confusion(Confusion),
    /// Regression: `(actual, predicted)` of the first target value, on `data`.
    Regression {
        /// Which data ("test", "validation" or "training").
        data: String,
        /// The points.
        points: Vec<(f64, f64)>,
    },
}

/// A confusion matrix and the most confident mistakes.
#[derive(Clone, Debug, Default)]
pub struct Confusion {
    /// Which data ("test", "validation" or "training").
    pub data: String,
    /// `counts[actual][predicted]`.
    pub counts: Vec<Vec<usize>>,
    /// Up to 12 mistakes, most confident first.
    pub mistakes: Vec<Mistake>,
}

/// A sample the model got wrong.
#[derive(Clone, Debug)]
pub struct Mistake {
    /// The true class.
    pub actual: usize,
    /// The predicted class.
    pub predicted: usize,
    /// The predicted class's probability.
    pub confidence: f64,
    /// The input as a PNG, when it is a 28×28 image.
    pub png: Option<Vec<u8>>,
}

/// The view of `trainer`'s model on (the first [`MAX_SAMPLES`] of) `data`, named `name`.
///
/// # Errors
/// When the data does not fit the model.
pub fn compute(trainer: &Trainer, data: &Dataset, name: &str) -> Result<TaskView> {
    let n = data.len().min(MAX_SAMPLES);
    if n == 0 {
        return Ok(TaskView::None);
    }
    let one_per_sample = data.targets().len() == data.len();
    let idx: Vec<usize> = (0..n).collect();
    let outputs = forward(trainer, data, &idx)?;
    let width = outputs.len() / n;
    match (&trainer.task, data.targets()) {
        (Task::Classification { classes }, Targets::Classes { labels, .. })
            if one_per_sample && *classes <= MAX_CLASSES && width == *classes =>
        {
            let probs: Vec<Vec<f64>> = outputs.chunks(width).map(softmax).collect();
            Ok(TaskView::Confusion(confusion(data, labels, &probs, name)))
        }
        (Task::Binary, Targets::Classes { labels, .. }) if one_per_sample && width == 1 => {
            let probs: Vec<Vec<f64>> = outputs
                .iter()
                .map(|&z| {
                    let p = 1.0 / (1.0 + (-z).exp());
                    vec![1.0 - p, p]
                })
                .collect();
            Ok(TaskView::Confusion(confusion(data, labels, &probs, name)))
        }
        (Task::Regression { .. }, Targets::Values { values, dim })
            if one_per_sample && width == *dim =>
        {
            let points = (0..n)
                .map(|i| (f64::from(values[i * dim]), outputs[i * width]))
                .collect();
            Ok(TaskView::Regression {
                data: name.into(),
                points,
            })
        }
        _ => Ok(TaskView::None),
    }
}

/// The model's outputs for rows `idx`, in evaluation mode, flattened.
fn forward(trainer: &Trainer, data: &Dataset, idx: &[usize]) -> Result<Vec<f64>> {
    trainer.model.eval();
    let result = no_grad(|| -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for chunk in idx.chunks(trainer.options.eval_batch.max(1)) {
            let b = to_device(data, chunk, &trainer.task, trainer.options.dtype)
                .map_err(|e| e.to_string())?;
            let y = trainer.model.forward(&b.x).map_err(|e| e.to_string())?;
            out.extend(y.to_vec_f64());
        }
        Ok(out)
    });
    trainer.model.train(true);
    result
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

fn confusion(data: &Dataset, labels: &[u32], probs: &[Vec<f64>], name: &str) -> Confusion {
    let classes = probs.first().map_or(0, Vec::len);
    let mut counts = vec![vec![0usize; classes]; classes];
    let mut mistakes = Vec::new();
    for (i, p) in probs.iter().enumerate() {
        let (pred, conf) =
            p.iter().enumerate().fold(
                (0, f64::NEG_INFINITY),
                |b, (k, &v)| if v > b.1 { (k, v) } else { b },
            );
        let actual = labels[i] as usize;
        if actual < classes {
            counts[actual][pred] += 1;
        }
        if actual != pred {
            mistakes.push((i, actual, pred, conf));
        }
    }
    mistakes.sort_by(|a, b| b.3.total_cmp(&a.3));
    let picture = data.feature_len() == 784;
    let mistakes = mistakes
        .into_iter()
        .take(12)
        .map(|(i, actual, predicted, confidence)| Mistake {
            actual,
            predicted,
            confidence,
            png: picture.then(|| image(data.sample(i))),
        })
        .collect();
    Confusion {
        data: name.into(),
        counts,
        mistakes,
    }
}

/// A 28×28 sample as a PNG, its values stretched from their minimum (black) to maximum (white).
fn image(x: &[f32]) -> Vec<u8> {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let px: Vec<u8> = x
        .iter()
        .map(|&v| (255.0 * (v - lo) / span).round() as u8)
        .collect();
    gray_png(28, 28, &px)
}

/// The view as HTML (empty for [`TaskView::None`]).
pub fn view_html(view: &TaskView) -> String {
    match view {
        TaskView::None => String::new(),
        TaskView::Confusion(c) => confusion_html(c),
        TaskView::Regression { data, points } => {
            let (lo, hi) = points
                .iter()
                .flat_map(|p| [p.0, p.1])
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let every = points.len().div_ceil(2000).max(1);
            let mut c = Chart::new(&format!("Predicted against actual ({data} data)"), "actual");
            c.log_y = Some(false);
            c.width = 420.0;
            c.height = 380.0;
            if lo.is_finite() {
                c.series.push(Series::thin(
                    "predicted = actual",
                    "#999",
                    1.0,
                    vec![(lo, lo), (hi, hi)],
                ));
            }
            c.series.push(Series {
                label: "samples".into(),
                color: "#1f77b4".into(),
                opacity: 0.5,
                style: Style::Dots(2.5),
                hover: points.len() <= 300,
                points: points.iter().step_by(every).copied().collect(),
            });
            format!("<div id=\"predicted-vs-actual\">{}</div>", c.svg())
        }
    }
}

fn confusion_html(c: &Confusion) -> String {
    let k = c.counts.len();
    let mut s = format!(
        "<div id=\"confusion-matrix\"><h3>Confusion matrix ({} data; rows: actual class, columns: predicted)</h3><table class=\"cm\"><tr><th></th>",
        escape(&c.data)
    );
    for j in 0..k {
        let _ = write!(s, "<th>{j}</th>");
    }
    s.push_str("<th>recall</th></tr>");
    for (i, row) in c.counts.iter().enumerate() {
        let total: usize = row.iter().sum();
        let _ = write!(s, "<tr><th>{i}</th>");
        for (j, &n) in row.iter().enumerate() {
            let f = if total > 0 {
                n as f64 / total as f64
            } else {
                0.0
            };
            let (hue, text) = if i == j { (210, "#fff") } else { (0, "#000") };
            let light = 100.0 - 55.0 * f.sqrt();
            let color = if i == j && f < 0.5 { "#000" } else { text };
            let _ = write!(
                s,
                "<td style=\"background:hsl({hue},70%,{light:.0}%);color:{color}\" title=\"actual {i}, predicted {j}: {n}\">{}</td>",
                if n > 0 { n.to_string() } else { String::new() }
            );
        }
        let recall = if total > 0 {
            short(row[i] as f64 / total as f64)
        } else {
            "–".into()
        };
        let _ = write!(s, "<td class=\"n\">{recall}</td></tr>");
    }
    s.push_str("</table></div>");
    if !c.mistakes.is_empty() {
        s.push_str("<h3>Most confident mistakes</h3><div class=\"mistakes\" id=\"mistakes\">");
        for m in &c.mistakes {
            let img = m
                .png
                .as_ref()
                .map(|p| {
                    format!(
                        "<img alt=\"sample\" src=\"{}\"><br>",
                        data_uri("image/png", p)
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                s,
                "<figure>{img}actual {} → {}<br>p = {:.3}</figure>",
                m.actual, m.predicted, m.confidence
            );
        }
        s.push_str("</div>");
    }
    s
}
