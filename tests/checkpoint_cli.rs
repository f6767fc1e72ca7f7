//! `ttfit fit --checkpoint / --resume / --init` end to end: SIGINT writes a last checkpoint and
//! stops with exit code 130 and no model; resuming reaches the uninterrupted model bit for bit
//! (`--threads 1`); `--resume` refuses other data; `--init` warm-starts.

mod cli_common;

use cli_common::{bin, cores, ok, p, sample as sample_fn, scratch, stderr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// OTL samples `train{seed}.csv` in `dir`.
fn sample(dir: &Path, n: usize, seed: u64) -> PathBuf {
    sample_fn(dir, &format!("train{seed}.csv"), "otl", n, seed)
}

const FIT: [&str; 12] = [
    "--rank",
    "3",
    "--basis",
    "legendre:4",
    "--threads",
    "1",
    "--max-iter",
    "400",
    "--optimizer",
    "ngd-hb",
    "--quiet",
    "--target",
];

#[test]
fn sigint_checkpoint_then_resume_equals_the_uninterrupted_fit() {
    let dir = scratch("sigint");
    let train = sample(&dir, 2000, 1);
    let ck = dir.join("ck.json");
    let interrupted = dir.join("interrupted.json");
    let child = bin()
        .arg("fit")
        .args(["--data", p(&train)])
        .args(FIT)
        .arg("y")
        .args([
            "--checkpoint",
            p(&ck),
            "--checkpoint-every",
            "1",
            "--out",
            p(&interrupted),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // wait for the first periodic checkpoint, then interrupt
    let t0 = Instant::now();
    while !ck.exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ck.exists(), "no checkpoint written");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    if out.status.code() == Some(0) {
        // the fit finished before the signal arrived: nothing to resume
        eprintln!("fit finished before SIGINT; skipping the resume comparison");
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{err}");
    eprintln!("{}", err.trim());
    assert!(err.contains("interrupted after iteration"), "{err}");
    assert!(
        !interrupted.exists(),
        "a model was written by the interrupted run"
    );
    let resumed = dir.join("resumed.json");
    let o = bin()
        .arg("fit")
        .args([
            "--data",
            p(&train),
            "--target",
            "y",
            "--resume",
            p(&ck),
            "--quiet",
            "--out",
            p(&resumed),
        ])
        .output()
        .unwrap();
    ok(&o);
    let full = dir.join("full.json");
    let o = bin()
        .arg("fit")
        .args(["--data", p(&train)])
        .args(FIT)
        .arg("y")
        .args(["--out", p(&full)])
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(
        cores(&resumed),
        cores(&full),
        "resumed model differs from the uninterrupted one"
    );
    // other data: refused with a clear message
    let other = sample(&dir, 2000, 2);
    let o = bin()
        .arg("fit")
        .args([
            "--data",
            p(&other),
            "--target",
            "y",
            "--resume",
            p(&ck),
            "--out",
            p(&dir.join("x.json")),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("other training data"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn init_warm_starts_from_a_model_file() {
    let dir = scratch("init");
    let train = sample(&dir, 400, 3);
    let first = dir.join("first.json");
    let fit = |extra: &[&str], out: &Path| {
        let o = bin()
            .arg("fit")
            .args([
                "--data",
                p(&train),
                "--target",
                "y",
                "--rank",
                "3",
                "--basis",
                "legendre:4",
            ])
            // no hold-out: the train error is the loss the (monotone, Armijo) fit decreases
            .args([
                "--threads",
                "1",
                "--quiet",
                "--optimizer",
                "ngd",
                "--validation",
                "0",
            ])
            .args(extra)
            .args(["--out", p(out)])
            .output()
            .unwrap();
        ok(&o);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
        v["training"]["train_error"].as_f64().unwrap()
    };
    let e1 = fit(&["--max-iter", "2"], &first);
    let warm = dir.join("warm.json");
    let e2 = fit(&["--max-iter", "1", "--init", p(&first)], &warm);
    assert!(e2 <= e1, "warm start lost ground: {e2:e} > {e1:e}");
    // wrong rank: refused
    let o = bin()
        .arg("fit")
        .args([
            "--data",
            p(&train),
            "--target",
            "y",
            "--rank",
            "2",
            "--basis",
            "legendre:4",
        ])
        .args(["--init", p(&first), "--out", p(&dir.join("bad.json"))])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--init"));
    std::fs::remove_dir_all(&dir).ok();
}
