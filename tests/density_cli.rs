//! `ttfit density`, `ttfit predict` on a density model and `ttfit sample --model`.

use std::path::Path;
use std::process::{Command, Output};

fn ttfit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ttfit"))
        .args(args)
        .output()
        .expect("run ttfit")
}

/// A fresh directory per test (removed first if left over).
fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ttfit-density-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_samples(path: &Path) {
    // deterministic correlated points in (-1, 1)^3
    let mut s = String::from("a,b,c\n");
    let mut state: u64 = 12345;
    let mut u = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for _ in 0..600 {
        let z = 0.6 * u();
        let row: Vec<String> = (0..3).map(|_| format!("{:.6}", z + 0.3 * u())).collect();
        s.push_str(&row.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn density_fit_predict_and_sample() {
    let dir = tmp("fit");
    let data = dir.join("s.csv");
    write_samples(&data);
    let model = dir.join("m.json");
    let o = ttfit(&[
        "density",
        "--data",
        data.to_str().unwrap(),
        "--basis",
        "legendre:5",
        "--rank",
        "2",
        "--max-iter",
        "15",
        "--domain",
        "-1:1,-1:1,-1:1",
        "--quiet",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&model).unwrap();
    assert!(text.contains("\"model\": \"density\""));
    // predict: density and log-density columns, consistent
    let pred = dir.join("p.csv");
    let o = ttfit(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        pred.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = std::fs::read_to_string(&pred).unwrap();
    let mut lines = p.lines();
    assert_eq!(lines.next().unwrap(), "a,b,c,density,log_density");
    for l in lines {
        let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
        assert!(v[3] > 0.0 && (v[3].ln() - v[4]).abs() < 1e-12);
    }
    // sample: n rows inside the box
    let out = dir.join("draws.csv");
    let o = ttfit(&[
        "sample",
        "--model",
        model.to_str().unwrap(),
        "--n",
        "50",
        "--seed",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = std::fs::read_to_string(&out).unwrap();
    assert_eq!(d.lines().count(), 51);
    assert!(d
        .lines()
        .skip(1)
        .all(|l| l.split(',').all(|x| x.parse::<f64>().unwrap().abs() <= 1.0)));
    // same seed, same draws
    let out2 = dir.join("draws2.csv");
    ttfit(&[
        "sample",
        "--model",
        model.to_str().unwrap(),
        "--n",
        "50",
        "--seed",
        "4",
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(d, std::fs::read_to_string(&out2).unwrap());
}

#[test]
fn density_errors_are_clear_and_write_nothing() {
    let dir = tmp("errors");
    let data = dir.join("s.csv");
    write_samples(&data);
    let model = dir.join("m.json");
    let o = ttfit(&[
        "density",
        "--data",
        data.to_str().unwrap(),
        "--optimizer",
        "als",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a density optimizer"));
    let o = ttfit(&[
        "density",
        "--data",
        data.to_str().unwrap(),
        "--domain",
        "0:1,-1:1,-1:1",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("outside the domain"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!model.exists());
}
