//! `report.html` and `steps.csv` of real runs: every section of the page is there, with the
//! view of the run's task (confusion matrix, predicted against actual, generated text), the
//! per-step curves, and the markers at the best epoch and at early stopping.

use gradus_run::report::SECTIONS;
use gradus_run::{Config, RunBuilder};
use std::path::Path;

fn train(config: &str, out: &Path) -> String {
    let c = Config::from_toml_str(config).unwrap();
    let mut run = RunBuilder::new(c).out_dir(out).quiet(true).build().unwrap();
    run.train().unwrap();
    std::fs::read_to_string(out.join("report.html")).unwrap()
}

fn assert_sections(html: &str) {
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    assert!(
        html.contains("<svg") && html.contains("<title>"),
        "charts with hover values"
    );
    assert!(
        !html.contains("e-1<"),
        "tick labels are round, not 3.055e-1"
    );
}

fn steps_rows(out: &Path) -> usize {
    let text = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert!(text.starts_with("step,epoch,samples,loss,lr,grad_norm\n"));
    text.lines().count() - 1
}

#[test]
fn regression_report_draws_predicted_against_actual_and_per_step_loss() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..40)
        .map(|i| {
            format!(
                "{},{}\n",
                i as f64 / 10.0,
                3.0 * i as f64 / 10.0 - 1.0 + 0.1 * ((i * 7) % 5) as f64
            )
        })
        .collect();
    let csv = dir.path().join("line.csv");
    std::fs::write(&csv, format!("x,y\n{rows}")).unwrap();
    let out = dir.path().join("run");
    let html = train(
        &format!(
            "epochs = 6\n[data]\nformat = \"csv\"\npath = {csv:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             validation = 0.25\ntest_path = {csv:?}\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.05\n\
             [schedule]\nname = \"cosine\"\nwarmup_steps = 3\n[batch]\nsize = 10\n"
        ),
        &out,
    );
    assert_sections(&html);
    assert!(
        html.contains("id=\"predicted-vs-actual\"")
            && html.contains("Predicted against actual (test data)")
    );
    assert!(
        html.contains("train (smoothed 0.9)") && html.contains("train (raw)"),
        "per-step loss, raw and smoothed"
    );
    assert!(html.contains(">best epoch "), "best-epoch marker");
    assert!(
        html.contains("id=\"test\"><h2>Test metrics</h2>\n<table"),
        "test metrics table"
    );
    assert!(html.contains("rmse") && html.contains("samples/s") && html.contains("peak memory"));
    assert!(html.contains("[1, 1]"), "the model's weight shape");
    assert!(html.contains("[optimizer]"), "the resolved config");
    assert!(html.contains("Metrics (each epoch, validation data)"));
    // 30 training samples in batches of 10: 3 steps per epoch
    assert_eq!(steps_rows(&out), 18);

    // without validation data, the epoch metrics chart says they are the training data's
    let html = train(
        &format!(
            "epochs = 3\n[data]\nformat = \"csv\"\npath = {csv:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.05\n[batch]\nsize = 10\n"
        ),
        &dir.path().join("run-no-validation"),
    );
    assert!(
        html.contains("Metrics (each epoch, training data)")
            && !html.contains("Metrics (each epoch, validation data)")
    );
}

#[test]
fn classification_report_has_a_confusion_matrix_mistakes_as_images_and_early_stop() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    // a large learning rate makes the validation loss stop improving: early stopping ends it
    let html = train(
        &format!(
            "epochs = 30\n[data]\nformat = \"mnist\"\npath = {mnist:?}\nlimit = 300\nvalidation = 0.2\n\
             [model]\nkind = \"mlp\"\nhidden = [16]\n[optimizer]\nname = \"sgd\"\nlr = 0.5\n[batch]\nsize = 60\n\
             [train]\nearly_stopping_patience = 1\n"
        ),
        &out,
    );
    assert_sections(&html);
    assert!(html.contains("id=\"confusion-matrix\"") && html.contains("validation data"));
    assert!(
        html.contains("id=\"mistakes\"") && html.contains("src=\"data:image/png;base64,"),
        "digits inline"
    );
    assert!(html.contains(">early stopping<"), "early-stop marker");
    assert!(
        html.contains("model.safetensors holds"),
        "which epoch's weights the model holds"
    );
    assert!(
        html.contains("vanishing &lt; 1e-7") || html.contains("outside the range: vanishing"),
        "thresholds"
    );
    assert!(
        html.contains("id=\"layer-charts\"")
            && html.contains("0: update ratio")
            && html.contains("1e-3 guide"),
        "per-layer update ratios beside the gradient norms, with the 1e-3 guide"
    );
    let layers_csv = std::fs::read_to_string(out.join("layers.csv")).unwrap();
    assert!(layers_csv.starts_with("epoch,layer,grad_norm,update_ratio\n"));
    let layers = html.matches("<svg").count();
    assert!(
        layers >= 4 + 2,
        "small multiples for the layers: {layers} charts"
    );
}

#[test]
fn gpt_report_shows_generated_text_and_a_one_epoch_run_draws_curves() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = "to be or not to be, that is the question.\n".repeat(30);
    let path = dir.path().join("t.txt");
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("run");
    let html = train(
        &format!(
            "epochs = 1\n[data]\nformat = \"text\"\npath = {path:?}\nblock_size = 8\nvalidation = 0.1\n\
             [model]\nkind = \"gpt\"\nwidth = 16\nlayers = 1\nheads = 2\n[optimizer]\nname = \"adamw\"\nlr = 0.01\n\
             [batch]\nsize = 8\n"
        ),
        &out,
    );
    assert_sections(&html);
    assert!(html.contains("Generated text") && html.contains("class=\"sample\""));
    // one epoch: its values and the layers' as tables, not charts of one dot each
    assert!(
        html.contains("<table id=\"epoch-values\">") && html.contains("<th>val_loss</th>"),
        "the epoch's values as a table"
    );
    assert!(
        html.contains("<table id=\"layer-values\">") && html.contains("<th>update ratio</th>"),
        "the layers' values as a table"
    );
    assert!(
        !html.contains("(epoch mean)</text>") && !html.contains("Metrics (each epoch"),
        "no epoch charts of one point"
    );
    assert!(
        steps_rows(&out) > 10,
        "one epoch, many steps: the loss chart has a curve"
    );
    let (model, spec) = gradus_run::load_model(&out.join("model.safetensors")).unwrap();
    let o = gradus_run::generate::SampleOptions {
        tokens: 40,
        ..Default::default()
    };
    let a = gradus_run::generate::generate(model.as_ref(), &spec, "to be", &o).unwrap();
    let b = gradus_run::generate::generate(model.as_ref(), &spec, "to be", &o).unwrap();
    assert_eq!(a, b, "seeded");
    assert_eq!(a.chars().count(), 40);
    let err = gradus_run::generate::generate(model.as_ref(), &spec, "Zebra", &o).unwrap_err();
    assert!(err.to_string().contains("--prompt"), "{err}");
}
