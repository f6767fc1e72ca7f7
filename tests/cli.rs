//! The `ttfit` binary end to end: sample -> fit -> predict, compare, and bad inputs.

mod cli_common;

use cli_common::{assert_fails, bin, ok, p, predict, sample, scratch, stderr, ttfit, Table};
use std::path::Path;

#[test]
fn sample_fit_predict_round_trip_reproduces_library_predictions() {
    let dir = scratch("roundtrip");
    let train = sample(&dir, "train.csv", "otl", 600, 1);
    let test = sample(&dir, "test.csv", "otl", 200, 2);
    let model = dir.join("model.json");
    let o = ttfit(&[
        "fit",
        "--data",
        p(&train),
        "--target",
        "y",
        "--basis",
        "legendre:5",
        "--rank",
        "3",
        "--optimizer",
        "ngd",
        "--max-iter",
        "15",
        "--test",
        p(&test),
        "--seed",
        "3",
        "--quiet",
        "--out",
        p(&model),
    ]);
    let summary = ok(&o);
    assert!(
        summary.contains("test"),
        "summary names the test error: {summary}"
    );
    let pred = dir.join("pred.csv");
    predict(&model, &test, &pred, &[]);

    // the output keeps the input columns and adds the prediction
    let table = Table::read(&pred);
    let input = ttfit::data::Dataset::from_csv(&test, "y", None).unwrap();
    for name in &input.input_names {
        assert!(table.header.contains(name));
    }
    let cli = table.column("y_pred");
    let (m, info) = ttfit::model_file::load(&model).unwrap();
    assert_eq!(info.unwrap().target, "y");
    let lib = m
        .predict(input.x.view(), ttfit::basis::OutsidePolicy::Extrapolate)
        .unwrap()
        .values;
    assert_eq!(cli.len(), lib.len());
    for (a, b) in cli.iter().zip(lib.iter()) {
        assert_eq!(a, b, "CSV predictions read back exactly");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_writes_the_files_it_promises() {
    let dir = scratch("compare");
    let train = sample(&dir, "train.csv", "ishigami", 400, 1);
    let test = sample(&dir, "test.csv", "ishigami", 200, 2);
    let out = dir.join("report");
    let o = ttfit(&[
        "compare",
        "--data",
        p(&train),
        "--test",
        p(&test),
        "--rank",
        "3",
        "--basis",
        "legendre:6",
        "--max-iter",
        "5",
        "--optimizers",
        "als,rgd,ngd,ngd-nesterov",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "compare failed: {}", stderr(&o));
    for f in [
        "history.csv",
        "summary.md",
        "error_vs_iteration.png",
        "error_vs_iteration.svg",
        "error_vs_seconds.png",
        "error_vs_seconds.svg",
    ] {
        let path = out.join(f);
        assert!(
            path.is_file() && std::fs::metadata(&path).unwrap().len() > 100,
            "{f} missing or empty"
        );
    }
    let hist = std::fs::read_to_string(out.join("history.csv")).unwrap();
    for name in ["als", "rgd", "ngd", "ngd-nesterov"] {
        assert!(
            hist.lines().any(|l| l.starts_with(&format!("{name},"))),
            "history has rows of {name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_give_clear_errors_and_no_model_file() {
    let dir = scratch("bad");
    let train = sample(&dir, "train.csv", "friedman", 300, 1);
    let model = dir.join("model.json");
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--data",
            p(&train),
            "--quiet",
            "--max-iter",
            "3",
            "--out",
            p(&model),
        ];
        args.extend_from_slice(extra);
        ttfit(&args)
    };
    // missing file
    assert_fails(
        &ttfit(&[
            "fit",
            "--data",
            p(&dir.join("nope.csv")),
            "--out",
            p(&model),
        ]),
        "nope.csv",
    );
    // wrong target column
    assert_fails(&fit(&["--target", "z"]), "z");
    // rank 0 and an impossible rank
    assert_fails(&fit(&["--rank", "0"]), "rank");
    assert_fails(&fit(&["--rank", "500"]), "rank");
    // unknown optimizer
    assert_fails(&fit(&["--optimizer", "adamw"]), "adamw");
    // NaN in the data names the row and column
    let nan = dir.join("nan.csv");
    let mut text = std::fs::read_to_string(&train).unwrap();
    let first_data_line = text.lines().nth(1).unwrap().to_string();
    let broken = first_data_line
        .split(',')
        .enumerate()
        .map(|(i, f)| {
            if i == 0 {
                "NaN".to_string()
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    text = text.replacen(&first_data_line, &broken, 1);
    std::fs::write(&nan, text).unwrap();
    assert_fails(
        &ttfit(&["fit", "--data", p(&nan), "--out", p(&model)]),
        "row 1",
    );
    // a fit that fails after training has started (undamped QR needs N >= D) leaves no model
    // file (the damped step factors G + lambda s I instead, which needs no N >= D)
    assert_fails(
        &fit(&[
            "--optimizer",
            "ngd",
            "--damping",
            "off",
            "--solver",
            "qr",
            "--rank",
            "3",
            "--basis",
            "legendre:12",
        ]),
        "QR",
    );
    assert!(!model.exists(), "no model file after failed fits");
    // corrupt and wrong-version model files
    let corrupt = dir.join("corrupt.json");
    std::fs::write(
        &corrupt,
        "{\"format\": \"ttfit-model\", \"version\": 1, \"features\": [",
    )
    .unwrap();
    let pred = dir.join("pred.csv");
    let predict_with = |m: &Path| {
        ttfit(&[
            "predict",
            "--model",
            p(m),
            "--data",
            p(&train),
            "--out",
            p(&pred),
        ])
    };
    assert_fails(&predict_with(&corrupt), "truncated");
    let newer = dir.join("newer.json");
    std::fs::write(&newer, "{\"format\": \"ttfit-model\", \"version\": 99}").unwrap();
    assert_fails(&predict_with(&newer), "version 99");
    assert!(
        !pred.exists(),
        "no prediction file after failed predictions"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_interrupted_fit_leaves_no_partial_model_file() {
    let dir = scratch("interrupt");
    let train = sample(&dir, "train.csv", "borehole", 3000, 1);
    let model = dir.join("model.json");
    let mut child = bin()
        .args([
            "fit",
            "--data",
            p(&train),
            "--quiet",
            "--optimizer",
            "gd",
            "--rank",
            "4",
            "--basis",
            "legendre:8",
            "--validation",
            "0",
            "--max-iter",
            "100000",
            "--time-limit",
            "60",
            "--out",
            p(&model),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(!model.exists());
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "only the training file remains: {entries:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without a terminal (stderr is a pipe here) `fit` writes progress lines at least every 5 s,
/// with the elapsed time and an ETA; `--time-limit` is wall-clock time for the whole fit and
/// lifts the default limit of 100 iterations.
#[test]
fn progress_lines_without_a_terminal_and_a_wall_clock_time_limit() {
    let dir = scratch("progress");
    let train = sample(&dir, "train.csv", "ishigami", 400, 1);
    let cfg = dir.join("no-stall.toml");
    std::fs::write(&cfg, "[stopping]\nrel_tol = 0\n").unwrap();
    let model = dir.join("model.json");
    let limit = 9.0;
    let t0 = std::time::Instant::now();
    let o = ttfit(&[
        "fit",
        "--data",
        p(&train),
        "--rank",
        "2",
        "--basis",
        "legendre:4",
        "--optimizer",
        "gd",
        "--config",
        p(&cfg),
        "--time-limit",
        &limit.to_string(),
        "--out",
        p(&model),
    ]);
    let wall = t0.elapsed().as_secs_f64();
    let err = stderr(&o);
    let out = ok(&o);
    assert!(out.contains("(time limit)"), "{out}");
    let iterations: usize = out
        .split("gd: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("iteration count");
    assert!(
        iterations > 100,
        "the time limit lifts the default 100 iterations: {out}"
    );
    // wall clock: the limit plus at most one iteration, process start and file writing
    assert!(
        wall < limit + 3.0,
        "took {wall:.1} s for --time-limit {limit}"
    );
    let times: Vec<f64> = err
        .lines()
        .filter(|l| l.starts_with("[gd]"))
        .map(|l| {
            l["[gd]".len()..]
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .expect("elapsed seconds")
        })
        .collect();
    assert!(times.len() >= 3, "{err}");
    assert!(times[0] <= 5.0, "{err}");
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] <= 5.0,
            "gap of {:.1} s between progress lines:\n{err}",
            w[1] - w[0]
        );
    }
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("[gd]")).collect();
    assert!(
        lines[..lines.len() - 1].iter().all(|l| l.contains("ETA")),
        "{err}"
    );
    assert!(lines[lines.len() - 1].ends_with("done"), "{err}");
}

/// The accuracy `predict --target` prints (`accuracy 0.93, ...`).
fn accuracy_in(summary: &str) -> f64 {
    summary
        .split("accuracy ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {summary}"))
}

/// A labelled CSV (`x1, x2, y`): `y = 1[x1 x2 > 0]` with 10% of the labels flipped (a fixed
/// pattern), or with a bad label in row 5 when `bad`.
fn labelled_csv(path: &Path, n: usize, bad: bool) {
    let mut s = String::from("x1,x2,y\n");
    for i in 0..n {
        let a = ((i * 37 % 101) as f64 / 50.0) - 1.0;
        let b = ((i * 53 % 97) as f64 / 48.0) - 1.0;
        let mut y = (a * b > 0.0) as u8 as f64;
        if i % 10 == 3 {
            y = 1.0 - y;
        }
        if bad && i == 4 {
            y = 0.5;
        }
        s.push_str(&format!("{a},{b},{y}\n"));
    }
    std::fs::write(path, s).unwrap();
}

/// `fit --loss logistic` records the classifier in the model file, reports accuracy and
/// log-loss, and `predict` writes probabilities in [0, 1] and 0/1 labels; the noise-free part
/// of the XOR labels (90%) is learned. A label other than 0/1 is refused with its row named.
#[test]
fn logistic_fit_predicts_probabilities_and_labels() {
    let dir = scratch("logistic");
    let data = dir.join("train.csv");
    labelled_csv(&data, 600, false);
    let model = dir.join("model.json");
    let o = ttfit(&[
        "fit",
        "--data",
        p(&data),
        "--loss",
        "logistic",
        "--rank",
        "2",
        "--basis",
        "legendre:4",
        "--optimizer",
        "ngd",
        "--out",
        p(&model),
        "--quiet",
    ]);
    let out = ok(&o);
    assert!(out.contains("train accuracy"), "{out}");
    let file = std::fs::read_to_string(&model).unwrap();
    assert!(file.contains("\"classification\"") && file.contains("logistic"));
    let pred = dir.join("pred.csv");
    let summary = predict(&model, &data, &pred, &["--target", "y"]);
    let acc = accuracy_in(&summary);
    assert!(acc > 0.85, "{summary}");
    let table = Table::read(&pred);
    let (ip, il) = (table.col("y_prob"), table.col("y_label"));
    for f in &table.rows {
        assert!((0.0..=1.0).contains(&f[ip]));
        assert_eq!(f[il], (f[ip] > 0.5) as u8 as f64);
    }
    // bad labels: a clear error naming the row, no model file
    let bad = dir.join("bad.csv");
    labelled_csv(&bad, 50, true);
    let model2 = dir.join("model2.json");
    let o = ttfit(&[
        "fit",
        "--data",
        p(&bad),
        "--loss",
        "logistic",
        "--rank",
        "2",
        "--basis",
        "legendre:4",
        "--out",
        p(&model2),
        "--quiet",
    ]);
    assert_fails(&o, "label 0.5");
    assert!(!model2.exists());
}

/// `fit --loss softmax` with three classes: the model file records the classifier, `predict`
/// writes one probability column per class (summing to 1) and the most probable label, and
/// the training accuracy on a nearly separable problem is high.
#[test]
fn softmax_fit_predicts_class_probabilities() {
    let dir = scratch("softmax");
    let data = dir.join("train.csv");
    let mut s = String::from("x1,x2,y\n");
    for i in 0..450 {
        let a = ((i * 37 % 101) as f64 / 50.0) - 1.0;
        let b = ((i * 53 % 97) as f64 / 48.0) - 1.0;
        let y = if a < -0.33 {
            0
        } else if a < 0.33 {
            1
        } else {
            2
        };
        s.push_str(&format!("{a},{b},{y}\n"));
    }
    std::fs::write(&data, s).unwrap();
    let model = dir.join("model.json");
    let o = ttfit(&[
        "fit",
        "--data",
        p(&data),
        "--loss",
        "softmax",
        "--rank",
        "2",
        "--basis",
        "legendre:5",
        "--optimizer",
        "ngd",
        "--out",
        p(&model),
        "--quiet",
    ]);
    ok(&o);
    assert!(std::fs::read_to_string(&model).unwrap().contains("softmax"));
    let pred = dir.join("pred.csv");
    let summary = predict(&model, &data, &pred, &["--target", "y"]);
    let acc = accuracy_in(&summary);
    assert!(acc > 0.9, "{summary}");
    let table = Table::read(&pred);
    let (p0, p1, p2, lab) = (
        table.col("y_prob0"),
        table.col("y_prob1"),
        table.col("y_prob2"),
        table.col("y_label"),
    );
    for f in &table.rows {
        let ps = [f[p0], f[p1], f[p2]];
        assert!((ps.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let best = (0..3).max_by(|&a, &b| ps[a].total_cmp(&ps[b])).unwrap();
        assert_eq!(f[lab], best as f64);
    }
}

/// `--cv K` is refused with `--validation 0` (they conflict) and for `K < 2`, with a message
/// naming the option, before anything is written.
#[test]
fn cv_conflicts_and_bad_k_are_refused() {
    let dir = scratch("cv");
    let train = sample(&dir, "train.csv", "ishigami", 60, 1);
    let model = dir.join("model.json");
    let fit = |extra: &[&str]| {
        let mut args = vec!["fit", "--data", p(&train), "--out", p(&model)];
        args.extend_from_slice(extra);
        ttfit(&args)
    };
    let o = fit(&["--cv", "3", "--validation", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("conflict"), "{}", stderr(&o));
    let o = fit(&["--cv", "1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("K >= 2"), "{}", stderr(&o));
    let o = fit(&["--cv", "61"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("number of rows (60)"), "{}", stderr(&o));
    assert!(!model.exists(), "no model file on a refused fit");
}

#[test]
fn rank_continuation_grows_to_the_rank_and_refuses_what_it_cannot_do() {
    let dir = scratch("continuation");
    let train = sample(&dir, "train.csv", "borehole", 800, 1);
    let model = dir.join("model.json");
    let fit = |extra: &[&str]| {
        let mut args = vec!["fit", "--data", p(&train), "--out", p(&model), "--quiet"];
        args.extend_from_slice(extra);
        ttfit(&args)
    };
    // a fixed rank 3: the fit starts at rank 2 and must end at rank 3 on every bond
    let o = fit(&[
        "--rank",
        "3",
        "--basis",
        "legendre:4",
        "--optimizer",
        "ngd",
        "--max-iter",
        "25",
        "--validation",
        "0",
        "--rank-continuation",
    ]);
    let summary = ok(&o);
    assert!(summary.contains("ngd+rc"), "{summary}");
    let (m, _) = ttfit::model_file::load(&model).unwrap();
    assert_eq!(m.tt().internal_ranks(), vec![3; 7]);
    std::fs::remove_file(&model).unwrap();
    // the adaptive learner grows ranks itself
    assert_fails(&fit(&["--rank-continuation"]), "--rank-continuation");
    // the tolerance is a relative loss decrease in (0, 1)
    assert_fails(
        &fit(&[
            "--rank",
            "3",
            "--basis",
            "legendre:4",
            "--rank-continuation",
            "1.5",
        ]),
        "stall tolerance",
    );
    assert!(!model.exists(), "no model file on a refused fit");
}
