//! `ttfit density` (fit a squared-TT density to samples), and the density branches of
//! `ttfit predict` (densities and log-densities) and `ttfit sample --model` (draws).

use super::args::{PredictArgs, SampleArgs};
use clap::Args;
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use ttfit::basis::{Basis, OutsidePolicy};
use ttfit::data::output::{check_output_file, Input};
use ttfit::data::split::SplitSize;
use ttfit::density::{self, DensitySettings, SquaredTt};
use ttfit::model::FunctionalTT;
use ttfit::model_file::{self, ModelKind};
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

/// `ttfit density`: the samples from the CSV, [`density::estimate`], the model file.
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
    let d = names.len();
    let validation = match a.validation.trim() {
        "0" | "0.0" => None,
        s => Some(SplitSize::parse(s).map_err(|_| {
            Error::param(
                "--validation",
                format!("'{s}' is neither a fraction in (0, 1), a row count, nor 0"),
            )
        })?),
    };
    let settings = DensitySettings {
        names,
        basis: Basis::parse(&a.basis)?,
        rank: a.rank.clone(),
        optimizer: a.optimizer.clone(),
        max_iter: a.max_iter,
        rel_tol: a.rel_tol,
        validation,
        seed: a.seed,
        domain: a.domain.as_deref().map(|s| parse_box(s, d)).transpose()?,
        data_source: Some(a.data.display().to_string()),
    };
    let quiet = a.quiet;
    let fitted = density::estimate(
        &settings,
        table.x.view(),
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
    )
    .map_err(|e| match e {
        // every sample must lie in the box: a density on the box gives 0 to the others
        Error::OutsideDomain {
            row,
            variable,
            value,
            lo,
            hi,
        } => Error::data(
            format!("{}, data row {}", a.data.display(), row + 1),
            format!("{variable} = {value} lies outside the domain [{lo}, {hi}]; widen --domain"),
        ),
        // the settings' names as the command line spells them
        Error::InvalidParameter { name, message } if name == "rank" || name == "domain" => {
            Error::InvalidParameter {
                name: format!("--{name}"),
                message,
            }
        }
        other => other,
    })?;
    model_file::save_kind(
        fitted.model.psi(),
        Some(&fitted.info),
        ModelKind::Density,
        &out,
    )?;
    let history = &fitted.fit.history;
    let last = history.last().expect("the start is recorded");
    let chosen = fitted.fit.best_iteration.map_or(last, |i| &history[i]);
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
