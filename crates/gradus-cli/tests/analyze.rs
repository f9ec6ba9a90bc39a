//! `gradus analyze` on a small trained model: a parseable `analysis.json` whose numbers hang
//! together (logistic regression has a positive semi-definite Hessian: no saddle), a summary on
//! standard output, and a clear error for a model that is not the config's.

mod common;

use common::{assert_fails_with, example, gradus, stdout, train, write};

const CONFIG: &str = "examples/breast-cancer.toml";

#[test]
fn analyze_writes_a_parseable_analysis_of_a_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path(), CONFIG, "run", &["--set", "epochs=3"]);
    let model = run.join("model.safetensors");
    let out = dir.path().join("analysis");
    let o = gradus(&[
        "analyze",
        model.to_str().unwrap(),
        "--config",
        CONFIG,
        "--batches",
        "4",
        "--top-k",
        "3",
        "--grid",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    for needle in [
        "top eigenvalues",
        "trace",
        "smallest eigenvalue",
        "edge of stability",
        "ε-sharpness",
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("analysis.json")).unwrap()).unwrap();
    // 30 features + bias, on 4 batches of 32
    assert_eq!(json["parameters"], 31);
    assert_eq!(
        (json["batches"].as_u64(), json["samples"].as_u64()),
        (Some(4), Some(128))
    );
    let top: Vec<f64> = json["top_eigenvalues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_f64().unwrap())
        .collect();
    assert_eq!(top.len(), 3);
    assert!(
        top.windows(2).all(|w| w[0] >= w[1]) && top[2] > 0.0,
        "{top:?}"
    );
    // convex loss: no negative curvature beyond the error bounds
    assert_eq!(json["saddle"]["detected"], false);
    assert!(json["saddle"]["min_eigenvalue"].as_f64().unwrap() > -1e-3 * top[0]);
    // the trace of a PSD Hessian is at least its largest eigenvalue (up to Hutchinson's error)
    let trace = &json["trace"];
    let (t, se) = (
        trace["trace"].as_f64().unwrap(),
        trace["std_error"].as_f64().unwrap(),
    );
    assert!(
        t + 4.0 * se >= top[0],
        "trace {t} ± {se} vs λ_max {}",
        top[0]
    );
    let grid = json["density"]["grid"].as_array().unwrap();
    let density: Vec<f64> = json["density"]["density"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(grid.len(), density.len());
    let step = grid[1].as_f64().unwrap() - grid[0].as_f64().unwrap();
    assert!((density.iter().sum::<f64>() * step - 1.0).abs() < 1e-9);
    let layers: Vec<&str> = json["per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(layers.len(), 2, "{layers:?}");
    // the config's lr = 0.05: 2/lr = 40
    let eos = &json["sharpness"]["edge_of_stability"];
    assert!((eos["threshold"].as_f64().unwrap() - 40.0).abs() < 1e-9);
    assert!((eos["lambda_max"].as_f64().unwrap() - top[0]).abs() < 1e-12);
    assert!(
        json["sharpness"]["epsilon"]["sharpness_percent"]
            .as_f64()
            .unwrap()
            >= 0.0
    );
    // no run report in the output folder: the plots go to a page of their own
    let page = std::fs::read_to_string(out.join("analysis.html")).unwrap();
    assert_eq!(page.matches("<section id=\"analysis\">").count(), 1);
    assert!(
        page.contains("class=\"cell\""),
        "the 3x3 surface as a heatmap"
    );
    assert!(text.contains("analysis.html"), "{text}");
}

#[test]
fn analyzing_a_run_folder_twice_leaves_one_analysis_section_in_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path(), CONFIG, "run", &["--set", "epochs=1"]);
    let model = run.join("model.safetensors");
    let before = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(!before.contains("<section id=\"analysis\">"));
    for grid in ["3", "0"] {
        let o = gradus(&[
            "analyze",
            model.to_str().unwrap(),
            "--config",
            CONFIG,
            "--batches",
            "2",
            "--top-k",
            "2",
            "--grid",
            grid,
        ]);
        assert!(stdout(&o).contains("report.html"), "{}", stdout(&o));
        let html = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert_eq!(html.matches("<section id=\"analysis\">").count(), 1);
        assert_eq!(html.matches("</body>").count(), 1);
        // the second analysis, without a surface, replaced the first one's heatmap
        assert_eq!(html.contains("class=\"cell\""), grid == "3");
        assert!(html.contains("<section id=\"curves\">") && html.contains("Eigenvalue density"));
    }
    assert!(!run.join("analysis.html").exists());
}

#[test]
fn analyze_refuses_a_model_the_config_does_not_describe() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path(), CONFIG, "run", &["--set", "epochs=1"]);
    let base = example("breast-cancer.toml");
    let mlp = write(
        dir.path(),
        "mlp.toml",
        &base.replace("kind = \"logistic\"", "kind = \"mlp\"\nhidden = [4]"),
    );
    let model = run.join("model.safetensors");
    assert_fails_with(
        &gradus(&["analyze", model.to_str().unwrap(), "--config", &mlp]),
        &["does not hold the model", "mlp.toml"],
    );
}
