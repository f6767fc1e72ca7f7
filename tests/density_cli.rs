//! `ttfit density`, `ttfit predict` on a density model and `ttfit sample --model`.

mod cli_common;

use cli_common::{ok, p, predict, scratch, stderr, ttfit, Table};
use std::path::Path;
use std::process::Output;

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

/// `ttfit density --data DATA --out MODEL [extra...]`.
fn density(data: &Path, model: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["density", "--data", p(data), "--out", p(model)];
    args.extend_from_slice(extra);
    ttfit(&args)
}

#[test]
fn density_fit_predict_and_sample() {
    let dir = scratch("fit");
    let data = dir.join("s.csv");
    write_samples(&data);
    let model = dir.join("m.json");
    ok(&density(
        &data,
        &model,
        &[
            "--basis",
            "legendre:5",
            "--rank",
            "2",
            "--max-iter",
            "15",
            "--domain",
            "-1:1,-1:1,-1:1",
            "--quiet",
        ],
    ));
    let text = std::fs::read_to_string(&model).unwrap();
    assert!(text.contains("\"model\": \"density\""));
    // predict: density and log-density columns, consistent
    let pred = dir.join("p.csv");
    predict(&model, &data, &pred, &[]);
    let table = Table::read(&pred);
    assert_eq!(table.header, ["a", "b", "c", "density", "log_density"]);
    for v in &table.rows {
        assert!(v[3] > 0.0 && (v[3].ln() - v[4]).abs() < 1e-12);
    }
    // sample: n rows inside the box
    let draw = |out: &Path| {
        ok(&ttfit(&[
            "sample",
            "--model",
            p(&model),
            "--n",
            "50",
            "--seed",
            "4",
            "--out",
            p(out),
        ]));
        std::fs::read_to_string(out).unwrap()
    };
    let d = draw(&dir.join("draws.csv"));
    assert_eq!(d.lines().count(), 51);
    assert!(d
        .lines()
        .skip(1)
        .all(|l| l.split(',').all(|x| x.parse::<f64>().unwrap().abs() <= 1.0)));
    // same seed, same draws
    assert_eq!(d, draw(&dir.join("draws2.csv")));
}

#[test]
fn density_errors_are_clear_and_write_nothing() {
    let dir = scratch("errors");
    let data = dir.join("s.csv");
    write_samples(&data);
    let model = dir.join("m.json");
    let o = density(&data, &model, &["--optimizer", "als"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a density optimizer"));
    let o = density(&data, &model, &["--domain", "0:1,-1:1,-1:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the domain"), "{}", stderr(&o));
    assert!(!model.exists());
}
