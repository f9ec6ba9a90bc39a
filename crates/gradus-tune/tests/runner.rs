//! The runner with a stand-in for `gradus train` (a shell script that writes `metrics.csv` as the
//! trainer does and, like it, ends cleanly on SIGTERM): a trial the pruner stops is sent SIGTERM
//! and ends; a trial that fails is recorded with its exit status and log; the study folder holds
//! each trial's config and log.
#![cfg(unix)]

use gradus_tune::runner::{run, RunnerOptions};
use gradus_tune::{split_config, Study, TrialState};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// `train CFG --out DIR --quiet --overwrite`: reads `x` from CFG; writes epoch 1 with the value x; then a
/// good trial (x < 0.5) writes epoch 2 and exits 0, x = 0.95 exits 1 at once (a crash), any other
/// waits for SIGTERM (exit 143, as `gradus train`), giving up with status 3 after a minute so a
/// runner that never stops it fails the test instead of hanging it.
const TRAIN: &str = r#"#!/bin/sh
trap 'echo "interrupted by SIGTERM" >&2; exit 143' TERM
cfg="$2"; out="$4"
x=$(sed -n 's/^x = //p' "$cfg")
mkdir -p "$out"
[ "$x" = 0.95 ] && { echo "error: diverged" >&2; exit 1; }
header="epoch,step,train_loss,val_loss,grad_norm,lr,update_ratio,seconds"
printf '%s\n1,1,0,%s,0,0,0,0\n' "$header" "$x" > "$out/m.tmp" && mv "$out/m.tmp" "$out/metrics.csv"
case "$x" in
  0.1|0.2) printf '%s\n1,1,0,%s,0,0,0,0\n2,2,0,%s,0,0,0,0\n' "$header" "$x" "$x" > "$out/m.tmp" && mv "$out/m.tmp" "$out/metrics.csv"; exit 0 ;;
esac
i=0
while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
exit 3
"#;

fn program(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("fake-gradus");
    std::fs::write(&p, TRAIN).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn pruned_trials_are_stopped_by_sigterm_and_failures_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let text = "x = 0.0\n[search]\nsampler = \"grid\"\npruner = { name = \"asha\", reduction_factor = 2 }\n[search.params]\nx = { type = \"categorical\", choices = [0.1, 0.9, 0.2, 0.95] }\n";
    let split = split_config(text, "t").unwrap();
    let mut study = Study::create(split.spec, &dir.path().join("journal.jsonl")).unwrap();
    let opts = RunnerOptions {
        program: program(dir.path()),
        trials: 4,
        parallel: 1,
        dir: dir.path().to_path_buf(),
        poll: Duration::from_millis(20),
        stop: None,
    };
    let mut lines = Vec::new();
    run(&mut study, &split.base, &opts, &mut |l| lines.push(l)).unwrap();
    let states: Vec<&str> = study.trials().iter().map(|t| t.state_name()).collect();
    // 0.1 completes; 0.9 is worse than 0.1 at rung 1 and is stopped (it would wait forever);
    // at rung 1, [0.1, 0.9, 0.2] keeps the best 3 / 2 = 1: 0.2 is pruned too (its run had ended:
    // the decision depends on the values reported, not on when the runner read them)
    assert_eq!(study.trials()[0].state, TrialState::Completed(0.1));
    assert_eq!(study.trials()[1].state, TrialState::Pruned(1));
    assert_eq!(states[2..], ["pruned", "failed"], "{lines:?}");
    match &study.trials()[3].state {
        TrialState::Failed { reason, .. } => {
            assert!(reason.contains("exit status: 1"), "{reason}");
            assert!(reason.contains("error: diverged"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // the stopped trial ended through its SIGTERM handler
    let log = std::fs::read_to_string(dir.path().join("trials/0001.log")).unwrap();
    assert_eq!(log.trim(), "interrupted by SIGTERM");
    assert!(dir.path().join("trials/0002.toml").exists());
    assert!(
        lines
            .iter()
            .any(|l| l == "trial 1 pruned after epoch 1 (val_loss 0.90000)"),
        "{lines:?}"
    );
}

#[test]
fn a_stopped_search_stops_its_trials_and_marks_them_interrupted() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    // x = 0.9 never ends on its own (waits for SIGTERM)
    let text = "x = 0.0\n[search]\nsampler = \"grid\"\n[search.params]\nx = { type = \"categorical\", choices = [0.9, 0.7] }\n";
    let split = split_config(text, "t").unwrap();
    let journal = dir.path().join("journal.jsonl");
    let mut study = Study::create(split.spec.clone(), &journal).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let opts = RunnerOptions {
        program: program(dir.path()),
        trials: 2,
        parallel: 2,
        dir: dir.path().to_path_buf(),
        poll: Duration::from_millis(20),
        stop: Some(stop.clone()),
    };
    let mut lines = Vec::new();
    // the stop request arrives once both trials have started, as a Ctrl-C would
    run(&mut study, &split.base, &opts, &mut |l| {
        if l.starts_with("trial 1 started") {
            stop.store(true, Ordering::SeqCst);
        }
        lines.push(l)
    })
    .unwrap();
    let states: Vec<&str> = study.trials().iter().map(|t| t.state_name()).collect();
    assert_eq!(states, ["interrupted", "interrupted"], "{lines:?}");
    // (their logs may or may not show the handler: SIGTERM can arrive before it is installed)
    assert!(
        lines.last().unwrap().starts_with("search stopped"),
        "{lines:?}"
    );
    // resuming runs both again (interrupted trials do not count)
    let (resumed, notes) = Study::resume(split.spec, &journal).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(resumed.counted(), 0);
}
