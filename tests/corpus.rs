//! The bad-input corpus (`tests/corpus/cases.toml`): every case runs the `ttfit` binary in a
//! fresh copy of the fixture directory and checks
//! - the exit code (never a panic, 101, or an abort/signal),
//! - a regular expression the output (stderr, then stdout) must match,
//! - that no file was created, changed or removed (a hash of the whole directory tree before
//!   and after: names, kinds, link targets, contents), except the files a successful case
//!   lists in `creates`;
//! - optional `after` checks (`["symlink", "link"]`: the path is still a symbolic link).
//!
//! Fixtures are the static files of `tests/corpus/files/` plus files generated once per run by
//! the binary itself (a model file, its tampered and older-version variants, wide and badly
//! scaled tables); see `generate_fixtures`. Cases run in parallel threads.

use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

#[derive(serde::Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    area: String,
    args: Vec<String>,
    exit: i32,
    message: String,
    #[serde(default)]
    creates: Vec<String>,
    #[serde(default)]
    setup: Vec<Vec<String>>,
    #[serde(default)]
    after: Vec<Vec<String>>,
    /// Unix-only setup (fifos, devices).
    #[serde(default)]
    unix: bool,
}

#[derive(serde::Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn ttfit_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ttfit"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the ttfit binary runs")
}

/// Recursive listing: relative path -> (kind, link target or content hash).
fn tree_hash(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let ft = m.file_type();
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).map(|t| t.display().to_string());
                out.insert(rel, format!("link -> {t:?}"));
            } else if ft.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &p, out);
            } else if ft.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.insert(
                    rel,
                    format!("file {} crc {:08x}", bytes.len(), crc32fast::hash(&bytes)),
                );
            } else {
                out.insert(rel, "special".into());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Files made by the binary once per run: they follow the current model-file format.
fn generate_fixtures(dir: &Path) {
    let run = |args: &[&str]| {
        let o = ttfit_in(dir, args);
        assert!(
            o.status.success(),
            "fixture command {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "sample",
        "--function",
        "ishigami",
        "--n",
        "300",
        "--seed",
        "1",
        "--out",
        "train.csv",
    ]);
    run(&[
        "sample",
        "--function",
        "ishigami",
        "--n",
        "100",
        "--seed",
        "2",
        "--out",
        "test.csv",
    ]);
    run(&[
        "sample",
        "--function",
        "borehole",
        "--n",
        "50",
        "--seed",
        "3",
        "--out",
        "borehole_50.csv",
    ]);
    run(&[
        "fit",
        "--data",
        "train.csv",
        "--rank",
        "2",
        "--basis",
        "legendre:4",
        "--max-iter",
        "3",
        "--progress",
        "none",
        "--out",
        "model.json",
    ]);
    let text = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let model: serde_json::Value = serde_json::from_str(&text).unwrap();
    let write = |name: &str, v: &serde_json::Value| {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(v).unwrap()).unwrap()
    };
    // tampering with a v2 file: the checksum must catch it
    let mut t = model.clone();
    let c = t["cores"][0][0].as_f64().unwrap();
    t["cores"][0][0] = serde_json::json!(c + 1e-9);
    write("model_tampered_core.json", &t);
    let mut t = model.clone();
    t["training"]["seed"] = serde_json::json!(12345);
    write("model_tampered_meta.json", &t);
    let mut t = model.clone();
    t["features"][0]["map"]["hi"] = serde_json::json!(1e6);
    write("model_tampered_domain.json", &t);
    let mut t = model.clone();
    t.as_object_mut().unwrap().remove("checksum");
    write("model_no_checksum.json", &t);
    let mut t = model.clone();
    t["version"] = serde_json::json!(99);
    write("model_v99.json", &t);
    let mut t = model.clone();
    t["version"] = serde_json::json!(0);
    write("model_v0.json", &t);
    let mut t = model.clone();
    t.as_object_mut().unwrap().remove("version");
    write("model_no_version.json", &t);
    let mut t = model.clone();
    t["format"] = serde_json::json!("other-model");
    write("model_wrong_format.json", &t);
    let mut t = model.clone();
    t.as_object_mut().unwrap().remove("format");
    write("model_no_format.json", &t);
    std::fs::write(dir.join("model_truncated.json"), &text[..text.len() / 2]).unwrap();
    // version 1 (no checksum): still read; structural damage is caught by validation
    let mut v1 = model.clone();
    v1.as_object_mut().unwrap().remove("checksum");
    v1.as_object_mut().unwrap().remove("ttfit_version");
    v1["version"] = serde_json::json!(1);
    write("model_v1.json", &v1);
    let mut t = v1.clone();
    t["ranks"] = serde_json::json!([1, 2, 1]);
    write("model_v1_bad_ranks.json", &t);
    let mut t = v1.clone();
    t["cores"].as_array_mut().unwrap().pop();
    write("model_v1_missing_core.json", &t);
    let mut t = v1.clone();
    t["cores"][1].as_array_mut().unwrap().pop();
    write("model_v1_short_core.json", &t);
    let mut t = v1.clone();
    t["ranks"] = serde_json::json!([1, 4294967296u64, 4294967296u64, 1]);
    write("model_v1_huge_ranks.json", &t);
    let mut t = v1.clone();
    t["features"][0]["basis"] = serde_json::json!({"family": "chebyshev", "n": 4});
    write("model_v1_unknown_basis.json", &t);
    let mut t = v1.clone();
    t["features"][0]["map"]["lo"] = serde_json::json!(5.0);
    t["features"][0]["map"]["hi"] = serde_json::json!(-5.0);
    write("model_v1_bad_domain.json", &t);
    let mut t = v1.clone();
    t["features"] = serde_json::json!([]);
    t["cores"] = serde_json::json!([]);
    t["ranks"] = serde_json::json!([1]);
    write("model_v1_no_features.json", &t);
    let mut t = v1.clone();
    t["cores"][0][0] = serde_json::json!("zero");
    write("model_v1_string_value.json", &t);
    // tables too big or badly scaled to fit
    let mut wide = String::new();
    let d = 20_000;
    wide.push_str(
        &(0..d)
            .map(|k| format!("x{k}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    wide.push_str(",y\n");
    for i in 0..3 {
        let row: Vec<String> = (0..=d)
            .map(|k| format!("{}", (k * 7 + i * 3) % 10))
            .collect();
        wide.push_str(&row.join(","));
        wide.push('\n');
    }
    std::fs::write(dir.join("wide.csv"), wide).unwrap();
    let mut many = String::new();
    many.push_str(
        &(1..=30)
            .map(|k| format!("x{k}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    many.push_str(",y\n");
    for i in 0..10 {
        let row: Vec<String> = (0..=30)
            .map(|k| format!("{}", ((k * 13 + i * 7) % 17) as f64 / 17.0))
            .collect();
        many.push_str(&row.join(","));
        many.push('\n');
    }
    std::fs::write(dir.join("30inputs_10rows.csv"), many).unwrap();
    let scaled = |name: &str, f: &dyn Fn(usize, f64) -> String| {
        let mut s = String::from("x1,x2,x3,y\n");
        for i in 0..50 {
            let a = (i as f64 * 0.37).sin();
            let b = (i as f64 * 0.71).cos();
            let c = (i as f64 * 1.13).sin();
            s.push_str(&format!("{a},{b},{c},{}\n", f(i, a + b * c)));
        }
        std::fs::write(dir.join(name), s).unwrap();
    };
    scaled("y_1e300.csv", &|_, v| format!("{:e}", (1.5 + v) * 1e300));
    scaled("y_1e-300.csv", &|_, v| format!("{:e}", (1.5 + v) * 1e-300));
    scaled("y_50rows.csv", &|_, v| format!("{v}"));
    scaled("y_constant.csv", &|_, _| "2.5".to_string());
    let mut s = String::from("x1,x2,x3,y\n");
    for i in 0..20 {
        let big = if i == 3 {
            "1e308".to_string()
        } else {
            format!("{}", i as f64 / 20.0)
        };
        s.push_str(&format!("{big},0.5,{},{}\n", i as f64 / 40.0, i));
    }
    std::fs::write(dir.join("x_1e308.csv"), s).unwrap();
    std::fs::write(
        dir.join("predict_1e308.csv"),
        "x1,x2,x3\n0.1,0.2,0.3\n1e308,0.2,0.3\n",
    )
    .unwrap();
}

fn setup(dir: &Path, step: &[String]) {
    let p = |i: usize| dir.join(&step[i]);
    match step[0].as_str() {
        "symlink" => {
            #[cfg(unix)]
            std::os::unix::fs::symlink(&step[1], p(2)).unwrap();
        }
        "hardlink" => std::fs::hard_link(p(1), p(2)).unwrap(),
        "mkdir" => std::fs::create_dir_all(p(1)).unwrap(),
        "copy" => {
            std::fs::copy(p(1), p(2)).unwrap();
        }
        "write" => std::fs::write(p(1), step[2].replace("\\n", "\n")).unwrap(),
        "mkfifo" => {
            let ok = Command::new("mkfifo").arg(p(1)).status().unwrap().success();
            assert!(ok, "mkfifo failed");
        }
        other => panic!("unknown setup step {other}"),
    }
}

/// Runs one case; returns a failure description.
fn run_case(base: &Path, scratch: &Path, case: &Case) -> Result<(), String> {
    let dir = scratch.join(&case.name);
    copy_dir(base, &dir);
    for step in &case.setup {
        setup(&dir, step);
    }
    let before = tree_hash(&dir);
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let out = ttfit_in(&dir, &args);
    let secs = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = format!("{stderr}\n{stdout}");
    let code = out.status.code();
    let mut problems = Vec::new();
    if code.is_none() {
        problems.push(format!("killed by a signal ({:?})", out.status));
    }
    if text.contains("panicked at") || code == Some(101) {
        problems.push("panicked".to_string());
    }
    if text.contains("memory allocation of") || code == Some(134) {
        problems.push("aborted".to_string());
    }
    if code != Some(case.exit) {
        problems.push(format!("exit {code:?}, expected {}", case.exit));
    }
    let re = Regex::new(&case.message).map_err(|e| format!("bad regex: {e}"))?;
    if !re.is_match(&text) {
        problems.push(format!("message does not match /{}/", case.message));
    }
    let mut after = tree_hash(&dir);
    let mut before = before;
    for c in &case.creates {
        before.remove(c);
        if after.remove(c).is_none() {
            problems.push(format!("expected file {c} was not written"));
        }
    }
    if after != before {
        let changed: Vec<String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        problems.push(format!("files created, changed or removed: {changed:?}"));
    }
    for check in &case.after {
        match check[0].as_str() {
            "symlink" => {
                let is_link = std::fs::symlink_metadata(dir.join(&check[1]))
                    .is_ok_and(|m| m.file_type().is_symlink());
                if !is_link {
                    problems.push(format!("{} is no longer a symbolic link", check[1]));
                }
            }
            other => problems.push(format!("unknown check {other}")),
        }
    }
    if secs > 60.0 {
        problems.push(format!("took {secs:.1} s"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} ({}): {}\n  args: {:?}\n  output: {}",
            case.name,
            case.area,
            problems.join("; "),
            case.args,
            text.trim()
        ))
    }
}

#[test]
fn bad_input_corpus() {
    let text = std::fs::read_to_string(corpus_dir().join("cases.toml")).unwrap();
    let corpus: Corpus = toml::from_str(&text).expect("cases.toml parses");
    let cases: Vec<Case> = corpus
        .case
        .into_iter()
        .filter(|c| cfg!(unix) || !c.unix)
        .collect();
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "duplicate case {}", c.name);
    }
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let scratch = std::env::temp_dir().join(format!("ttfit-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let base = scratch.join("_base");
    copy_dir(&corpus_dir().join("files"), &base);
    generate_fixtures(&base);
    let queue = Mutex::new(cases.iter());
    let failures = Mutex::new(Vec::new());
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let next = queue.lock().unwrap().next();
                let Some(case) = next else { break };
                if let Err(f) = run_case(&base, &scratch, case) {
                    failures.lock().unwrap().push(f);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    let mut by_area: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *by_area.entry(c.area.as_str()).or_default() += 1;
    }
    eprintln!(
        "corpus: {} cases {:?} in {:.1} s, {} failed",
        cases.len(),
        by_area,
        t0.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
