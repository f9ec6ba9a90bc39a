//! `mpirun -np N gradus train` over real MPI processes (built with the `mpi` feature; run by
//! `tests/distributed/ci.sh`, which installs Open MPI): 2 and 4 ranks reach the parameters of one
//! process with the same global batch, every rank holds the same parameters (each run checks it
//! before it ends), with the all-reduces overlapped with backward or after it, in rank order or
//! MPI's; a run stopped on 2 ranks resumes on 4, only rank 0 writes, a killed rank ends the job
//! instead of hanging it, and so does a rank that hangs (a collective timeout).
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const GRADUS: &str = env!("CARGO_BIN_EXE_gradus");

/// Waits for `child`; kills it and fails the test if it still runs after 300 s ("the job still ran
/// 300 s after {what}"). A guard against a hang, not a timing assertion: the jobs end in seconds.
fn wait_guarded(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > Duration::from_secs(300) {
            child.kill().unwrap();
            panic!("the job still ran 300 s after {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 45 rows of y = sin(2 x1) + x2 x3 (45: the last batch of 8 leaves some ranks short).
fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let mut csv = String::from("x1,x2,x3,y\n");
    for i in 0..45 {
        let (a, b, c) = (
            (i as f64 * 0.37).sin(),
            (i as f64 * 0.11).cos(),
            (i % 7) as f64 / 7.0,
        );
        csv += &format!("{a},{b},{c},{}\n", (2.0 * a).sin() + b * c);
    }
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    let config = format!(
        "seed = 5\nepochs = 4\ndtype = \"f64\"\n{extra}\n[data]\nformat = \"csv\"\npath = \"data.csv\"\ntarget = \"y\"\ntask = \"regression\"\n[model]\nkind = \"mlp\"\nhidden = [12]\nactivation = \"tanh\"\n[optimizer]\nname = \"adam\"\nlr = 0.01\n[batch]\nmode = \"minibatch\"\nsize = 8\n[distributed]\nbucket_cap_mb = 0.0005\n"
    );
    let path = dir.join("run.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn mpirun(dir: &Path, ranks: usize, args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.current_dir(dir)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", &ranks.to_string(), GRADUS])
        .args(args);
    c
}

fn ok(o: Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn train(dir: &Path, ranks: usize, out: &str, extra: &[&str]) {
    let cfg = dir.join("run.toml");
    let mut args = vec!["train", cfg.to_str().unwrap(), "--out", out, "--quiet"];
    args.extend(extra);
    let o = if ranks == 1 {
        Command::new(GRADUS).current_dir(dir).args(&args).output()
    } else {
        mpirun(dir, ranks, &args).output()
    };
    ok(o.unwrap(), &format!("{ranks} ranks into {out}"));
}

fn params(path: &Path) -> Vec<f64> {
    let (model, _) = gradus_run::load_model(path).unwrap();
    model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn two_and_four_ranks_train_the_model_one_process_trains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "");
    train(d, 1, "one", &[]);
    let one = params(&d.join("one/model.safetensors"));
    for ranks in [2, 4] {
        let out = format!("n{ranks}");
        train(d, ranks, &out, &[]);
        let p = params(&d.join(&out).join("model.safetensors"));
        let diff = max_diff(&p, &one);
        assert!(diff < 1e-12, "{ranks} ranks: {diff:e} from one process");
        let metrics = std::fs::read_to_string(d.join(&out).join("metrics.csv")).unwrap();
        assert_eq!(
            metrics.lines().count(),
            5,
            "a header and 4 epochs:\n{metrics}"
        );
    }
    // the all-reduces after backward (blocking), and overlapped with MPI's own summation order
    // (MPI_Iallreduce)
    for (out, set) in [
        ("after", "distributed.overlap=false"),
        ("mpi-order", "distributed.deterministic=false"),
    ] {
        train(d, 2, out, &["--set", set]);
        let p = params(&d.join(out).join("model.safetensors"));
        let diff = max_diff(&p, &one);
        assert!(diff < 1e-12, "{set}: {diff:e} from one process");
    }
}

#[test]
fn an_f32_model_all_reduced_in_f32_gives_the_same_bits_in_every_run() {
    // f32 parameters: the buckets travel as f32; the fixed order (the default) adds each value
    // in rank order, so two runs with the same rank count give the same bits
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "");
    let f32 = ["--set", "dtype=f32"];
    train(d, 1, "one", &f32);
    let one = params(&d.join("one/model.safetensors"));
    for ranks in [2, 4] {
        let runs: Vec<Vec<f64>> = ["a", "b"]
            .iter()
            .map(|run| {
                let out = format!("f32-{ranks}{run}");
                train(d, ranks, &out, &f32);
                params(&d.join(&out).join("model.safetensors"))
            })
            .collect();
        let bits = |p: &[f64]| p.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&runs[0]), bits(&runs[1]), "{ranks} ranks, two runs");
        let diff = max_diff(&runs[0], &one);
        assert!(diff < 1e-4, "{ranks} ranks: {diff:e} from one process");
    }
}

#[test]
fn a_run_stopped_on_two_ranks_resumes_on_four() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "");
    train(d, 1, "one", &[]);
    train(d, 2, "run", &["--set", "max_steps=9"]);
    train(d, 4, "run", &["--resume"]);
    let diff = max_diff(
        &params(&d.join("run/model.safetensors")),
        &params(&d.join("one/model.safetensors")),
    );
    assert!(
        diff < 1e-12,
        "resumed on 4 ranks: {diff:e} from one process"
    );
}

#[test]
fn a_killed_rank_ends_the_job_instead_of_hanging_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "");
    // a long run; rank 1 is killed after a second
    let script = format!(
        "\"{GRADUS}\" train run.toml --out run --quiet --set epochs=100000 & p=$!; \
         if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then sleep 1; kill -9 $p; fi; wait $p"
    );
    let mut c = Command::new("mpirun");
    c.current_dir(d)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", "2", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let status = wait_guarded(&mut child, "rank 1 was killed: it hung");
    assert!(!status.success(), "a job with a killed rank must fail");
}

#[test]
fn a_hanging_rank_ends_the_job_with_a_timeout_naming_the_collective() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "");
    // rank 1 stops (SIGSTOP: alive, but it never reaches the next collective) after a second;
    // rank 0 waits 3 s in a collective, then ends the job
    let script = format!(
        "\"{GRADUS}\" train run.toml --out run --quiet --set epochs=100000 \
         --set distributed.timeout_s=3 & p=$!; \
         if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then sleep 1; kill -STOP $p; fi; wait $p"
    );
    let mut c = Command::new("mpirun");
    c.current_dir(d)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", "2", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let status = wait_guarded(&mut child, "rank 1 stopped: the timeout did not end it");
    let stderr = reader.join().unwrap();
    assert!(!status.success(), "a job with a hanging rank must fail");
    assert!(
        stderr.contains("did not complete within 3 s on rank 0 of 2 ranks"),
        "{stderr}"
    );
    assert!(
        [
            "all_reduce",
            "all_to_all",
            "all_gather",
            "broadcast",
            "barrier"
        ]
        .iter()
        .any(|op| stderr.contains(&format!("error: {op}"))),
        "the message names the collective: {stderr}"
    );
}
