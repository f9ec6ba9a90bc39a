//! `report.html` of a federated-averaging run: test accuracy and loss per round, client drift,
//! and the rounds taken to reach accuracy targets (the figure FedAvg's paper reports).

use super::chart::{escape, Chart, Series};
use super::STYLE;
use crate::federated::RoundRecord;

/// The accuracy targets whose first round the page names (McMahan et al. report rounds to 97%
/// on MNIST with the 2NN, 99% with the CNN).
const TARGETS: [f64; 4] = [0.9, 0.95, 0.97, 0.99];

/// The first round whose accuracy is at least `target`.
///
/// ```
/// use gradus_run::federated::RoundRecord;
/// use gradus_run::report::federated::rounds_to;
/// let r = |round, accuracy| RoundRecord { round, clients: 10, loss: 0.1, accuracy, drift: 0.0, seconds: 0.0 };
/// let records = [r(1, 0.8), r(2, 0.97), r(3, 0.96)];
/// assert_eq!(rounds_to(&records, 0.97), Some(2));
/// assert_eq!(rounds_to(&records, 0.99), None);
/// ```
pub fn rounds_to(records: &[RoundRecord], target: f64) -> Option<usize> {
    records
        .iter()
        .find(|r| r.accuracy >= target)
        .map(|r| r.round)
}

/// The page: a table of the rounds to each accuracy target, and charts of accuracy, loss and
/// client drift per round.
///
/// ```
/// use gradus_run::federated::RoundRecord;
/// let r = |round, accuracy| RoundRecord { round, clients: 10, loss: 0.1, accuracy, drift: 0.5, seconds: 1.0 };
/// let html = gradus_run::report::federated::page("mnist-noniid", &[r(1, 0.8), r(2, 0.95)]);
/// assert!(html.contains("<svg") && html.contains("Test accuracy") && html.contains("<td class=\"n\">2</td>"));
/// ```
pub fn page(title: &str, records: &[RoundRecord]) -> String {
    let points = |f: fn(&RoundRecord) -> f64| -> Vec<(f64, f64)> {
        records.iter().map(|r| (r.round as f64, f(r))).collect()
    };
    let mut accuracy = Chart::new("Test accuracy", "round").with(Series::line(
        "accuracy",
        "#2ca02c",
        points(|r| r.accuracy),
    ));
    accuracy.log_y = Some(false);
    let loss =
        Chart::new("Test loss", "round").with(Series::line("loss", "#1f77b4", points(|r| r.loss)));
    let drift = Chart::new(
        "Client drift (mean distance of client models from the average)",
        "round",
    )
    .with(Series::line("drift", "#d62728", points(|r| r.drift)));
    let best = records.iter().map(|r| r.accuracy).fold(f64::NAN, f64::max);
    let mut rows = String::new();
    for t in TARGETS {
        let cell = rounds_to(records, t).map_or("not reached".to_string(), |r| r.to_string());
        rows += &format!(
            "<tr><th>rounds to {:.0}%</th><td class=\"n\">{cell}</td></tr>",
            t * 100.0
        );
    }
    let last = records.last();
    let summary = format!(
        "<table class=\"kv\"><tr><th>rounds</th><td class=\"n\">{}</td></tr><tr><th>clients per round</th><td class=\"n\">{}</td></tr><tr><th>best test accuracy</th><td class=\"n\">{:.4}</td></tr><tr><th>seconds</th><td class=\"n\">{:.1}</td></tr>{rows}</table>",
        records.len(),
        last.map_or(0, |r| r.clients),
        best,
        last.map_or(0.0, |r| r.seconds),
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · gradus federated report</title><style>{STYLE}</style></head>\n<body><h1>{t}</h1>\n<p class=\"note\">Federated averaging (McMahan et al. 2017): each round's averaged model evaluated on the test data (the validation data, else the training data, when the config has none). The values are in federated.csv.</p>\n<h2>Summary</h2>{summary}\n<h2>Rounds</h2><div class=\"row\">{}{}{}</div>\n</body></html>\n",
        accuracy.svg(),
        loss.svg(),
        drift.svg(),
        t = escape(title)
    )
}
