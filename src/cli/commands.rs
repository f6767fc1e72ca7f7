//! The commands.

use super::args::{Command, CompareArgs, DemoArgs, FitArgs, ModelArgs, PredictArgs, SampleArgs};
use super::budget;
use super::progress::{Progress, ProgressMode};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ttfit::basis::{Basis, OutsidePolicy};
use ttfit::compare::compare;
use ttfit::config::ConfigFile;
use ttfit::data::output::{check_output_dir, check_output_file, same_destination, Input};
use ttfit::data::Dataset;
use ttfit::fit::FitConfig;
use ttfit::functions::TestFunction;
use ttfit::init::Start;
use ttfit::optim::OptimizerConfig;
use ttfit::report;
use ttfit::train::IterationRecord;
use ttfit::{model_file, Error, Result};

pub fn dispatch(cli: super::args::Cli) -> Result<()> {
    match cli.command {
        Command::Sample(a) => sample(a),
        Command::Fit(a) => fit_cmd(a),
        Command::Predict(a) => predict(a),
        Command::Compare(a) => compare_cmd(a),
        Command::Demo(a) => demo(a),
        Command::Density(a) => super::density::density_cmd(a),
    }
}

fn sample(a: SampleArgs) -> Result<()> {
    let function = match (&a.function, &a.model) {
        (_, Some(m)) => return super::density::sample_from_model(&a, m),
        (Some(f), None) => f,
        (None, None) => return Err(Error::param("--function", "give --function or --model")),
    };
    let f = TestFunction::parse(function)?;
    if a.n == 0 {
        return Err(Error::param("--n", "need at least one sample"));
    }
    check_output_file("--out", &a.out, &[])?;
    // the table, then its text, are held in memory: ~8 + 32 bytes per value
    budget::check(
        "--n",
        a.n as u128 * (f.dim() as u128 + 1) * 40,
        "draw fewer samples per file (several --seed values give independent files)",
    )?;
    let mut data = f.sample(a.n, a.seed)?;
    // the target column is always `y`, so `ttfit fit --target y` works for every function
    data.target_name = "y".into();
    data.to_csv(&a.out)?;
    eprintln!(
        "wrote {} samples of {} ({} inputs) to {}",
        a.n,
        f.name(),
        f.dim(),
        a.out.display()
    );
    Ok(())
}

/// Read the training (and test) data named by the model options.
fn read_data(m: &ModelArgs) -> Result<(Dataset, Option<Dataset>)> {
    let inputs = m.inputs.as_deref();
    let train = match &m.weights {
        Some(w) => Dataset::from_csv_weighted(&m.data, &m.target, inputs, Some(w.as_str()))?,
        None => Dataset::from_csv(&m.data, &m.target, inputs)?,
    };
    let test = match &m.test {
        Some(p) => Some(Dataset::from_csv(p, &m.target, Some(&train.input_names))?),
        None => None,
    };
    Ok((train, test))
}

/// Early-stopping patience of a fixed-model fit validated by default.
const FIXED_PATIENCE: usize = 10;

/// Early-stopping patience of the demo (long enough to show the validation curve turn up).
const DEMO_PATIENCE: usize = 20;

/// Largest configuration file read (a configuration is a few hundred bytes; this bounds a
/// mistaken `--config /dev/zero` or a data file given by mistake).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn read_config_text(p: &Path) -> Result<String> {
    use std::io::Read;
    let io = |e| Error::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let mut text = String::new();
    std::fs::File::open(p)
        .map_err(io)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::param(
            format!("--config {}", p.display()),
            format!("is larger than {MAX_CONFIG_BYTES} bytes; a configuration file is a short TOML file (docs/CONFIG.md)"),
        ));
    }
    Ok(text)
}

/// The input files of the model options, for the output guard.
fn model_inputs(m: &ModelArgs) -> Vec<(&'static str, PathBuf)> {
    let mut v = vec![("--data", m.data.clone())];
    if let Some(t) = &m.test {
        v.push(("--test", t.clone()));
    }
    if let Some(c) = &m.config {
        v.push(("--config", c.clone()));
    }
    if let Some(d) = &m.domain_from {
        v.push(("--domain-from", d.clone()));
    }
    v
}

fn as_inputs<'a>(v: &'a [(&'static str, PathBuf)]) -> Vec<Input<'a>> {
    v.iter().map(|(r, p)| (*r, p.as_path())).collect()
}

/// Build the fit configuration: defaults, then the TOML file, then the options, field by
/// field (docs/CONFIG.md).
fn config(m: &ModelArgs, optimizer: Option<&str>, train: &Dataset) -> Result<FitConfig> {
    let mut cfg = FitConfig::default();
    if let Some(name) = optimizer {
        // an unknown --optimizer is the option's error, not the file's
        OptimizerConfig::from_name(name)?;
    }
    let file = match &m.config {
        Some(p) => {
            let text = read_config_text(p)?;
            let named = |e: Error| match e {
                Error::InvalidParameter { message, .. } => {
                    Error::param(format!("--config {}", p.display()), message)
                }
                other => other,
            };
            let file = ConfigFile::parse(&text).map_err(named)?;
            let (c, note) = file.apply(&cfg, optimizer).map_err(named)?;
            if let Some(n) = note {
                eprintln!("note: {n}");
            }
            cfg = c;
            Some(file)
        }
        None => {
            if let Some(name) = optimizer {
                cfg.optimizer = OptimizerConfig::from_name(name)?;
            }
            None
        }
    };
    let file_sets_max_iter = file.as_ref().is_some_and(|f| f.is_set("stopping.max_iter"));
    if let Some(b) = &m.basis {
        cfg.basis = Basis::parse(b)?;
    }
    if let Some(r) = &m.rank {
        cfg.rank = r.clone();
    }
    apply_optimizer_options(&mut cfg.optimizer, m, true)?;
    // --- adaptive learner (issue 10): on unless both --rank and --basis fix the model ---
    let learner = m.config.is_none() && (m.rank.is_none() || m.basis.is_none());
    if let Some(l) = &m.loss {
        cfg.loss = ttfit::fit::LossKind::parse(l)?;
    }
    let classifier = cfg.loss != ttfit::fit::LossKind::LeastSquares;
    if classifier && learner {
        return Err(Error::param(
            "--loss",
            "a classifier needs a fixed model class: give --rank and --basis (the adaptive learner selects models by their relative L2 validation error)",
        ));
    }
    if let (Some(_), Some(v)) = (m.cv, m.validation) {
        return Err(Error::param(
            "--cv",
            if v == 0.0 {
                "--cv K and --validation 0 conflict: cross-validation holds out each fold in turn; drop --validation 0, or drop --cv and give --rank and --basis to fit without validation".to_string()
            } else {
                "--cv K holds out each fold in turn and replaces the validation fraction: drop --validation".to_string()
            },
        ));
    }
    if learner && m.validation == Some(0.0) {
        return Err(Error::param(
            "--validation",
            "the adaptive learner selects ranks and functions on held-out rows; give --rank and --basis to fit without validation, or a fraction such as --validation 0.2",
        ));
    }
    if !learner && m.cv.is_some() {
        return Err(Error::param(
            "--cv",
            "cross-validation chooses among the adaptive learner's models: drop --rank or --basis",
        ));
    }
    if !learner && m.prune.is_some() {
        return Err(Error::param(
            "--prune",
            "pruning by rounding acts on the adaptive learner's selected model: drop --rank or --basis",
        ));
    }
    if learner {
        let mut lc = ttfit::learn::LearnConfig {
            adapt_rank: m.rank.is_none(),
            adapt_degree: m.basis.is_none(),
            refit: m.refit,
            ..Default::default()
        };
        if let Some(r) = m.max_rank {
            lc.max_rank = r;
        }
        if let Some(n) = m.max_iter {
            lc.stage_iterations = n;
        }
        lc.cv = m.cv;
        lc.prune = m.prune;
        if let Some(t) = m.time_limit {
            lc.time_limit = Some(t);
        }
        if optimizer.is_none() {
            cfg.optimizer = OptimizerConfig::from_name("als")?;
        }
        cfg.learn = Some(lc);
    } else if m.config.is_none() && m.validation.is_none() && !classifier {
        // fixed model: validation by default, best-validation iterate returned
        cfg.validation = Some(ttfit::learn::DEFAULT_VALIDATION);
        cfg.stopping.validation_patience = Some(FIXED_PATIENCE);
    }
    // 0 turns validation off; anything else (NaN and negatives included) goes to the
    // split's own validation, which names the problem
    if let Some(v) = m.validation.filter(|&v| v != 0.0) {
        cfg.validation = Some(v);
        if !learner && cfg.stopping.validation_patience.is_none() {
            cfg.stopping.validation_patience = Some(FIXED_PATIENCE);
        }
    }
    if let Some(p) = m.patience {
        cfg.stopping.validation_patience = Some(p);
    }
    if let Some(n) = m.max_iter {
        cfg.stopping.max_iter = n;
    }
    if let Some(t) = m.time_limit {
        if !(t.is_finite() && t > 0.0 && t < 1e15) {
            return Err(Error::param(
                "--time-limit",
                format!("must be a positive number of seconds, got {t}"),
            ));
        }
        cfg.stopping.time_limit = Some(Duration::from_secs_f64(t));
    }
    if m.target_loss.is_some() {
        cfg.stopping.target_loss = m.target_loss;
    }
    if let Some(s) = m.seed {
        cfg.seed = s;
    }
    if let Some(t) = m.threads {
        cfg.threads = Some(t);
    }
    if let Some(s) = &m.start {
        cfg.start = match s.as_str() {
            "greedy" => Start::Greedy,
            "additive" => Start::Additive,
            "random" => {
                eprintln!(
                    "warning: random starts trap ALS and the natural gradient far from the data (borehole, rank 4: test error 2e1 against 2e-4 from the greedy start, docs/BENCHMARKS.md); use --start greedy unless you are studying exactly that"
                );
                Start::Random { scale: 1.0 }
            }
            other => {
                return Err(Error::param(
                    "--start",
                    format!("'{other}' is not a start; use greedy, additive or random"),
                ))
            }
        };
    }
    if let Some(tol) = m.rank_continuation {
        cfg.rank_continuation =
            Some(ttfit::learn::continuation::RankContinuation { stall_tol: tol });
    }
    if let Some(d) = &m.domain {
        cfg.domain = Some(parse_domain(d, train.n_inputs())?);
    }
    if let Some(p) = &m.domain_from {
        cfg.domain = Some(read_domain(p, &train.input_names)?);
    }
    // a time limit replaces the default iteration limit (an explicit one still applies)
    if cfg.stopping.time_limit.is_some() && m.max_iter.is_none() && !file_sets_max_iter {
        cfg.stopping.max_iter = usize::MAX;
    }
    if cfg.stopping.validation_patience.is_some() && cfg.validation.is_none() {
        return Err(Error::param(
            "--patience",
            "early stopping needs a validation split: add --validation 0.2",
        ));
    }
    Ok(cfg)
}

fn apply_optimizer_options(oc: &mut OptimizerConfig, m: &ModelArgs, strict: bool) -> Result<()> {
    let opts = ttfit::optim::config::OptimizerOptions {
        batch_size: m.batch,
        solver: m.solver.as_deref(),
        beta: m.beta,
        damping: m.damping.as_deref(),
        names: ["--batch", "--solver", "--beta", "--damping"],
    };
    oc.apply_options(&opts, strict)
}

/// `lo:hi,lo:hi,...`
fn parse_domain(s: &str, d: usize) -> Result<Vec<(f64, f64)>> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() != d {
        return Err(Error::param(
            "--domain",
            format!(
                "{} intervals for {d} input columns; write lo:hi for each, comma separated",
                parts.len()
            ),
        ));
    }
    parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let (lo, hi) = p.split_once(':').ok_or_else(|| {
                Error::param(
                    "--domain",
                    format!("interval {} is '{p}'; write lo:hi", k + 1),
                )
            })?;
            let lo: f64 = lo.trim().parse().map_err(|_| {
                Error::param(
                    "--domain",
                    format!("'{lo}' in interval {} is not a number", k + 1),
                )
            })?;
            let hi: f64 = hi.trim().parse().map_err(|_| {
                Error::param(
                    "--domain",
                    format!("'{hi}' in interval {} is not a number", k + 1),
                )
            })?;
            Ok((lo, hi))
        })
        .collect()
}

/// A CSV `variable,lo,hi` with one row per input, matched by name.
fn read_domain(path: &Path, names: &[String]) -> Result<Vec<(f64, f64)>> {
    let table = ttfit::data::csv::read_inputs(path, &["lo".to_string(), "hi".to_string()])?;
    let vcol = table
        .header
        .iter()
        .position(|h| h == "variable")
        .ok_or_else(|| {
            Error::data(
                path.display().to_string(),
                "needs a column 'variable' with the input names",
            )
        })?;
    names
        .iter()
        .map(|n| {
            let i = table
                .rows
                .iter()
                .position(|r| r.get(vcol).is_some_and(|v| v == n))
                .ok_or_else(|| {
                    Error::data(
                        path.display().to_string(),
                        format!("no row for input '{n}'"),
                    )
                })?;
            Ok((table.x[[i, 0]], table.x[[i, 1]]))
        })
        .collect()
}

fn fit_cmd(a: FitArgs) -> Result<()> {
    let mut inputs = model_inputs(&a.model);
    if let Some(p) = &a.init {
        inputs.push(("--init", p.clone()));
    }
    // the checkpoint may replace the file it resumes from (written atomically after reading),
    // never the data, the warm start or the model
    let mut checkpoint_guard = inputs.clone();
    checkpoint_guard.push(("--out", a.out.clone()));
    if let Some(p) = &a.resume {
        inputs.push(("--resume", p.clone()));
    }
    check_output_file("--out", &a.out, &as_inputs(&inputs))?;
    let (train, test) = read_data(&a.model)?;
    let mut cfg = config(&a.model, a.optimizer.as_deref(), &train)?;
    train.check_fit_range()?;
    // --- checkpoint, resume, warm start (issue 9) ---
    let mut control = ttfit::fit::RunControl::default();
    if let Some(path) = &a.resume {
        let ck = ttfit::checkpoint::Checkpoint::read(path)?;
        let meta: ttfit::fit::CheckpointConfig = serde_json::from_value(ck.config.clone())
            .map_err(|e| Error::ModelFile {
                path: path.clone(),
                message: format!("not a checkpoint of `ttfit fit` ({e})"),
            })?;
        if meta.data_rows != train.n_samples()
            || meta.data_fingerprint != ttfit::fit::data_fingerprint(&train)
        {
            return Err(Error::param(
                "--resume",
                format!(
                    "{} was written for other training data ({} rows); resume with the same --data",
                    path.display(),
                    meta.data_rows
                ),
            ));
        }
        eprintln!(
            "resuming from iteration {} of {} (configuration from the checkpoint)",
            ck.state.iteration,
            path.display()
        );
        cfg = meta.fit;
        control.resume = Some(ck.state);
    }
    if let Some(path) = &a.init {
        let (model, _) = model_file::load(path)?;
        control.init = Some(model.tt().clone());
    }
    if let Some(path) = &a.checkpoint {
        check_output_file("--checkpoint", path, &as_inputs(&checkpoint_guard))?;
        control.checkpoint = Some((path.clone(), a.checkpoint_every as usize));
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = flag.clone();
        ctrlc::set_handler(move || f.store(true, std::sync::atomic::Ordering::SeqCst)).map_err(
            |e| {
                Error::param(
                    "--checkpoint",
                    format!("cannot install the signal handler: {e}"),
                )
            },
        )?;
        control.interrupt = Some(flag);
    }
    budget::check_fit(&cfg, &[&cfg.optimizer], train.n_samples(), train.n_inputs())?;
    let name = cfg.optimizer.build()?.name();
    let mode = if a.quiet {
        ProgressMode::None
    } else {
        a.model.progress
    };
    // the adaptive learner runs stages of unknown number: no iteration limit to show
    let limit = match cfg.learn {
        Some(_) => None,
        None => known_limit(cfg.stopping.max_iter),
    };
    let mut progress = Progress::new(mode, &name, limit, cfg.stopping.time_limit, Instant::now());
    let fitted = ttfit::fit::fit_with(
        &cfg,
        &train,
        test.as_ref(),
        |rec: &IterationRecord| progress.update(rec),
        control,
    )?;
    progress.finish();
    if fitted.result.stop == ttfit::train::StopReason::Interrupted {
        let it = fitted.result.history.last().map_or(0, |h| h.iteration);
        eprintln!(
            "interrupted after iteration {it}: state saved to {}; continue with --resume {}; no model written",
            a.checkpoint.as_ref().map_or(String::new(), |p| p.display().to_string()),
            a.checkpoint.as_ref().map_or(String::new(), |p| p.display().to_string()),
        );
        std::process::exit(130);
    }
    let mut info = fitted.info.clone();
    info.data_source = Some(a.model.data.display().to_string());
    model_file::save(&fitted.model, Some(&info), &a.out)?;
    let ranks = fitted.model.tt().ranks();
    println!(
        "fitted {} inputs, ranks {:?}, {} parameters",
        train.n_inputs(),
        ranks,
        fitted.model.tt().num_params()
    );
    println!(
        "{}: {} iterations in {:.2} s ({}); relative error train {:.3e}{}{}",
        info.optimizer,
        info.iterations,
        info.seconds,
        info.stop_reason,
        info.train_error,
        info.validation_error
            .map(|v| format!(", validation {v:.3e}"))
            .unwrap_or_default(),
        info.test_error
            .map(|v| format!(", test {v:.3e}"))
            .unwrap_or_default()
    );
    if let Some(sel) = &fitted.selection {
        println!("learner: {}", sel.summary());
    }
    if let Some(c) = &info.classification {
        println!(
            "classifier ({}): train accuracy {:.4}, log-loss {:.4e}{}",
            c.loss,
            c.train_accuracy,
            c.train_log_loss,
            match (c.test_accuracy, c.test_log_loss) {
                (Some(a), Some(l)) => format!("; test accuracy {a:.4}, log-loss {l:.4e}"),
                _ => String::new(),
            }
        );
    }
    let params = fitted.model.tt().num_params();
    if train.n_samples() < 2 * params {
        eprintln!(
            "warning: {} samples for {params} parameters (fewer than 2 per parameter): the model may interpolate; lower --rank or the basis size, or let the learner choose them",
            train.n_samples()
        );
    }
    println!("model written to {}", a.out.display());
    Ok(())
}

/// An iteration limit worth showing (the lifted one is not).
fn known_limit(max_iter: usize) -> Option<usize> {
    (max_iter != usize::MAX).then_some(max_iter)
}

/// Error metrics of predictions against true values.
#[derive(serde::Serialize)]
struct Metrics {
    rows: usize,
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rmse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relative_l2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_abs_error: Option<f64>,
    /// Classifiers: share of correct labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    accuracy: Option<f64>,
    /// Classifiers: mean log-loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    log_loss: Option<f64>,
}

fn predict(a: PredictArgs) -> Result<()> {
    let policy = OutsidePolicy::parse(&a.outside)?;
    let inputs = [("--model", a.model.as_path()), ("--data", a.data.as_path())];
    check_output_file("--out", &a.out, &inputs)?;
    if let Some(m) = &a.metrics {
        check_output_file("--metrics", m, &inputs)?;
        if same_destination(m, &a.out) {
            return Err(Error::param(
                "--metrics",
                format!(
                    "{} is also the --out file; choose another path",
                    m.display()
                ),
            ));
        }
    }
    let (model, info, kind) = model_file::load_kind(&a.model)?;
    if kind == model_file::ModelKind::Density {
        if a.target.is_some() {
            return Err(Error::param(
                "--target",
                "a density model has no target to compare with",
            ));
        }
        return super::density::predict_density(&a, model);
    }
    let classes = info
        .as_ref()
        .and_then(|i| i.classification.as_ref())
        .map(|c| c.classes);
    let softmax = info
        .as_ref()
        .and_then(|i| i.classification.as_ref())
        .is_some_and(|c| c.loss == "softmax");
    // softmax models have the class as their last input: the data has the others
    let mut names = model.input_names();
    if softmax {
        names.pop();
    }
    // rows of model values per data row
    let group = if softmax { classes.unwrap_or(1) } else { 1 };
    let table = ttfit::data::csv::read_inputs(&a.data, &names)?;
    let file = a.data.display().to_string();
    let column = a.column.clone().unwrap_or_else(|| {
        format!(
            "{}_{}",
            info.as_ref()
                .map(|i| i.target.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "y".into()),
            if classes.is_some() { "prob" } else { "pred" }
        )
    });
    // classifiers also write the most probable label
    let label_column = classes.map(|_| {
        format!(
            "{}_label",
            info.as_ref()
                .map(|i| i.target.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "y".into())
        )
    });
    if column.is_empty() {
        return Err(Error::param("--column", "the column name is empty"));
    }
    if softmax {
        for k in 0..group {
            let pc = format!("{column}{k}");
            if table.header.contains(&pc) && !a.overwrite_column {
                return Err(Error::param(
                    "--column",
                    format!("{file} already has a column \"{pc}\" for the class probabilities; choose another name with --column, or add --overwrite-column to replace it"),
                ));
            }
        }
    }
    if let Some(lc) = &label_column {
        if table.header.iter().any(|h| h == lc) && !a.overwrite_column {
            return Err(Error::param(
                "--column",
                format!("{file} already has a column \"{lc}\" for the predicted labels; choose another name with --column, or add --overwrite-column to replace it"),
            ));
        }
    }
    if table.header.iter().any(|h| h == &column) && !a.overwrite_column {
        let input = model.input_names().contains(&column);
        return Err(Error::param(
            "--column",
            format!(
                "{file} already has a column \"{column}\"{}; choose another name with --column, or add --overwrite-column to replace it",
                if input { " (a model input)" } else { "" }
            ),
        ));
    }
    // the true values, when asked for
    let truth = match &a.target {
        None => None,
        Some(t) => {
            let c = table.header.iter().position(|h| h == t).ok_or_else(|| {
                Error::data(
                    file.clone(),
                    format!(
                        "no target column \"{t}\" for --target; columns: {}",
                        table.header.join(", ")
                    ),
                )
            })?;
            let mut y = Vec::with_capacity(table.rows.len());
            for (r, row) in table.rows.iter().enumerate() {
                let raw = row.get(c).map(String::as_str).unwrap_or("");
                let v: f64 = raw
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| {
                        Error::data(
                            format!("{file}, data row {}, column \"{t}\"", r + 1),
                            format!("\"{raw}\" is not a finite number"),
                        )
                    })?;
                y.push(v);
            }
            Some((t.clone(), y))
        }
    };
    let truth_values = truth.as_ref().map(|(_, y)| y.clone());
    let xm = if softmax {
        let (n, d) = table.x.dim();
        ndarray::Array2::from_shape_fn((n * group, d + 1), |(r, k)| {
            if k < d {
                table.x[[r / group, k]]
            } else {
                (r % group) as f64
            }
        })
    } else {
        table.x.clone()
    };
    let pred = model
        .predict(xm.view(), policy)
        .map_err(|e| match e {
            Error::OutsideDomain {
                row,
                variable,
                value,
                lo,
                hi,
            } => Error::data(
                format!("{file}, data row {}", row / group + 1),
                format!("{variable} = {value} lies outside the model domain [{lo}, {hi}]; use --outside extrapolate or clamp to predict anyway"),
            ),
            other => other,
        })?;
    if let Some(r) = pred.values.iter().position(|v| !v.is_finite()) {
        let r = r / group;
        let row: Vec<String> = names
            .iter()
            .zip(table.x.row(r).iter())
            .map(|(n, v)| format!("{n} = {v:e}"))
            .collect();
        return Err(Error::data(
            format!("{file}, data row {}", r + 1),
            format!(
                "the prediction is {} ({}): the inputs lie too far outside the model domain for its polynomial features; use --outside clamp, or remove the row; nothing was written",
                pred.values[r],
                row.join(", ")
            ),
        ));
    }
    if pred.outside > 0 {
        eprintln!(
            "warning: {} of {} rows lie outside the model's domain ({}); see --outside",
            pred.outside,
            table.x.nrows(),
            if policy == OutsidePolicy::Clamp {
                "clamped"
            } else {
                "extrapolated"
            }
        );
    }
    let metrics = truth.map(|(t, y)| {
        let n = y.len();
        let (mut se, mut sy, mut max) = (0.0f64, 0.0f64, 0.0f64);
        for (p, v) in pred.values.iter().zip(&y) {
            let e = p - v;
            se += e * e;
            sy += v * v;
            max = max.max(e.abs());
        }
        let regression = classes.is_none();
        Metrics {
            rows: n,
            target: t,
            rmse: regression.then(|| (se / n as f64).sqrt()),
            relative_l2: regression.then(|| {
                if sy > 0.0 {
                    (se / sy).sqrt()
                } else {
                    f64::INFINITY
                }
            }),
            max_abs_error: regression.then_some(max),
            accuracy: None,
            log_loss: None,
        }
    });
    let metrics = match (metrics, classes) {
        (Some(mut m), Some(c)) => {
            let y = ndarray::Array1::from(truth_values.clone().unwrap_or_default());
            let labels = ttfit::classify::labels_from_targets(y.view(), c)
                .map_err(|e| Error::data(file.clone(), e.to_string()))?;
            let probs = ttfit::classify::probabilities(pred.values.view(), c, softmax);
            m.accuracy = Some(ttfit::classify::accuracy(&probs, &labels));
            m.log_loss = Some(ttfit::classify::log_loss(&probs, &labels));
            Some(m)
        }
        (m, _) => m,
    };
    match (&label_column, classes) {
        (Some(lc), Some(c)) => {
            let probs = ttfit::classify::probabilities(pred.values.view(), c, softmax);
            let labels = ndarray::Array1::from_iter(
                ttfit::classify::predicted_labels(&probs)
                    .into_iter()
                    .map(|l| l as f64),
            );
            // binary: P(y = 1) in <column>; softmax: P(y = c) in <column><c>
            let prob_cols: Vec<(String, ndarray::Array1<f64>)> = if softmax {
                (0..c)
                    .map(|k| (format!("{column}{k}"), probs.column(k).to_owned()))
                    .collect()
            } else {
                vec![(column.clone(), probs.column(1).to_owned())]
            };
            let mut cols: Vec<(&str, ndarray::ArrayView1<'_, f64>)> = prob_cols
                .iter()
                .map(|(n, v)| (n.as_str(), v.view()))
                .collect();
            cols.push((lc.as_str(), labels.view()));
            table.write_with_columns(&a.out, &cols)?;
        }
        _ => table.write_with_columns(&a.out, &[(column.as_str(), pred.values.view())])?,
    }
    eprintln!(
        "wrote {} predictions to {}",
        table.x.nrows(),
        a.out.display()
    );
    if let Some(m) = &metrics {
        match (m.accuracy, m.log_loss) {
            (Some(acc), Some(ll)) => println!(
                "{} rows, target \"{}\": accuracy {acc:.4}, log-loss {ll:.6e}",
                m.rows, m.target
            ),
            _ => println!(
                "{} rows, target \"{}\": RMSE {:.6e}, relative L2 error {:.6e}, max error {:.6e}",
                m.rows,
                m.target,
                m.rmse.unwrap_or(f64::NAN),
                m.relative_l2.unwrap_or(f64::NAN),
                m.max_abs_error.unwrap_or(f64::NAN)
            ),
        }
        if let Some(path) = &a.metrics {
            let text = serde_json::to_string_pretty(m)
                .map_err(|e| Error::param("--metrics", e.to_string()))?;
            ttfit::data::write_atomic(path, |w| {
                use std::io::Write;
                w.write_all(text.as_bytes())
                    .and_then(|()| w.write_all(b"\n"))
                    .map_err(|e| Error::Io {
                        path: path.clone(),
                        source: e,
                    })
            })?;
        }
    }
    Ok(())
}

/// The files a report directory receives (see `ttfit::report`).
const REPORT_FILES: &[&str] = &[
    "history.csv",
    "summary.md",
    "error_vs_iteration.png",
    "error_vs_iteration.svg",
    "error_vs_seconds.png",
    "error_vs_seconds.svg",
];

fn compare_cmd(a: CompareArgs) -> Result<()> {
    let inputs = model_inputs(&a.model);
    check_output_dir("--out", &a.out, REPORT_FILES, &as_inputs(&inputs))?;
    let (train, test) = read_data(&a.model)?;
    let mut cfg = config(&a.model, None, &train)?;
    // compare runs every optimizer at one fixed model: validated by default, and each run
    // returns (and the plots mark) its best-validation iterate
    if cfg.learn.take().is_some() && a.model.validation.is_none() {
        cfg.validation = Some(ttfit::learn::DEFAULT_VALIDATION);
        cfg.stopping.validation_patience = Some(FIXED_PATIENCE);
    }
    let opts = optimizer_list(&a.optimizers, &a.model)?;
    train.check_fit_range()?;
    budget::check_fit(
        &cfg,
        &opts.iter().collect::<Vec<_>>(),
        train.n_samples(),
        train.n_inputs(),
    )?;
    let title = format!("{} ({} samples)", a.model.data.display(), train.n_samples());
    run_comparison(
        &cfg,
        &opts,
        &train,
        test.as_ref(),
        &a.out,
        &title,
        &report::DEFAULT_THRESHOLDS,
        a.model.progress,
    )
}

fn optimizer_list(names: &[String], m: &ModelArgs) -> Result<Vec<OptimizerConfig>> {
    if names.is_empty() {
        return Err(Error::param("--optimizers", "name at least one optimizer"));
    }
    names
        .iter()
        .map(|n| {
            let mut oc = OptimizerConfig::from_name(n)?;
            // options that do not apply to some optimizers are skipped for those in a comparison
            apply_optimizer_options(&mut oc, m, false)?;
            Ok(oc)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_comparison(
    cfg: &FitConfig,
    opts: &[OptimizerConfig],
    train: &Dataset,
    test: Option<&Dataset>,
    out: &Path,
    title: &str,
    thresholds: &[f64],
    mode: ProgressMode,
) -> Result<()> {
    let mut current: Option<(String, Progress)> = None;
    let runs = compare(cfg, opts, train, test, |name, rec| {
        if current.as_ref().is_none_or(|(n, _)| n != name) {
            if let Some((_, mut p)) = current.take() {
                p.finish();
            }
            current = Some((
                name.to_string(),
                Progress::new(
                    mode,
                    name,
                    known_limit(cfg.stopping.max_iter),
                    cfg.stopping.time_limit,
                    Instant::now(),
                ),
            ));
        }
        if let Some((_, p)) = &current {
            p.update(rec);
        }
    })?;
    if let Some((_, mut p)) = current.take() {
        p.finish();
    }
    let mut records = Vec::new();
    for run in &runs {
        match &run.result {
            Ok(r) => {
                let rec = report::RunRecord::new(run.name.as_str(), r);
                // with early stopping the trainer returns the best-validation iterate whatever
                // rule ended the run: report and mark that one
                records.push(match cfg.stopping.validation_patience {
                    Some(_) => rec.returning_best_validation(),
                    None => rec,
                });
            }
            Err(e) => eprintln!("warning: {} failed: {e}", run.name),
        }
    }
    if records.is_empty() {
        return Err(Error::Diverged {
            iteration: 0,
            message: "every optimizer failed".into(),
        });
    }
    let files = report::write_report_with_thresholds(&records, out, title, thresholds)?;
    println!("{}", report::summary_text(&records, thresholds));
    println!(
        "wrote {} files to {}",
        files.all().len(),
        files.dir.display()
    );
    Ok(())
}

fn demo(a: DemoArgs) -> Result<()> {
    let t0 = Instant::now();
    let f = TestFunction::parse(&a.function)?;
    if a.n < 10 {
        return Err(Error::param("--n", "use at least 10 samples"));
    }
    if !(a.time_limit.is_finite() && a.time_limit > 0.0 && a.time_limit < 1e15) {
        return Err(Error::param(
            "--time-limit",
            format!("must be a positive number of seconds, got {}", a.time_limit),
        ));
    }
    check_output_dir("--out", &a.out, REPORT_FILES, &[])?;
    budget::check(
        "--n",
        2 * a.n as u128 * (f.dim() as u128 + 1) * 40,
        "use fewer samples",
    )?;
    let train = f.sample(a.n, a.seed)?;
    let test = f.sample(a.n, a.seed.wrapping_add(1))?;
    let mut cfg = FitConfig {
        rank: vec![a.rank],
        seed: a.seed,
        basis: Basis::Legendre { n: 6 },
        ..FitConfig::default()
    };
    cfg.domain = Some(f.domain());
    // The comparison starts every optimizer from the additive fit padded to the rank: the
    // default greedy start already lies near the model error (ALS sweeps inside it), which
    // would leave the optimizers nothing to show.
    cfg.start = Start::Additive;
    cfg.stopping.max_iter = 200;
    cfg.stopping.time_limit = Some(Duration::from_secs_f64(a.time_limit));
    cfg.stopping.rel_tol = 1e-12;
    // validation: every run returns its best-validation iterate, marked on the plots
    cfg.validation = Some(ttfit::learn::DEFAULT_VALIDATION);
    cfg.stopping.validation_patience = Some(DEMO_PATIENCE);
    let names = ["als", "rgd", "rcg", "gd", "ngd", "ngd-hb", "ngd-nesterov"];
    let opts = names
        .iter()
        .map(|n| OptimizerConfig::from_name(n))
        .collect::<Result<Vec<_>>>()?;
    println!(
        "ttfit demo: learning the {} function ({} inputs) from {} samples; Legendre basis with 6 functions per input, rank {}; test error on {} fresh samples",
        f.name(),
        f.dim(),
        a.n,
        a.rank,
        a.n
    );
    let title = format!("{}: {} samples, rank {}", f.name(), a.n, a.rank);
    // the borehole surrogate of this size ends near 1e-4 (model error): finer thresholds
    run_comparison(
        &cfg,
        &opts,
        &train,
        Some(&test),
        &a.out,
        &title,
        &[1e-2, 1e-3, 1e-4],
        a.progress,
    )?;
    // what `ttfit fit` does without --rank and --basis, on the same data
    let learner_cfg = FitConfig {
        seed: a.seed,
        domain: Some(f.domain()),
        optimizer: OptimizerConfig::from_name("als")?,
        learn: Some(ttfit::learn::LearnConfig::default()),
        ..FitConfig::default()
    };
    let t_learn = Instant::now();
    let learned = ttfit::fit::fit(&learner_cfg, &train, Some(&test), |_: &IterationRecord| {})?;
    println!(
        "adaptive learner (the `ttfit fit` default, ranks and functions chosen on held-out rows): test error {:.1e} in {:.1} s, ranks {:?}",
        learned.info.test_error.unwrap_or(f64::NAN),
        t_learn.elapsed().as_secs_f64(),
        learned.model.tt().internal_ranks()
    );
    println!("demo finished in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
