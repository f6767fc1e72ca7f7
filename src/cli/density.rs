//! `ttfit density` (fit a squared-TT density to samples), and the density branches of
//! `ttfit predict` (densities and log-densities) and `ttfit sample --model` (draws).

use super::args::{PredictArgs, SampleArgs};
use clap::Args;
use ndarray::Array2;
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use ttfit::basis::{Basis, FeatureMap, InputMap, OutsidePolicy};
use ttfit::data::output::{check_output_file, Input};
use ttfit::data::split::{split_indices, SplitSize};
use ttfit::density::{self, DensityConfig, SquaredTt};
use ttfit::model::FunctionalTT;
use ttfit::model_file::{self, ModelKind, TrainingInfo};
use ttfit::{Error, Result};

/// Fit a density `p = psi^2 rho_mu` to samples (every column a variable).
#[derive(Args, Debug)]
pub struct DensityArgs {
    /// Samples: CSV with a header row; every column is a variable unless --inputs is given.
    #[arg(long)]
    pub data: PathBuf,
    /// Variables, comma separated (default: every column).
    #[arg(long, value_delimiter = ',')]
    pub inputs: Option<Vec<String>>,
    /// Feature basis for every variable (legendre:N, fourier:M, piecewise:PxK on the domain
    /// box; hermite:N on the whole line, densities relative to N(mean, std^2), no sampling).
    #[arg(long, default_value = "legendre:8")]
    pub basis: String,
    /// TT rank of psi: one value for all bonds, or d-1 comma-separated values.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    pub rank: Vec<usize>,
    /// Optimizer: rgd, ngd-fisher, ngd, ngd-hb-fisher, ngd-nesterov-fisher, ngd-hb,
    /// ngd-nesterov (-fisher: the Fisher metric; otherwise the empirical Gram plus the
    /// normalization curvature).
    #[arg(long, default_value = "ngd-nesterov-fisher")]
    pub optimizer: String,
    /// Iterations.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Stop when the training NLL changes by less than this (relative) 3 times in a row.
    #[arg(long, default_value_t = 1e-10)]
    pub rel_tol: f64,
    /// Hold out this fraction (or count) of the rows; the iterate with the best held-out
    /// negative log-likelihood is returned (0: no validation, the last iterate).
    #[arg(long, default_value = "0.2")]
    pub validation: String,
    /// Seed (validation split, start point).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Domain box as lo:hi,lo:hi,... (default: the sample range with a 1% margin). Samples
    /// outside it are an error.
    #[arg(long, allow_hyphen_values = true)]
    pub domain: Option<String>,
    /// Output model file (JSON), written only when the fit succeeds.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

fn csv_header(path: &Path) -> Result<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            other => Error::data(path.display().to_string(), format!("{other:?}")),
        })?;
    let h = r
        .headers()
        .map_err(|e| Error::data(path.display().to_string(), e.to_string()))?;
    Ok(h.iter().map(str::to_string).collect())
}

fn parse_box(s: &str, d: usize) -> Result<Vec<(f64, f64)>> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() != d {
        return Err(Error::param(
            "--domain",
            format!(
                "{} intervals for {d} variables; write lo:hi for each, comma separated",
                parts.len()
            ),
        ));
    }
    parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let parsed = p.split_once(':').and_then(|(a, b)| {
                Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?))
            });
            parsed.ok_or_else(|| {
                Error::param(
                    "--domain",
                    format!("interval {} is '{p}'; write lo:hi with numbers", k + 1),
                )
            })
        })
        .collect()
}

/// `ttfit density`.
pub fn density_cmd(a: DensityArgs) -> Result<()> {
    let inputs: [Input; 1] = [("--data", a.data.as_path())];
    let out = check_output_file("--out", &a.out, &inputs)?;
    let names = match &a.inputs {
        Some(n) => n.clone(),
        None => csv_header(&a.data)?,
    };
    if names.is_empty() {
        return Err(Error::data(a.data.display().to_string(), "no columns"));
    }
    let table = ttfit::data::csv::read_inputs(&a.data, &names)?;
    let x = table.x;
    let d = names.len();
    let basis = Basis::parse(&a.basis)?;
    let ranks = match a.rank.as_slice() {
        [r] => vec![*r; d.saturating_sub(1)],
        r if r.len() + 1 == d => r.to_vec(),
        r => {
            return Err(Error::param(
                "--rank",
                format!(
                    "{} values for {d} variables; give one value or d - 1 = {}",
                    r.len(),
                    d.saturating_sub(1)
                ),
            ))
        }
    };
    let maps: Vec<InputMap> = if basis.measure() == ttfit::basis::Measure::Gaussian {
        ttfit::data::infer_standardization(x.view())?.0
    } else {
        match &a.domain {
            Some(s) => parse_box(s, d)?
                .into_iter()
                .map(|(lo, hi)| InputMap::interval(lo, hi))
                .collect(),
            None => ttfit::data::infer_domain(x.view(), 0.01)?
                .bounds
                .iter()
                .map(|&(lo, hi)| InputMap::interval(lo, hi))
                .collect(),
        }
    };
    let fm = FeatureMap::with_basis(basis, maps, names.clone())?;
    // every sample must lie in the box: a density on the box gives 0 to the others
    fm.features(x.view(), OutsidePolicy::Error)
        .map_err(|e| match e {
            Error::OutsideDomain {
                row,
                variable,
                value,
                lo,
                hi,
            } => Error::data(
                format!("{}, data row {}", a.data.display(), row + 1),
                format!(
                    "{variable} = {value} lies outside the domain [{lo}, {hi}]; widen --domain"
                ),
            ),
            other => other,
        })?;
    let (train_idx, valid_idx) = match a.validation.trim() {
        "0" | "0.0" => ((0..x.nrows()).collect::<Vec<_>>(), None),
        s => {
            let size = SplitSize::parse(s).map_err(|_| {
                Error::param(
                    "--validation",
                    format!("'{s}' is neither a fraction in (0, 1), a row count, nor 0"),
                )
            })?;
            let parts = split_indices(x.nrows(), &[(size, "validation")], a.seed)?;
            (parts[0].clone(), Some(parts[1].clone()))
        }
    };
    let pick = |idx: &[usize]| Array2::from_shape_fn((idx.len(), d), |(i, k)| x[[idx[i], k]]);
    let xt = pick(&train_idx);
    let xv = valid_idx.as_deref().map(pick);
    let cfg = DensityConfig {
        ranks: ranks.clone(),
        optimizer: DensityConfig::optimizer_from_name(&a.optimizer)?,
        max_iter: a.max_iter,
        rel_tol: a.rel_tol,
        seed: a.seed,
        ..Default::default()
    };
    cfg.validate()?;
    ttfit::tensor_train::check_ranks(&fm.mode_sizes(), &ranks)
        .map_err(|e| Error::param("--rank", e.to_string()))?;
    let start = density::uniform_start(&fm, &ranks, cfg.start_delta, a.seed)?;
    let quiet = a.quiet;
    let fit = density::fit_density(
        &fm,
        xt.view(),
        xv.as_ref().map(|v| v.view()),
        start,
        &cfg,
        ttfit::tensor_train::linalg::Par::Rayon(0),
        &mut |r, _| {
            if !quiet && (r.iteration % 10 == 0) {
                eprintln!(
                    "iteration {:>4}  train NLL {:.6}{}  ({:.2} s)",
                    r.iteration,
                    r.train_nll,
                    r.validation_nll
                        .map(|v| format!("  validation NLL {v:.6}"))
                        .unwrap_or_default(),
                    r.seconds
                );
            }
            true
        },
    )?;
    let last = fit.history.last().expect("the start is recorded");
    let chosen = fit.best_iteration.map_or(last, |i| &fit.history[i]);
    let info = TrainingInfo {
        ttfit_version: env!("CARGO_PKG_VERSION").into(),
        optimizer: a.optimizer.clone(),
        optimizer_config: serde_json::to_value(&cfg.optimizer).ok(),
        iterations: last.iteration,
        seconds: last.seconds,
        stop_reason: if last.iteration >= a.max_iter {
            "max-iter".into()
        } else {
            "stalled".into()
        },
        n_train: xt.nrows(),
        train_error: chosen.train_nll,
        validation_error: chosen.validation_nll,
        test_error: None,
        seed: a.seed,
        target: "density".into(),
        classification: None,
        data_source: Some(a.data.display().to_string()),
        settings: Some(serde_json::json!({
            "density": {
                "errors": "train_error and validation_error are mean negative log-likelihoods (nats) of the returned iterate",
                "returned_iteration": chosen.iteration,
                "ranks": ranks,
                "basis": a.basis,
                "max_iter": a.max_iter,
                "validation": a.validation,
            }
        })),
    };
    let model = SquaredTt::new(FunctionalTT::new(fm, fit.tt)?)?;
    model_file::save_kind(model.psi(), Some(&info), ModelKind::Density, &out)?;
    eprintln!(
        "wrote density model to {} (iteration {} of {}: train NLL {:.6}{})",
        out.display(),
        chosen.iteration,
        last.iteration,
        chosen.train_nll,
        chosen
            .validation_nll
            .map(|v| format!(", validation NLL {v:.6}"))
            .unwrap_or_default()
    );
    Ok(())
}

/// `ttfit predict` on a density model: columns `density` and `log_density` (or
/// `--column NAME`, `log_NAME`).
pub fn predict_density(a: &PredictArgs, psi: FunctionalTT) -> Result<()> {
    let policy = OutsidePolicy::parse(&a.outside)?;
    let model = SquaredTt::new(psi)?;
    let table = ttfit::data::csv::read_inputs(&a.data, &model.psi().input_names())?;
    let name = a.column.clone().unwrap_or_else(|| "density".into());
    if name.is_empty() {
        return Err(Error::param("--column", "the column name is empty"));
    }
    let log_name = format!("log_{name}");
    for c in [&name, &log_name] {
        if table.header.iter().any(|h| h == c) && !a.overwrite_column {
            return Err(Error::param(
                "--column",
                format!("{} already has a column \"{c}\"; choose another name with --column, or add --overwrite-column", a.data.display()),
            ));
        }
    }
    let v = model.evaluate(table.x.view(), policy).map_err(|e| match e {
        Error::OutsideDomain { row, variable, value, lo, hi } => Error::data(
            format!("{}, data row {}", a.data.display(), row + 1),
            format!("{variable} = {value} lies outside the model domain [{lo}, {hi}] (density 0 there); use --outside clamp to write 0"),
        ),
        other => other,
    })?;
    if v.outside > 0 {
        eprintln!(
            "warning: {} of {} rows lie outside the density's domain: density 0",
            v.outside,
            table.x.nrows()
        );
    }
    table.write_with_columns(
        &a.out,
        &[
            (name.as_str(), v.density.view()),
            (log_name.as_str(), v.log_density.view()),
        ],
    )?;
    eprintln!("wrote {} densities to {}", table.x.nrows(), a.out.display());
    Ok(())
}

/// `ttfit sample --model density.json`: exact draws from the density.
pub fn sample_from_model(a: &SampleArgs, path: &Path) -> Result<()> {
    if a.n == 0 {
        return Err(Error::param("--n", "need at least one sample"));
    }
    let out = check_output_file("--out", &a.out, &[("--model", path)])?;
    let (psi, _, kind) = model_file::load_kind(path)?;
    if kind != ModelKind::Density {
        return Err(Error::param(
            "--model",
            format!("{} is a regression model; `ttfit sample --model` draws from density models written by `ttfit density`", path.display()),
        ));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    let x = density::sample(&psi, a.n, &mut rng)?;
    ttfit::data::csv::write_matrix_csv(&out, &psi.input_names(), x.view())?;
    eprintln!(
        "wrote {} samples of {} to {}",
        a.n,
        path.display(),
        out.display()
    );
    Ok(())
}
