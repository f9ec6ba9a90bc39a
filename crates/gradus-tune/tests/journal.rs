//! The journal: a study replays from it event for event; a torn last line is dropped with a note;
//! trials running when the search stopped are marked interrupted and run again first.

use gradus_tune::{split_config, Study, TrialState};
use std::io::Write;

fn spec(params: &str) -> gradus_tune::SearchSpec {
    let text = format!("[search]\nmetric = \"val_loss\"\nsampler = \"tpe\"\npruner = \"asha\"\nseed = 5\n[search.params]\n{params}");
    split_config(&text, "t").unwrap().spec
}

const PARAMS: &str = "\"optimizer.lr\" = { type = \"log_uniform\", low = 1e-4, high = 1.0 }\n\"model.activation\" = { type = \"categorical\", choices = [\"relu\", \"tanh\"] }\n\"batch.size\" = { type = \"int\", low = 16, high = 64, step = 16 }\n";

/// A study with completed, pruned, failed and one running trial.
fn populate(s: &mut Study) {
    for i in 0..6 {
        let n = s.ask().unwrap().unwrap();
        for e in 1..=4 {
            if s.report(n, e, 1.0 / e as f64 + i as f64 * 0.1).unwrap() {
                break;
            }
        }
        match s.trials()[n].state {
            TrialState::Running if i == 2 => s.fail(n, "exit status 1", false).unwrap(),
            TrialState::Running => s.complete(n, 0.25 + i as f64 * 0.1).unwrap(),
            _ => {}
        }
    }
    let n = s.ask().unwrap().unwrap();
    s.report(n, 1, 0.9).unwrap();
}

#[test]
fn a_study_resumes_exactly_as_it_was_and_replaces_running_trials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut s = Study::create(spec(PARAMS), &path).unwrap();
    populate(&mut s);
    let before = s.trials().to_vec();
    assert!(before
        .iter()
        .any(|t| matches!(t.state, TrialState::Pruned(_))));
    drop(s);

    let (r, notes) = Study::resume(spec(PARAMS), &path).unwrap();
    assert_eq!(r.trials().len(), before.len());
    for (a, b) in r.trials().iter().zip(&before).take(before.len() - 1) {
        assert_eq!(a, b);
    }
    let last = r.trials().last().unwrap();
    assert_eq!(last.params, before.last().unwrap().params);
    assert_eq!(last.state_name(), "interrupted");
    assert!(!last.counts());
    assert_eq!(r.counted(), before.len() - 1);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("trial 6 was running"), "{notes:?}");

    // the interrupted trial's parameters run again first, once; then the sampler draws, the
    // same way on every resume
    let (mut again, _) = Study::resume(spec(PARAMS), &path).unwrap();
    let (mut twice, _) = Study::resume(spec(PARAMS), &path).unwrap();
    let a = again.ask().unwrap().unwrap();
    assert_eq!(again.trials()[a].params, last.params);
    again.complete(a, 0.2).unwrap();
    let a = again.ask().unwrap().unwrap();
    assert_ne!(again.trials()[a].params, last.params);
    let b = twice.ask().unwrap().unwrap();
    assert_eq!(twice.trials()[b].params, last.params);
    twice.complete(b, 0.2).unwrap();
    let b = twice.ask().unwrap().unwrap();
    assert_eq!(again.trials()[a].params, twice.trials()[b].params);
}

#[test]
fn a_torn_last_line_is_dropped_with_a_note_and_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut s = Study::create(spec(PARAMS), &path).unwrap();
    populate(&mut s);
    let whole = s.trials().to_vec();
    drop(s);
    // the search is killed in the middle of writing a line
    let text = std::fs::read_to_string(&path).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"event\":\"completed\",\"tri").unwrap();
    drop(f);

    let (mut r, notes) = Study::resume(spec(PARAMS), &path).unwrap();
    assert!(
        notes[0].contains("dropped a torn last line (25 bytes without a newline)"),
        "{notes:?}"
    );
    assert_eq!(r.trials().len(), whole.len());
    // the torn bytes are gone; the interrupted mark and new events follow on whole lines
    let n = r.ask().unwrap().unwrap();
    r.complete(n, 0.5).unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.starts_with(&text));
    assert!(!after.contains("\"tri{"));
    let (r2, notes) = Study::resume(spec(PARAMS), &path).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(r2.trials(), r.trials());
}

#[test]
fn a_bad_line_in_the_middle_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut s = Study::create(spec(PARAMS), &path).unwrap();
    populate(&mut s);
    drop(s);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "garbage";
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let e = Study::resume(spec(PARAMS), &path)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("journal.jsonl:4: not a trial event"), "{e}");
}

#[test]
fn resuming_with_another_space_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    Study::create(spec(PARAMS), &path).unwrap();
    let other = "\"optimizer.lr\" = { type = \"log_uniform\", low = 1e-5, high = 1.0 }\n";
    let e = Study::resume(spec(other), &path).err().unwrap().to_string();
    assert!(
        e.contains("journal.jsonl:1: written for another objective or search space"),
        "{e}"
    );
    let e = Study::create(spec(PARAMS), &path)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--resume continues it"), "{e}");
}
