//! One serde-serializable configuration per optimizer, and the enum that builds any of them by
//! name (the CLI's `--optimizer` values).

use super::{als, gd, momentum, ngd, rcg, rgd, Optimizer};
use crate::error::{Error, Result};

/// Any optimizer's configuration; `build` validates it and returns the optimizer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum OptimizerConfig {
    /// Alternating least squares.
    Als(als::AlsConfig),
    /// Riemannian gradient descent.
    Rgd(rgd::RgdConfig),
    /// Riemannian conjugate gradient.
    Rcg(rcg::RcgConfig),
    /// Plain gradient descent on the cores.
    Gd(gd::GdConfig),
    /// Natural gradient descent.
    Ngd(ngd::NgdConfig),
    /// Natural gradient with momentum (Heavy-Ball and Nesterov are presets of it).
    Momentum(momentum::MomentumConfig),
}

/// Options shared by every front end, see [`OptimizerConfig::apply_options`]; `None` keeps the
/// named configuration's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerOptions<'a> {
    /// Mini-batch size of the natural-gradient optimizers.
    pub batch_size: Option<usize>,
    /// Gram solver of the natural-gradient optimizers ([`super::gram::GramSolver::parse`]).
    pub solver: Option<&'a str>,
    /// Momentum factor (the bound of the adaptive factor, or the fixed one).
    pub beta: Option<f64>,
    /// Levenberg–Marquardt damping of the natural-gradient optimizers
    /// ([`super::damping::Damping::parse`]: `lm`, `lm:TAU`, `off`).
    pub damping: Option<&'a str>,
    /// How the front end spells the four options, for error messages
    /// (`["--batch", "--solver", "--beta", "--damping"]`).
    pub names: [&'a str; 4],
}

/// The names accepted by [`OptimizerConfig::from_name`], with one line each.
pub const OPTIMIZER_NAMES: &[(&str, &str)] = &[
    (
        "als",
        "alternating least squares sweeps (the classical baseline)",
    ),
    (
        "rgd",
        "Riemannian gradient descent, exact linearized step + Armijo",
    ),
    (
        "rcg",
        "Riemannian conjugate gradient (PR+), transport by projection",
    ),
    ("gd", "plain gradient descent on the cores, no geometry"),
    (
        "ngd",
        "natural gradient descent (Riemannian Gauss-Newton), empirical metric",
    ),
    ("ngd-hb", "natural gradient with Heavy-Ball momentum"),
    ("ngd-nesterov", "natural gradient with Nesterov momentum"),
    (
        "ngd-pop",
        "natural gradient in the population metric (= RGD with Armijo)",
    ),
    ("ngd-hb-pop", "Heavy-Ball momentum in the population metric"),
    (
        "ngd-nesterov-pop",
        "Nesterov momentum in the population metric",
    ),
];

impl OptimizerConfig {
    /// Default configuration for a method name (see [`OPTIMIZER_NAMES`]).
    pub fn from_name(name: &str) -> Result<Self> {
        let pop = ngd::Metric::Population;
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "als" => OptimizerConfig::Als(als::AlsConfig::default()),
            "rgd" => OptimizerConfig::Rgd(rgd::RgdConfig::default()),
            "rcg" => OptimizerConfig::Rcg(rcg::RcgConfig::default()),
            "gd" => OptimizerConfig::Gd(gd::GdConfig::default()),
            "ngd" => OptimizerConfig::Ngd(ngd::NgdConfig::default()),
            "ngd-hb" | "hb" => OptimizerConfig::Momentum(momentum::MomentumConfig::heavy_ball()),
            "ngd-nesterov" | "nesterov" => {
                OptimizerConfig::Momentum(momentum::MomentumConfig::nesterov())
            }
            "ngd-pop" => OptimizerConfig::Ngd(ngd::NgdConfig {
                metric: pop,
                ..Default::default()
            }),
            "ngd-hb-pop" => {
                let mut c = momentum::MomentumConfig::heavy_ball();
                c.natural.metric = pop;
                OptimizerConfig::Momentum(c)
            }
            "ngd-nesterov-pop" => {
                let mut c = momentum::MomentumConfig::nesterov();
                c.natural.metric = pop;
                OptimizerConfig::Momentum(c)
            }
            other => {
                let known: Vec<&str> = OPTIMIZER_NAMES.iter().map(|(n, _)| *n).collect();
                return Err(Error::param(
                    "optimizer",
                    format!(
                        "unknown optimizer '{other}'; choose one of {}",
                        known.join(", ")
                    ),
                ));
            }
        })
    }

    /// Apply the options every front end offers on top of a named configuration (the CLI's
    /// `--batch`, `--solver`, `--beta`, `--damping`; the Python keywords `batch_size`,
    /// `solver`, `beta`, `damping`): the mini-batch size, Gram solver and Levenberg–Marquardt
    /// damping of the natural-gradient optimizers, and the bound
    /// of the momentum factor (`0 <= beta < 1`). With `strict` (a single fit) an option the
    /// optimizer does not have is an error naming it as the front end spells it; otherwise (a
    /// comparison of several optimizers) it is skipped for that optimizer.
    pub fn apply_options(&mut self, opts: &OptimizerOptions<'_>, strict: bool) -> Result<()> {
        let [batch_name, solver_name, beta_name, damping_name] = opts.names;
        let natural = match self {
            OptimizerConfig::Ngd(c) => Some(c),
            OptimizerConfig::Momentum(c) => Some(&mut c.natural),
            _ => None,
        };
        match natural {
            Some(n) => {
                if let Some(b) = opts.batch_size {
                    n.batch_size = Some(b);
                }
                if let Some(s) = opts.solver {
                    n.solver = super::gram::GramSolver::parse(s)?;
                }
                if let Some(s) = opts.damping {
                    n.damping = super::damping::DampingRule::parse(s)
                        .map_err(|e| Error::param(damping_name, e.to_string()))?;
                }
            }
            None if strict
                && (opts.batch_size.is_some()
                    || opts.solver.is_some()
                    || opts.damping.is_some()) =>
            {
                return Err(Error::param(
                    format!("{batch_name}/{solver_name}/{damping_name}"),
                    "only apply to the natural-gradient optimizers (ngd, ngd-hb, ngd-nesterov)",
                ));
            }
            None => {}
        }
        if let Some(beta) = opts.beta {
            if !(0.0..1.0).contains(&beta) {
                return Err(Error::param(
                    beta_name,
                    format!("the momentum factor must lie in [0, 1), got {beta}"),
                ));
            }
            match self {
                OptimizerConfig::Momentum(c) => c.momentum.beta = beta,
                _ if strict => {
                    return Err(Error::param(
                        beta_name,
                        "only applies to ngd-hb and ngd-nesterov",
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Validate and build.
    pub fn build(&self) -> Result<Box<dyn Optimizer>> {
        Ok(match self {
            OptimizerConfig::Als(c) => Box::new(als::Als::new(c.clone())?),
            OptimizerConfig::Rgd(c) => Box::new(rgd::Rgd::new(c.clone())?),
            OptimizerConfig::Rcg(c) => Box::new(rcg::Rcg::new(c.clone())?),
            OptimizerConfig::Gd(c) => Box::new(gd::Gd::new(c.clone())?),
            OptimizerConfig::Ngd(c) => Box::new(ngd::Ngd::new(c.clone())?),
            OptimizerConfig::Momentum(c) => Box::new(momentum::Momentum::new(c.clone())?),
        })
    }
}
