//! Hyperparameters from Python (a dict with scikit-learn style names) to a validated
//! [`FitConfig`]. `None` keeps the library default of [`FitConfig::default`]. The mapping follows
//! the command line's options one to one, so a Python fit and a `ttfit fit` with the same
//! settings run the same computation.

use crate::errors::{fit_error, invalid};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;
use ttfit::basis::Basis;
use ttfit::data::split::SplitSize;
use ttfit::density::DensitySettings;
use ttfit::fit::FitConfig;
use ttfit::init::Start;
use ttfit::optim::OptimizerConfig;

/// The keys [`fit_config`] accepts, with their command-line counterparts (or, where the CLI has
/// none, what they mean).
pub const PARAMS: &[(&str, &str)] = &[
    ("rank", "--rank"),
    ("basis", "--basis"),
    ("optimizer", "--optimizer"),
    ("max_iter", "--max-iter"),
    (
        "tol",
        "relative loss decrease below which an iteration counts as stalled",
    ),
    ("time_limit", "--time-limit"),
    ("target_loss", "--target-loss"),
    ("validation_fraction", "--validation"),
    ("n_iter_no_change", "--patience"),
    ("batch_size", "--batch"),
    ("solver", "--solver"),
    ("beta", "--beta"),
    ("damping", "--damping"),
    ("start", "--start"),
    ("rank_continuation", "--rank-continuation"),
    ("domain", "--domain"),
    ("domain_margin", "relative widening of inferred domains"),
    ("random_state", "--seed"),
    ("n_jobs", "--threads"),
];

/// Optimizer-specific options (`batch_size`, `solver`, `beta`), applied when the optimizer has
/// them.
#[derive(Debug, Clone, Default)]
pub struct OptimizerOptions {
    batch_size: Option<usize>,
    solver: Option<String>,
    beta: Option<f64>,
    damping: Option<String>,
}

impl OptimizerOptions {
    /// Set the options on `oc` through the library's one mapping
    /// ([`OptimizerConfig::apply_options`], the same as the command line's); with `strict`, an
    /// option the optimizer does not have is an error (a single fit), otherwise it is skipped
    /// (a comparison, like `ttfit compare`).
    pub fn apply(&self, oc: &mut OptimizerConfig, strict: bool) -> PyResult<()> {
        let opts = ttfit::optim::config::OptimizerOptions {
            batch_size: self.batch_size,
            solver: self.solver.as_deref(),
            beta: self.beta,
            damping: self.damping.as_deref(),
            names: ["batch_size", "solver", "beta", "damping"],
        };
        oc.apply_options(&opts, strict).map_err(fit_error)
    }
}

/// `params[key]` converted to `T`; `None` when absent or `None`; a `ValueError` naming the key
/// when the value has the wrong type.
fn get<'py, T: FromPyObjectOwned<'py>>(
    params: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    match params.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|e| {
            let e: PyErr = e.into();
            let shown = v.repr().map(|r| r.to_string()).unwrap_or_default();
            invalid(key, format!("cannot use {shown}: {e}"))
        }),
        _ => Ok(None),
    }
}

/// `ValueError` for a key of `p` that is not a name of `table`, listing the known names.
fn check_names(p: &Bound<'_, PyDict>, table: &[(&str, &str)]) -> PyResult<()> {
    for key in p.keys() {
        let k: String = key.extract()?;
        if !table.iter().any(|(name, _)| *name == k) {
            let known: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                "hyperparameter",
                format!("unknown name '{k}'; known: {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The `rank` hyperparameter: one integer for every bond, or the list of bond ranks.
fn rank_of(r: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    match r.extract::<usize>() {
        Ok(one) => Ok(vec![one]),
        Err(_) => r.extract::<Vec<usize>>().map_err(|_| {
            invalid(
                "rank",
                "give a positive integer or a list of d - 1 positive integers",
            )
        }),
    }
}

/// The `rank_continuation` hyperparameter: `None` or `False` (fixed ranks from the start),
/// `True` (the default stall tolerance, as a bare `--rank-continuation`), or the stall
/// tolerance in `(0, 1)` (checked with the rest of the configuration by `FitConfig::check`).
fn rank_continuation_of(
    p: &Bound<'_, PyDict>,
) -> PyResult<Option<ttfit::learn::continuation::RankContinuation>> {
    use ttfit::learn::continuation::RankContinuation;
    let Some(v) = p.get_item("rank_continuation")? else {
        return Ok(None);
    };
    if v.is_none() {
        return Ok(None);
    }
    if v.is_instance_of::<pyo3::types::PyBool>() {
        let on: bool = v.extract()?;
        return Ok(on.then(RankContinuation::default));
    }
    match get::<f64>(p, "rank_continuation")? {
        Some(tol) => Ok(Some(RankContinuation { stall_tol: tol })),
        None => Ok(None),
    }
}

/// A validated-later [`FitConfig`] and the optimizer options from a dict of hyperparameters.
/// Unknown keys are a `ValueError`.
pub fn fit_config(params: Option<&Bound<'_, PyDict>>) -> PyResult<(FitConfig, OptimizerOptions)> {
    let mut cfg = FitConfig::default();
    let mut opts = OptimizerOptions::default();
    let Some(p) = params else {
        return Ok((cfg, opts));
    };
    check_names(p, PARAMS)?;
    if let Some(r) = p.get_item("rank")? {
        if !r.is_none() {
            cfg.rank = rank_of(&r)?;
        }
    }
    if let Some(b) = get::<String>(p, "basis")? {
        cfg.basis = Basis::parse(&b).map_err(fit_error)?;
    }
    if let Some(name) = get::<String>(p, "optimizer")? {
        cfg.optimizer = OptimizerConfig::from_name(&name).map_err(fit_error)?;
    }
    opts.batch_size = get(p, "batch_size")?;
    opts.solver = get(p, "solver")?;
    opts.beta = get(p, "beta")?;
    opts.damping = get(p, "damping")?;
    opts.apply(&mut cfg.optimizer, true)?;
    if let Some(n) = get(p, "max_iter")? {
        cfg.stopping.max_iter = n;
    }
    if let Some(t) = get(p, "tol")? {
        cfg.stopping.rel_tol = t;
    }
    if let Some(t) = get::<f64>(p, "time_limit")? {
        if !(t.is_finite() && t > 0.0) {
            return Err(invalid(
                "time_limit",
                format!("must be a positive number of seconds, got {t}"),
            ));
        }
        cfg.stopping.time_limit = Some(Duration::from_secs_f64(t));
    }
    if let Some(t) = get(p, "target_loss")? {
        cfg.stopping.target_loss = Some(t);
    }
    if let Some(v) = get(p, "validation_fraction")? {
        cfg.validation = Some(v);
    }
    if let Some(n) = get(p, "n_iter_no_change")? {
        cfg.stopping.validation_patience = Some(n);
    }
    if let Some(s) = get::<String>(p, "start")? {
        cfg.start = match s.as_str() {
            "additive" => Start::default(),
            "random" => Start::Random { scale: 1.0 },
            other => {
                return Err(invalid(
                    "start",
                    format!("'{other}' is not a start; use 'additive' or 'random'"),
                ))
            }
        };
    }
    cfg.rank_continuation = rank_continuation_of(p)?;
    if let Some(d) = get::<Vec<(f64, f64)>>(p, "domain")? {
        cfg.domain = Some(d);
    }
    if let Some(m) = get(p, "domain_margin")? {
        cfg.domain_margin = m;
    }
    if let Some(s) = get(p, "random_state")? {
        cfg.seed = s;
    }
    if let Some(t) = get(p, "n_jobs")? {
        cfg.threads = Some(t);
    }
    if cfg.stopping.validation_patience.is_some() && cfg.validation.is_none() {
        return Err(invalid(
            "n_iter_no_change",
            "early stopping needs a validation split: set validation_fraction, e.g. 0.2",
        ));
    }
    Ok((cfg, opts))
}

/// The keys [`density_settings`] accepts, with their `ttfit density` counterparts.
pub const DENSITY_PARAMS: &[(&str, &str)] = &[
    ("rank", "--rank"),
    ("basis", "--basis"),
    ("optimizer", "--optimizer"),
    ("max_iter", "--max-iter"),
    ("tol", "--rel-tol"),
    ("validation_fraction", "--validation (0: no validation)"),
    ("random_state", "--seed"),
    ("domain", "--domain"),
];

/// Validated-later [`DensitySettings`] from a dict of hyperparameters (`None` keeps the
/// defaults of `ttfit density`; unknown keys are a `ValueError`). The variable names are
/// `x1..xd`, as the regressor's.
pub fn density_settings(params: Option<&Bound<'_, PyDict>>, d: usize) -> PyResult<DensitySettings> {
    let mut s = DensitySettings {
        names: (1..=d).map(|k| format!("x{k}")).collect(),
        ..DensitySettings::default()
    };
    let Some(p) = params else {
        return Ok(s);
    };
    check_names(p, DENSITY_PARAMS)?;
    if let Some(r) = p.get_item("rank")? {
        if !r.is_none() {
            s.rank = rank_of(&r)?;
            if s.rank.contains(&0) {
                return Err(invalid("rank", "ranks must be at least 1"));
            }
        }
    }
    if let Some(b) = get::<String>(p, "basis")? {
        s.basis = Basis::parse(&b).map_err(fit_error)?;
    }
    if let Some(name) = get::<String>(p, "optimizer")? {
        // checked here so that a bad name fails before any work
        ttfit::density::DensityConfig::optimizer_from_name(&name).map_err(fit_error)?;
        s.optimizer = name;
    }
    if let Some(n) = get::<usize>(p, "max_iter")? {
        if n == 0 {
            return Err(invalid("max_iter", "must be at least 1"));
        }
        s.max_iter = n;
    }
    if let Some(t) = get::<f64>(p, "tol")? {
        if !(t.is_finite() && t >= 0.0) {
            return Err(invalid("tol", format!("must be finite and >= 0, got {t}")));
        }
        s.rel_tol = t;
    }
    s.validation = match get::<f64>(p, "validation_fraction")? {
        None => s.validation,
        Some(0.0) => None,
        Some(f) if f > 0.0 && f < 1.0 => Some(SplitSize::Fraction(f)),
        Some(f) => {
            return Err(invalid(
                "validation_fraction",
                format!("must lie in [0, 1), got {f}"),
            ))
        }
    };
    if let Some(seed) = get(p, "random_state")? {
        s.seed = seed;
    }
    if let Some(dm) = get::<Vec<(f64, f64)>>(p, "domain")? {
        s.domain = Some(dm);
    }
    Ok(s)
}
