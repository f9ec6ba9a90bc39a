//! `gradus train` builds its schedule for the steps the run really takes (epochs x batches, cut
//! at `max_steps`) and warns when the config's lengths disagree: `max_steps` out of reach (the
//! Shakespeare example asked for 600 steps of a 518-step epoch), or a schedule shorter than the
//! run, which then holds its final rate.

use std::path::Path;
use std::process::Command;

/// 40 rows of `y = 2x + 1`: with batches of 10, 4 steps per epoch.
fn data(dir: &Path) -> String {
    let rows: String = (0..40)
        .map(|i| format!("{},{}\n", i as f64 / 40.0, 2.0 * i as f64 / 40.0 + 1.0))
        .collect();
    let path = dir.join("line.csv");
    std::fs::write(&path, format!("x,y\n{rows}")).unwrap();
    path.to_string_lossy().into_owned()
}

/// Trains `extra` (top-level keys and a `[schedule]` table) on the line; returns stderr and the
/// `lr` column of `metrics.csv` (the rate the next step would use, after each epoch).
fn train(dir: &Path, name: &str, top: &str, schedule: &str) -> (String, Vec<f64>) {
    let config = format!(
        "seed = 0\n{top}\n[data]\nformat = \"csv\"\npath = \"{}\"\ntarget = \"y\"\ntask = \"regression\"\n\
         [model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n[batch]\nsize = 10\n{schedule}\n",
        data(dir).replace('\\', "/")
    );
    let config_path = dir.join(format!("{name}.toml"));
    std::fs::write(&config_path, config).unwrap();
    let out = dir.join(name);
    let o = Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args([
            "train",
            config_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ])
        .output()
        .expect("gradus runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success() && !err.contains("panicked"), "{err}");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|&h| h == "lr")
        .expect("an lr column");
    let lrs = lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    (err, lrs)
}

#[test]
fn the_schedule_follows_the_steps_the_run_takes_when_max_steps_is_out_of_reach() {
    let dir = tempfile::tempdir().unwrap();
    // 2 epochs of 4 steps: the run takes 8 steps, not 100
    let (err, lrs) = train(
        dir.path(),
        "cosine",
        "epochs = 2\nmax_steps = 100",
        "[schedule]\nname = \"cosine\"\nmin_lr = 0.01",
    );
    assert!(
        err.contains(
            "warning: max_steps = 100 is never reached: epochs = 2 of 4 steps end the run after \
             8 steps, and the schedule follows those 8"
        ),
        "{err}"
    );
    // cosine over 8 steps: half way after epoch 1, its end (min_lr) exactly after epoch 2
    let half = 0.01 + 0.09 * (1.0 + (std::f64::consts::PI / 2.0).cos()) / 2.0;
    assert_eq!(lrs.len(), 2);
    assert!(
        (lrs[0] - half).abs() < 1e-12,
        "{lrs:?} (over 100 steps it would be 0.0996)"
    );
    assert_eq!(lrs[1], 0.01, "{lrs:?}");
}

#[test]
fn a_schedule_shorter_than_the_run_is_a_warning_and_holds_its_final_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (err, lrs) = train(
        dir.path(),
        "onecycle",
        "epochs = 3",
        "[schedule]\nname = \"onecycle\"\ntotal_steps = 5",
    );
    let final_rate = 0.1 / 25.0 / 1e4;
    assert!(
        err.contains(&format!(
            "warning: schedule.total_steps = 5 is shorter than the run (12 steps): from step 4 \
             on the schedule holds its final rate {final_rate:e}"
        )),
        "{err}"
    );
    assert_eq!(lrs, vec![final_rate; 3]);
}

#[test]
fn a_consistent_config_gives_no_warning_and_a_schedule_of_the_run_length() {
    let dir = tempfile::tempdir().unwrap();
    // max_steps 6 cuts 3 epochs of 4 steps: the cosine spans the 6 steps
    let (err, lrs) = train(
        dir.path(),
        "cut",
        "epochs = 3\nmax_steps = 6",
        "[schedule]\nname = \"cosine\"\nwarmup_steps = 2\nmin_lr = 0.02",
    );
    assert!(!err.contains("warning"), "{err}");
    // after step 4: warmup of 2, then cosine over the remaining 4 at its half; after 6: its end
    let half = 0.02 + 0.08 * (1.0 + (std::f64::consts::PI / 2.0).cos()) / 2.0;
    assert!((lrs[0] - half).abs() < 1e-12, "{lrs:?}");
    assert_eq!(*lrs.last().unwrap(), 0.02, "{lrs:?}");
}

#[test]
fn warmup_then_polynomial_decay_ends_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // 8 steps: 2 of warmup, then a linear decay over the remaining 6 that reaches 0 at step 8
    let (err, lrs) = train(
        dir.path(),
        "poly",
        "epochs = 2",
        "[schedule]\nname = \"polynomial\"\nwarmup_steps = 2",
    );
    assert!(!err.contains("warning"), "{err}");
    assert!((lrs[0] - 0.1 * 4.0 / 6.0).abs() < 1e-12, "{lrs:?}");
    assert_eq!(lrs[1], 0.0, "{lrs:?}");
}
