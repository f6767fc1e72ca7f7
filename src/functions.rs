//! Built-in test functions for surrogate modelling (benchmark suite of ANCHORS.md §5) and a
//! seeded uniform sampler.
//!
//! Formulas follow the Virtual Library of Simulation Experiments (Surjanovic & Bingham, SFU);
//! every function is sampled uniformly on the box [`TestFunction::domain`]:
//!
//! | name | d | formula | domain |
//! |---|---|---|---|
//! | `borehole` | 8 | `2π Tu (Hu-Hl) / (ln(r/rw) (1 + 2 L Tu / (ln(r/rw) rw² Kw) + Tu/Tl))` | `rw∈[0.05,0.15]`, `r∈[100,50000]`, `Tu∈[63070,115600]`, `Hu∈[990,1110]`, `Tl∈[63.1,116]`, `Hl∈[700,820]`, `L∈[1120,1680]`, `Kw∈[9855,12045]` |
//! | `otl` | 6 | `Vm = (Vb1+0.74) β(Rc2+9)/D + 11.35 Rf/D + 0.74 Rf β(Rc2+9)/(D Rc1)`, `Vb1 = 12 Rb2/(Rb1+Rb2)`, `D = β(Rc2+9)+Rf` | `Rb1∈[50,150]`, `Rb2∈[25,70]`, `Rf∈[0.5,3]`, `Rc1∈[1.2,2.5]`, `Rc2∈[0.25,1.2]`, `β∈[50,300]` |
//! | `piston` | 7 | `C = 2π sqrt(M / (k + S² P0 V0 Ta / (T0 V²)))`, `V = S/(2k) (sqrt(A² + 4k P0 V0 Ta/T0) - A)`, `A = P0 S + 19.62 M - k V0/S` | `M∈[30,60]`, `S∈[0.005,0.020]`, `V0∈[0.002,0.010]`, `k∈[1000,5000]`, `P0∈[90000,110000]`, `Ta∈[290,296]`, `T0∈[340,360]` |
//! | `ishigami` | 3 | `sin x1 + 7 sin² x2 + 0.1 x3⁴ sin x1` | `[-π, π]³` |
//! | `friedman` | 5 | `10 sin(π x1 x2) + 20 (x3 - 0.5)² + 10 x4 + 5 x5` | `[0, 1]⁵` |
//! | `genz-oscillatory:D` | D | `cos(2π u1 + Σ a_i x_i)`, `u1 = 0.5` | `[0, 1]^D` |
//! | `genz-corner-peak:D` | D | `(1 + Σ a_i x_i)^{-(D+1)}` | `[0, 1]^D` |
//! | `sin-sum:D` | D | `sin(x1 + .. + xD)` | `[-1, 1]^D` |
//!
//! **Genz coefficients.** Genz's families are usually drawn with random `a`, and their
//! difficulty is governed by `‖a‖₁` alone. To make runs reproducible across tools we fix
//! `a_i = b · i^{-1} / H_D` (`H_D = Σ_{i<=D} 1/i`, the harmonic number), i.e. mildly decaying
//! importance of the variables with `‖a‖₁ = b` exactly, independent of `D`, and use Genz's
//! standard difficulty levels `b = 9.0` (oscillatory: the phase sweeps 9 rad ≈ 1.4 periods
//! across the box) and `b = 1.85` (corner peak: the function falls from 1 at the origin to
//! `2.85^{-(D+1)}` at the opposite corner). Both are smooth; the oscillatory one has TT rank 2
//! exactly, the corner peak is approximately low-rank.
//!
//! **sin-sum.** `sin(Σ x_i)` on `[-1, 1]^D`, the "sine of a sum" synthetic of tensap
//! (`sin_of_asum` there is used on `U[-1, 1]` or `U[0, 1]`; we use `[-1, 1]`). Its TT rank is
//! exactly 2 for every `D` (`sin(a + b) = sin a cos b + cos a sin b`): a high-dimensional
//! scaling test with a known answer.

use crate::data::Dataset;
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// Largest dimension accepted for the variable-dimension functions.
pub const MAX_TEST_DIM: usize = 10_000;

/// Difficulty `‖a‖₁` of [`TestFunction::GenzOscillatory`].
pub const GENZ_OSCILLATORY_NORM: f64 = 9.0;
/// Difficulty `‖a‖₁` of [`TestFunction::GenzCornerPeak`].
pub const GENZ_CORNER_PEAK_NORM: f64 = 1.85;
/// Shift `u1` of [`TestFunction::GenzOscillatory`].
pub const GENZ_OSCILLATORY_U1: f64 = 0.5;

/// A built-in test function (see the module table for formulas and domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestFunction {
    /// Borehole water flow, d = 8.
    Borehole,
    /// OTL push-pull output transformerless circuit midpoint voltage, d = 6.
    OtlCircuit,
    /// Piston cycle time, d = 7.
    Piston,
    /// Ishigami function with a = 7, b = 0.1, d = 3.
    Ishigami,
    /// Friedman regression function, d = 5.
    Friedman,
    /// Genz oscillatory function in `d` dimensions.
    GenzOscillatory {
        /// Dimension.
        d: usize,
    },
    /// Genz corner-peak function in `d` dimensions.
    GenzCornerPeak {
        /// Dimension.
        d: usize,
    },
    /// `sin(x1 + .. + xd)` on `[-1, 1]^d`.
    SinOfSum {
        /// Dimension.
        d: usize,
    },
}

/// Default dimension of the variable-dimension functions when the spec gives none.
pub const DEFAULT_TEST_DIM: usize = 10;

/// Spec and one-line description of every function, for CLI help.
pub fn list() -> &'static [(&'static str, &'static str)] {
    &[
        ("borehole", "borehole water flow, d=8 (SFU); smooth, mildly anisotropic"),
        ("otl", "OTL circuit midpoint voltage, d=6 (SFU)"),
        ("piston", "piston cycle time, d=7 (SFU)"),
        ("ishigami", "Ishigami a=7, b=0.1 on [-pi,pi]^3; strong x1-x3 interaction"),
        ("friedman", "Friedman 10 sin(pi x1 x2) + 20 (x3-0.5)^2 + 10 x4 + 5 x5 on [0,1]^5"),
        ("genz-oscillatory[:D]", "Genz oscillatory cos(pi + sum a_i x_i), ||a||_1 = 9, a_i ~ 1/i, on [0,1]^D (default D=10)"),
        ("genz-corner-peak[:D]", "Genz corner peak (1 + sum a_i x_i)^-(D+1), ||a||_1 = 1.85, a_i ~ 1/i, on [0,1]^D (default D=10)"),
        ("sin-sum[:D]", "sin(x1 + ... + xD) on [-1,1]^D, TT rank 2 (default D=10)"),
    ]
}

/// The Genz coefficients `a_i = norm · i^{-1} / H_d`, `i = 1..d` (so `Σ a_i = norm`).
pub fn genz_coefficients(d: usize, norm: f64) -> Vec<f64> {
    let h: f64 = (1..=d).map(|i| 1.0 / i as f64).sum();
    (1..=d).map(|i| norm / (i as f64 * h)).collect()
}

impl TestFunction {
    /// Parses `borehole`, `otl` (or `otl-circuit`), `piston`, `ishigami`, `friedman`,
    /// `genz-oscillatory[:D]`, `genz-corner-peak[:D]`, `sin-sum[:D]` (case-insensitive,
    /// `D` defaults to [`DEFAULT_TEST_DIM`]).
    pub fn parse(spec: &str) -> Result<Self> {
        let s = spec.trim().to_ascii_lowercase();
        let (name, dim) = match s.split_once(':') {
            Some((n, d)) => (n.trim().to_string(), Some(d.trim().to_string())),
            None => (s.clone(), None),
        };
        let available = || {
            list()
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let variable_dim = |dim: &Option<String>| -> Result<usize> {
            match dim {
                None => Ok(DEFAULT_TEST_DIM),
                Some(d) => match d.parse::<usize>() {
                    Ok(d) if (1..=MAX_TEST_DIM).contains(&d) => Ok(d),
                    _ => Err(Error::param(
                        "function",
                        format!("\"{spec}\": dimension \"{d}\" must be an integer between 1 and {MAX_TEST_DIM}"),
                    )),
                },
            }
        };
        let f = match name.as_str() {
            "borehole" => TestFunction::Borehole,
            "otl" | "otl-circuit" | "otlcircuit" => TestFunction::OtlCircuit,
            "piston" => TestFunction::Piston,
            "ishigami" => TestFunction::Ishigami,
            "friedman" => TestFunction::Friedman,
            "genz-oscillatory" => TestFunction::GenzOscillatory {
                d: variable_dim(&dim)?,
            },
            "genz-corner-peak" => TestFunction::GenzCornerPeak {
                d: variable_dim(&dim)?,
            },
            "sin-sum" | "sin-of-sum" => TestFunction::SinOfSum {
                d: variable_dim(&dim)?,
            },
            _ => {
                return Err(Error::param(
                    "function",
                    format!(
                        "unknown test function \"{spec}\"; available: {}",
                        available()
                    ),
                ))
            }
        };
        if let (Some(d), false) = (&dim, f.has_variable_dim()) {
            return Err(Error::param(
                "function",
                format!(
                    "\"{spec}\": {} has the fixed dimension {}; drop \":{d}\"",
                    f.name(),
                    f.dim()
                ),
            ));
        }
        Ok(f)
    }

    fn has_variable_dim(&self) -> bool {
        matches!(
            self,
            TestFunction::GenzOscillatory { .. }
                | TestFunction::GenzCornerPeak { .. }
                | TestFunction::SinOfSum { .. }
        )
    }

    /// Short name (also the target column name of [`TestFunction::sample`]).
    pub fn name(&self) -> &'static str {
        match self {
            TestFunction::Borehole => "borehole",
            TestFunction::OtlCircuit => "otl",
            TestFunction::Piston => "piston",
            TestFunction::Ishigami => "ishigami",
            TestFunction::Friedman => "friedman",
            TestFunction::GenzOscillatory { .. } => "genz-oscillatory",
            TestFunction::GenzCornerPeak { .. } => "genz-corner-peak",
            TestFunction::SinOfSum { .. } => "sin-sum",
        }
    }

    /// Number of inputs.
    pub fn dim(&self) -> usize {
        match *self {
            TestFunction::Borehole => 8,
            TestFunction::OtlCircuit => 6,
            TestFunction::Piston => 7,
            TestFunction::Ishigami => 3,
            TestFunction::Friedman => 5,
            TestFunction::GenzOscillatory { d }
            | TestFunction::GenzCornerPeak { d }
            | TestFunction::SinOfSum { d } => d,
        }
    }

    /// The box `[lo_k, hi_k]` the inputs are drawn from (uniformly).
    pub fn domain(&self) -> Vec<(f64, f64)> {
        match *self {
            TestFunction::Borehole => vec![
                (0.05, 0.15),
                (100.0, 50000.0),
                (63070.0, 115600.0),
                (990.0, 1110.0),
                (63.1, 116.0),
                (700.0, 820.0),
                (1120.0, 1680.0),
                (9855.0, 12045.0),
            ],
            TestFunction::OtlCircuit => vec![
                (50.0, 150.0),
                (25.0, 70.0),
                (0.5, 3.0),
                (1.2, 2.5),
                (0.25, 1.2),
                (50.0, 300.0),
            ],
            TestFunction::Piston => vec![
                (30.0, 60.0),
                (0.005, 0.020),
                (0.002, 0.010),
                (1000.0, 5000.0),
                (90000.0, 110000.0),
                (290.0, 296.0),
                (340.0, 360.0),
            ],
            TestFunction::Ishigami => vec![(-PI, PI); 3],
            TestFunction::Friedman => vec![(0.0, 1.0); 5],
            TestFunction::GenzOscillatory { d } | TestFunction::GenzCornerPeak { d } => {
                vec![(0.0, 1.0); d]
            }
            TestFunction::SinOfSum { d } => vec![(-1.0, 1.0); d],
        }
    }

    /// Input names, e.g. `rw, r, Tu, Hu, Tl, Hl, L, Kw` for the borehole; `x1..xd` for the
    /// synthetic functions.
    pub fn input_names(&self) -> Vec<String> {
        let fixed: &[&str] = match self {
            TestFunction::Borehole => &["rw", "r", "Tu", "Hu", "Tl", "Hl", "L", "Kw"],
            TestFunction::OtlCircuit => &["Rb1", "Rb2", "Rf", "Rc1", "Rc2", "beta"],
            TestFunction::Piston => &["M", "S", "V0", "k", "P0", "Ta", "T0"],
            _ => &[],
        };
        if fixed.is_empty() {
            (1..=self.dim()).map(|k| format!("x{k}")).collect()
        } else {
            fixed.iter().map(|s| s.to_string()).collect()
        }
    }

    /// Values at the `N` rows of `x` (`N x dim()`). Errors when the number of columns is wrong.
    pub fn eval(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        if x.ncols() != self.dim() {
            return Err(Error::data(
                "input",
                format!(
                    "has {} columns but {} takes {} inputs",
                    x.ncols(),
                    self.name(),
                    self.dim()
                ),
            ));
        }
        let coeffs = self.coefficients();
        let mut buf = vec![0.0; self.dim()];
        Ok(x.outer_iter()
            .map(|row| {
                buf.iter_mut().zip(row.iter()).for_each(|(b, v)| *b = *v);
                self.value(&buf, &coeffs)
            })
            .collect())
    }

    /// Value at one point (`x.len() == dim()`).
    pub fn eval_point(&self, x: ArrayView1<f64>) -> Result<f64> {
        Ok(self.eval(x.insert_axis(ndarray::Axis(0)))?[0])
    }

    fn coefficients(&self) -> Vec<f64> {
        match *self {
            TestFunction::GenzOscillatory { d } => genz_coefficients(d, GENZ_OSCILLATORY_NORM),
            TestFunction::GenzCornerPeak { d } => genz_coefficients(d, GENZ_CORNER_PEAK_NORM),
            _ => Vec::new(),
        }
    }

    /// The formula at one point of the right length.
    fn value(&self, x: &[f64], a: &[f64]) -> f64 {
        match *self {
            TestFunction::Borehole => {
                let (rw, r, tu, hu, tl, hl, l, kw) =
                    (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
                let lr = (r / rw).ln();
                2.0 * PI * tu * (hu - hl)
                    / (lr * (1.0 + 2.0 * l * tu / (lr * rw * rw * kw) + tu / tl))
            }
            TestFunction::OtlCircuit => {
                let (rb1, rb2, rf, rc1, rc2, beta) = (x[0], x[1], x[2], x[3], x[4], x[5]);
                let vb1 = 12.0 * rb2 / (rb1 + rb2);
                let br = beta * (rc2 + 9.0);
                let den = br + rf;
                (vb1 + 0.74) * br / den + 11.35 * rf / den + 0.74 * rf * br / (den * rc1)
            }
            TestFunction::Piston => {
                let (m, s, v0, k, p0, ta, t0) = (x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
                let a = p0 * s + 19.62 * m - k * v0 / s;
                let v = s / (2.0 * k) * ((a * a + 4.0 * k * p0 * v0 * ta / t0).sqrt() - a);
                2.0 * PI * (m / (k + s * s * p0 * v0 * ta / (t0 * v * v))).sqrt()
            }
            TestFunction::Ishigami => {
                let s2 = x[1].sin();
                x[0].sin() * (1.0 + 0.1 * x[2].powi(4)) + 7.0 * s2 * s2
            }
            TestFunction::Friedman => {
                10.0 * (PI * x[0] * x[1]).sin()
                    + 20.0 * (x[2] - 0.5).powi(2)
                    + 10.0 * x[3]
                    + 5.0 * x[4]
            }
            TestFunction::GenzOscillatory { .. } => {
                let s: f64 = a.iter().zip(x).map(|(ai, xi)| ai * xi).sum();
                (2.0 * PI * GENZ_OSCILLATORY_U1 + s).cos()
            }
            TestFunction::GenzCornerPeak { d } => {
                let s: f64 = a.iter().zip(x).map(|(ai, xi)| ai * xi).sum();
                (1.0 + s).powf(-(d as f64 + 1.0))
            }
            TestFunction::SinOfSum { .. } => x.iter().sum::<f64>().sin(),
        }
    }

    /// `n` points drawn uniformly (independently per coordinate) from [`TestFunction::domain`]
    /// with `StdRng::seed_from_u64(seed)`, and their values; deterministic for a seed. Inputs
    /// are named by [`TestFunction::input_names`], the target by [`TestFunction::name`].
    pub fn sample(&self, n: usize, seed: u64) -> Result<Dataset> {
        if n == 0 {
            return Err(Error::param(
                "samples",
                "the number of samples must be at least 1",
            ));
        }
        let dom = self.domain();
        let d = dom.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, d));
        for mut row in x.outer_iter_mut() {
            for (v, &(lo, hi)) in row.iter_mut().zip(&dom) {
                let u: f64 = rng.random();
                *v = lo + (hi - lo) * u;
            }
        }
        let y = self.eval(x.view())?;
        Dataset::new(x, y, None, self.input_names(), self.name())
    }
}

impl fmt::Display for TestFunction {
    /// The [`TestFunction::parse`] spec (`genz-oscillatory:10`, `borehole`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_variable_dim() {
            write!(f, "{}:{}", self.name(), self.dim())
        } else {
            f.write_str(self.name())
        }
    }
}

impl FromStr for TestFunction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        TestFunction::parse(s)
    }
}

/// A random order-`d` TT with mode sizes `n` and internal ranks `min(r, ...)` (clamped to the
/// unfolding sizes): identity-like degree-0 slices plus uniform noise of size
/// `0.3 / (1 + j)^2` on the `j`-th slice, so that its functional TT in Legendre features is
/// smooth, well conditioned and of exact rank `r`. The exact low-rank target of the momentum
/// and recovery experiments (examples and tests draw it from the same seeded generator).
pub fn random_smooth_tt(
    d: usize,
    n: usize,
    r: usize,
    rng: &mut StdRng,
) -> Result<tensor_train::TensorTrain> {
    if d == 0 || n == 0 || r == 0 {
        return Err(Error::param(
            "random TT",
            format!("order {d}, mode size {n} and rank {r} must all be at least 1"),
        ));
    }
    let ranks = tensor_train::clamp_ranks(&vec![n; d], &vec![r; d - 1]);
    let mut full = vec![1];
    full.extend(&ranks);
    full.push(1);
    let cores: Vec<ndarray::Array3<f64>> = (0..d)
        .map(|k| {
            ndarray::Array3::from_shape_fn((full[k], n, full[k + 1]), |(a, j, b)| {
                let id = if j == 0 && a == b { 1.0 } else { 0.0 };
                id + 0.3 * rng.random_range(-1.0..1.0) / (1.0 + j as f64).powi(2)
            })
        })
        .collect();
    Ok(tensor_train::TensorTrain::from_cores(cores)?)
}

/// [`random_smooth_tt`] as a functional TT on `[-1, 1]^d` with `n` Legendre features per
/// variable (inputs `x1..xd`).
pub fn random_smooth_model(
    d: usize,
    n: usize,
    r: usize,
    rng: &mut StdRng,
) -> Result<crate::model::FunctionalTT> {
    let tt = random_smooth_tt(d, n, r, rng)?;
    let names: Vec<String> = (1..=d).map(|k| format!("x{k}")).collect();
    let fm = crate::basis::FeatureMap::from_parts(
        vec![crate::basis::Basis::Legendre { n }; d],
        vec![crate::basis::InputMap::Interval { lo: -1.0, hi: 1.0 }; d],
        names,
    )?;
    crate::model::FunctionalTT::new(fm, tt)
}
