//! The commands.

use super::args::{Command, CompareArgs, DemoArgs, FitArgs, ModelArgs, PredictArgs, SampleArgs};
use super::progress::Progress;
use std::path::Path;
use std::time::{Duration, Instant};
use ttfit::basis::{Basis, OutsidePolicy};
use ttfit::compare::compare;
use ttfit::data::Dataset;
use ttfit::fit::{fit, FitConfig};
use ttfit::functions::TestFunction;
use ttfit::init::Start;
use ttfit::optim::gram::GramSolver;
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
    }
}

fn sample(a: SampleArgs) -> Result<()> {
    let f = TestFunction::parse(&a.function)?;
    if a.n == 0 {
        return Err(Error::param("--n", "need at least one sample"));
    }
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

/// Build the fit configuration: defaults, then the TOML file, then the options.
fn config(m: &ModelArgs, optimizer: Option<&str>, train: &Dataset) -> Result<FitConfig> {
    let mut cfg = match &m.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::Io {
                path: p.clone(),
                source: e,
            })?;
            toml::from_str::<FitConfig>(&text)
                .map_err(|e| Error::param(format!("--config {}", p.display()), e.to_string()))?
        }
        None => FitConfig::default(),
    };
    if let Some(b) = &m.basis {
        cfg.basis = Basis::parse(b)?;
    }
    if let Some(r) = &m.rank {
        cfg.rank = r.clone();
    }
    if let Some(name) = optimizer {
        cfg.optimizer = OptimizerConfig::from_name(name)?;
    }
    apply_optimizer_options(&mut cfg.optimizer, m)?;
    // --- adaptive learner (issue 10): on unless both --rank and --basis fix the model ---
    let learner = m.config.is_none() && (m.rank.is_none() || m.basis.is_none());
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
        if let Some(t) = m.time_limit {
            lc.time_limit = Some(t);
        }
        if optimizer.is_none() {
            cfg.optimizer = OptimizerConfig::from_name("als")?;
        }
        cfg.learn = Some(lc);
    } else if m.config.is_none() && m.validation.is_none() {
        // fixed model: validation by default, best-validation iterate returned
        cfg.validation = Some(ttfit::learn::DEFAULT_VALIDATION);
        cfg.stopping.validation_patience = Some(FIXED_PATIENCE);
    }
    if let Some(v) = m.validation.filter(|&v| v > 0.0) {
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
        if !(t.is_finite() && t > 0.0) {
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
    if let Some(d) = &m.domain {
        cfg.domain = Some(parse_domain(d, train.n_inputs())?);
    }
    if let Some(p) = &m.domain_from {
        cfg.domain = Some(read_domain(p, &train.input_names)?);
    }
    if cfg.stopping.validation_patience.is_some() && cfg.validation.is_none() {
        return Err(Error::param(
            "--patience",
            "early stopping needs a validation split: add --validation 0.2",
        ));
    }
    Ok(cfg)
}

fn apply_optimizer_options(oc: &mut OptimizerConfig, m: &ModelArgs) -> Result<()> {
    let natural = match oc {
        OptimizerConfig::Ngd(c) => Some(c),
        OptimizerConfig::NgdHb(c) => Some(&mut c.natural),
        OptimizerConfig::NgdNesterov(c) => Some(&mut c.natural),
        _ => None,
    };
    match natural {
        Some(n) => {
            if let Some(b) = m.batch {
                n.batch_size = Some(b);
            }
            if let Some(s) = &m.solver {
                n.solver = GramSolver::parse(s)?;
            }
        }
        None => {
            if m.batch.is_some() || m.solver.is_some() {
                return Err(Error::param(
                    "--batch/--solver",
                    "only apply to the natural-gradient optimizers (ngd, ngd-hb, ngd-nesterov)",
                ));
            }
        }
    }
    if let Some(beta) = m.beta {
        match oc {
            OptimizerConfig::NgdHb(c) => c.momentum.beta = beta,
            OptimizerConfig::NgdNesterov(c) => c.momentum.beta = beta,
            _ => {
                return Err(Error::param(
                    "--beta",
                    "only applies to ngd-hb and ngd-nesterov",
                ))
            }
        }
    }
    Ok(())
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
    let (train, test) = read_data(&a.model)?;
    let cfg = config(&a.model, a.optimizer.as_deref(), &train)?;
    let name = a.optimizer.clone().unwrap_or_else(|| match cfg.learn {
        Some(_) => "als".into(),
        None => "ngd-nesterov".into(),
    });
    let progress = Progress::new(cfg.stopping.max_iter, &name, a.quiet || cfg.learn.is_some());
    let fitted = fit(&cfg, &train, test.as_ref(), |rec: &IterationRecord| {
        progress.update(rec)
    })?;
    progress.finish();
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

fn predict(a: PredictArgs) -> Result<()> {
    let policy = OutsidePolicy::parse(&a.outside)?;
    let (model, info) = model_file::load(&a.model)?;
    let table = ttfit::data::csv::read_inputs(&a.data, &model.input_names())?;
    let pred = model.predict(table.x.view(), policy)?;
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
    let column = a.column.unwrap_or_else(|| {
        format!(
            "{}_pred",
            info.map(|i| i.target)
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "y".into())
        )
    });
    table.write_with_columns(&a.out, &[(column.as_str(), pred.values.view())])?;
    eprintln!(
        "wrote {} predictions to {}",
        table.x.nrows(),
        a.out.display()
    );
    Ok(())
}

fn compare_cmd(a: CompareArgs) -> Result<()> {
    let (train, test) = read_data(&a.model)?;
    let mut cfg = config(&a.model, None, &train)?;
    // compare runs every optimizer at one fixed model: validated by default, and each run
    // returns (and the plots mark) its best-validation iterate
    if cfg.learn.take().is_some() && a.model.validation.is_none() {
        cfg.validation = Some(ttfit::learn::DEFAULT_VALIDATION);
        cfg.stopping.validation_patience = Some(FIXED_PATIENCE);
    }
    let opts = optimizer_list(&a.optimizers, &a.model)?;
    let title = format!("{} ({} samples)", a.model.data.display(), train.n_samples());
    run_comparison(
        &cfg,
        &opts,
        &train,
        test.as_ref(),
        &a.out,
        &title,
        &report::DEFAULT_THRESHOLDS,
        false,
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
            // options that do not apply to some optimizers are ignored for those in a comparison
            let _ = apply_optimizer_options(&mut oc, m);
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
    quiet: bool,
) -> Result<()> {
    let mut current: Option<(String, Progress)> = None;
    let runs = compare(cfg, opts, train, test, |name, rec| {
        if current.as_ref().is_none_or(|(n, _)| n != name) {
            if let Some((_, p)) = current.take() {
                p.finish();
            }
            current = Some((
                name.to_string(),
                Progress::new(cfg.stopping.max_iter, name, quiet),
            ));
        }
        if let Some((_, p)) = &current {
            p.update(rec);
        }
    })?;
    if let Some((_, p)) = current.take() {
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
    let train = f.sample(a.n, a.seed)?;
    let test = f.sample(a.n, a.seed.wrapping_add(1))?;
    let mut cfg = FitConfig {
        rank: vec![a.rank],
        seed: a.seed,
        basis: Basis::Legendre { n: 6 },
        ..FitConfig::default()
    };
    cfg.domain = Some(f.domain());
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
        false,
    )?;
    println!("demo finished in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
