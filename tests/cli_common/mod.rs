//! Running the `ttfit` binary from the end-to-end tests (`tests/cli.rs`, `tests/density_cli.rs`,
//! `tests/checkpoint_cli.rs`): one place for the process call, the scratch directories, the
//! success and failure checks and reading the CSV files the binary writes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `Command` for the `ttfit` binary of this build.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ttfit"))
}

/// Run `ttfit args...` to completion.
pub fn ttfit(args: &[&str]) -> Output {
    bin().args(args).output().expect("the ttfit binary runs")
}

/// The process's standard error, lossily decoded.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The process's standard output, lossily decoded.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Assert that the run succeeded (showing its stderr otherwise); returns its stdout.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "ttfit failed: {}", stderr(o));
    stdout(o)
}

/// Assert that the run failed with a message containing `needle` (any case) and no panic.
pub fn assert_fails(o: &Output, needle: &str) {
    assert!(
        !o.status.success(),
        "expected a failure mentioning '{needle}'"
    );
    let e = stderr(o);
    assert!(
        e.to_lowercase().contains(&needle.to_lowercase()),
        "message '{e}' does not mention '{needle}'"
    );
    assert!(!e.contains("panicked"), "a panic instead of an error: {e}");
}

/// A fresh scratch directory for the test `name` of this test binary (removed first if a
/// previous run left it).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ttfit-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `ttfit sample --function F --n N --seed S --out dir/name`; returns the file.
pub fn sample(dir: &Path, name: &str, function: &str, n: usize, seed: u64) -> PathBuf {
    let out = dir.join(name);
    ok(&ttfit(&[
        "sample",
        "--function",
        function,
        "--n",
        &n.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        p(&out),
    ]));
    out
}

/// `ttfit predict --model M --data D --out O [extra...]`; asserts success, returns stdout.
pub fn predict(model: &Path, data: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "predict",
        "--model",
        p(model),
        "--data",
        p(data),
        "--out",
        p(out),
    ];
    args.extend_from_slice(extra);
    ok(&ttfit(&args))
}

/// A numeric CSV file the binary wrote: its header and its rows.
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, parsed as numbers.
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// Read `path` (every field must parse as a number).
    pub fn read(path: &Path) -> Table {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header = lines
            .next()
            .expect("a header line")
            .split(',')
            .map(String::from)
            .collect();
        let rows = lines
            .map(|l| {
                l.split(',')
                    .map(|v| v.parse().unwrap_or_else(|_| panic!("not a number: {v}")))
                    .collect()
            })
            .collect();
        Table { header, rows }
    }

    /// Index of the column `name` (panics naming it when absent).
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The values of the column `name`.
    pub fn column(&self, name: &str) -> Vec<f64> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c]).collect()
    }
}

/// The `cores` of a model file, for exact comparisons of two fits.
pub fn cores(model: &Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    v["cores"].clone()
}
