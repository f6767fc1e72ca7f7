//! Plain gradient descent on the cores: no manifold, no gauge handling, no retraction — the
//! reference a neural-network practitioner would write.
//!
//! The loss `L = (1/N) sum_i l(v(x^i), y_i)` is a polynomial in the raw core entries, with the
//! Euclidean gradient (MATH.md §0, Kronecker convention)
//!
//! `dL/dG_k = (1/N) sum_i l'_i  ell_{k-1}(x^i) (x) phi_k(x_k^i) (x) rho_{k+1}(x^i)`,
//!
//! i.e. `dL/dG_k^L = (L_{k-1} (.) Phi_k)^T diag(l'/N) R_{k+1}` with the interfaces of the raw
//! (non-orthogonalized) TT: one GEMM per core over row chunks, `O(N d n r^2)`. The update is
//! `G_k <- G_k - alpha dL/dG_k` for all cores at once, with
//! - [`GdStep::Fixed`]: a constant learning rate `alpha` (the loss may increase);
//! - [`GdStep::Armijo`] (default): Armijo backtracking `L(G - alpha grad) <= L - sigma alpha
//!   ||grad||^2`, started from `grow x` the last accepted step (`initial` on the first step),
//!   so the step size can re-grow after a local backtrack.
//!
//! The cost depends on the gauge of the start (the gradient scales with the norms of the other
//! cores); [`crate::init::initial_tt`] returns a balanced gauge.

use super::linesearch::Armijo;
use super::{evaluate, Optimizer, StepContext, StepReport};
use crate::error::{Error, Result};
use crate::optim::als::chunked_reduce;
use crate::samples::SampleSet;
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2};
use tensor_train::interfaces;
use tensor_train::linalg::{self, Par};
use tensor_train::TensorTrain;

/// Step-size rule of [`Gd`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GdStep {
    /// Constant learning rate `alpha > 0`.
    Fixed {
        /// The learning rate.
        lr: f64,
    },
    /// Armijo backtracking from a growing trial step.
    Armijo {
        /// First trial step of the first iteration (default 1).
        initial: f64,
        /// Each iteration starts from `grow` times the last accepted step (`>= 1`, default 2).
        grow: f64,
    },
}

impl Default for GdStep {
    fn default() -> Self {
        GdStep::Armijo {
            initial: 1.0,
            grow: 2.0,
        }
    }
}

/// Configuration of [`Gd`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GdConfig {
    /// Step-size rule (default Armijo with re-growth 2).
    pub step: GdStep,
    /// Armijo parameters for [`GdStep::Armijo`] (default `sigma = 1e-4`, `shrink = 0.5`, 40
    /// trials: the first iteration may have to come down from a far too large `initial`).
    pub armijo: Armijo,
}

impl Default for GdConfig {
    fn default() -> Self {
        GdConfig {
            step: GdStep::default(),
            armijo: Armijo {
                max_trials: 40,
                ..Armijo::default()
            },
        }
    }
}

/// Gradient descent on the raw cores (see the module docs).
#[derive(Debug, Clone)]
pub struct Gd {
    config: GdConfig,
    /// Last accepted Armijo step.
    last_alpha: Option<f64>,
}

impl Gd {
    /// Validate: positive finite learning rate / initial step, `grow >= 1`, Armijo parameters.
    pub fn new(config: GdConfig) -> Result<Self> {
        match config.step {
            GdStep::Fixed { lr } => {
                if !(lr.is_finite() && lr > 0.0) {
                    return Err(Error::param(
                        "gd learning rate",
                        format!("must be finite and > 0, got {lr}"),
                    ));
                }
            }
            GdStep::Armijo { initial, grow } => {
                if !(initial.is_finite() && initial > 0.0) {
                    return Err(Error::param(
                        "gd initial step",
                        format!("must be finite and > 0, got {initial}"),
                    ));
                }
                if !(grow.is_finite() && grow >= 1.0) {
                    return Err(Error::param(
                        "gd step growth",
                        format!("must be finite and >= 1, got {grow}"),
                    ));
                }
                config.armijo.validate()?;
            }
        }
        Ok(Gd {
            config,
            last_alpha: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GdConfig {
        &self.config
    }
}

impl Optimizer for Gd {
    fn name(&self) -> String {
        "gd".into()
    }

    fn reset(&mut self) {
        self.last_alpha = None;
    }

    fn state(&self) -> super::state::OptimizerState {
        super::state::OptimizerState::Gd {
            last_alpha: self.last_alpha,
        }
    }

    fn set_state(&mut self, s: &super::state::OptimizerState) -> Result<()> {
        match s {
            super::state::OptimizerState::Gd { last_alpha } => {
                self.last_alpha = *last_alpha;
                Ok(())
            }
            other => Err(other.mismatch(&self.name())),
        }
    }

    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        let par = ctx.par;
        let feats = data.feature_views();
        let left = interfaces::left_interfaces(x, &feats, par)?;
        let right = interfaces::right_interfaces(x, &feats, par)?;
        let d = x.order();
        let pred = left[d].column(0);
        let (y, w) = (data.targets(), data.weights());
        let loss0 = ctx.loss.value(pred, y, w);
        super::check_finite(loss0, "loss")?;
        let d1 = ctx.loss.first_derivative(pred, y, w) / data.len() as f64;
        let grad = (0..d)
            .map(|k| {
                let (a, n, b) = x.core(k).dim();
                let gk = weighted_face_split_gram(
                    left[k].view(),
                    feats[k],
                    right[k + 1].view(),
                    d1.view(),
                    par,
                )?;
                Ok(gk
                    .into_shape_with_order((a, n, b))
                    .expect("gradient has the core's shape"))
            })
            .collect::<Result<Vec<Array3<f64>>>>()?;
        let gg: f64 = grad
            .iter()
            .map(|g| g.iter().map(|v| v * v).sum::<f64>())
            .sum();
        super::check_finite(gg, "the squared norm of the core gradient")?;
        if gg == 0.0 {
            return Ok((x.clone(), super::rgd::stationary(loss0)));
        }
        let moved = |alpha: f64| -> Result<Option<TensorTrain>> {
            let cores: Vec<Array3<f64>> = x
                .cores()
                .iter()
                .zip(&grad)
                .map(|(c, g)| c - &(g * alpha))
                .collect();
            if cores.iter().any(|c| c.iter().any(|v| !v.is_finite())) {
                return Ok(None);
            }
            Ok(Some(TensorTrain::from_cores(cores)?))
        };
        match self.config.step {
            GdStep::Fixed { lr } => {
                let next = moved(lr)?.ok_or_else(|| Error::Diverged {
                    iteration: 0,
                    message: format!("gradient step with learning rate {lr} produced non-finite cores; lower the learning rate"),
                })?;
                let (loss, _) = evaluate(&next, data, ctx.loss, par)?;
                super::check_finite(loss, "loss after the gradient step")?;
                Ok((
                    next,
                    StepReport {
                        loss: Some(loss),
                        step_size: lr,
                        restarted: false,
                        trials: 1,
                        note: None,
                    },
                ))
            }
            GdStep::Armijo { initial, grow } => {
                let rule = &self.config.armijo;
                let mut alpha = self.last_alpha.map_or(initial, |a| a * grow);
                for trial in 1..=rule.max_trials {
                    if let Some(next) = moved(alpha)? {
                        let (loss, _) = evaluate(&next, data, ctx.loss, par)?;
                        if loss.is_finite() && loss <= loss0 - rule.sigma * alpha * gg {
                            self.last_alpha = Some(alpha);
                            return Ok((
                                next,
                                StepReport {
                                    loss: Some(loss),
                                    step_size: alpha,
                                    restarted: false,
                                    trials: trial,
                                    note: None,
                                },
                            ));
                        }
                    }
                    alpha *= rule.shrink;
                }
                self.last_alpha = Some(alpha);
                Ok((
                    x.clone(),
                    StepReport {
                        loss: Some(loss0),
                        step_size: 0.0,
                        restarted: false,
                        trials: rule.max_trials,
                        note: Some(
                            "Armijo line search failed along the negative core gradient".into(),
                        ),
                    },
                ))
            }
        }
    }
}

/// `(L (.) Phi)^T diag(w) R` (`(r_a n) x r_b`) over row chunks, deterministic for a given
/// parallelism (see [`chunked_reduce`]).
pub(crate) fn weighted_face_split_gram(
    l: ArrayView2<'_, f64>,
    phi: ArrayView2<'_, f64>,
    r: ArrayView2<'_, f64>,
    w: ArrayView1<'_, f64>,
    par: Par,
) -> Result<Array2<f64>> {
    let (ra, n, rb) = (l.ncols(), phi.ncols(), r.ncols());
    chunked_reduce(
        l.nrows(),
        par,
        || Array2::zeros((ra * n, rb)),
        |acc: &mut Array2<f64>, rows| {
            let len = rows.len();
            let mut a = Array2::zeros((len, ra * n));
            let ones = Array2::ones((len, 1));
            crate::optim::als::face_split3_into(
                l.slice(s![rows.clone(), ..]),
                phi.slice(s![rows.clone(), ..]),
                ones.view(),
                None,
                a.view_mut(),
            );
            let wv: Array1<f64> = w.slice(s![rows.clone()]).to_owned();
            let mut b = r.slice(s![rows, ..]).to_owned();
            for (mut row, &wi) in b.rows_mut().into_iter().zip(wv.iter()) {
                row.mapv_inplace(|v| v * wi);
            }
            linalg::gemm(1.0, a.t(), b.view(), 1.0, acc.view_mut(), Par::Seq)?;
            Ok(())
        },
        |acc, other| *acc += &other,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{LeastSquares, Loss};
    use ndarray::Array1;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use tensor_train::CoreDistribution;

    /// `<dL/dG, Delta>` equals the central difference of the loss along `Delta`.
    #[test]
    fn core_gradient_matches_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let (modes, ranks, n) = ([3usize, 4, 2, 3], [2usize, 3, 2], 50usize);
        let x =
            TensorTrain::random(&modes, &ranks, CoreDistribution::ScaledNormal, &mut rng).unwrap();
        let feats: Vec<Array2<f64>> = modes
            .iter()
            .map(|&m| Array2::from_shape_simple_fn((n, m), || StandardNormal.sample(&mut rng)))
            .collect();
        let y = Array1::from_shape_simple_fn(n, || StandardNormal.sample(&mut rng));
        let w = Array1::from_shape_simple_fn(n, || {
            let z: f64 = StandardNormal.sample(&mut rng);
            0.5 + z.abs()
        });
        let data = SampleSet::new(feats, y, Some(w)).unwrap();
        let views = data.feature_views();
        let left = interfaces::left_interfaces(&x, &views, Par::Seq).unwrap();
        let right = interfaces::right_interfaces(&x, &views, Par::Seq).unwrap();
        let pred = left[modes.len()].column(0);
        let d1 = LeastSquares.first_derivative(pred, data.targets(), data.weights()) / n as f64;
        let loss = |t: &TensorTrain| evaluate(t, &data, &LeastSquares, Par::Seq).unwrap().0;
        for k in 0..modes.len() {
            let (a, m, b) = x.core(k).dim();
            let g = weighted_face_split_gram(
                left[k].view(),
                views[k],
                right[k + 1].view(),
                d1.view(),
                Par::Seq,
            )
            .unwrap();
            let delta: Array3<f64> =
                Array3::from_shape_simple_fn((a, m, b), || StandardNormal.sample(&mut rng));
            let analytic: f64 = (&g.into_shape_with_order((a, m, b)).unwrap() * &delta).sum();
            let eps = 1e-6;
            let shifted = |s: f64| {
                let mut t = x.clone();
                t.set_core(k, &x.core(k).to_owned() + &(&delta * s))
                    .unwrap();
                t
            };
            let fd = (loss(&shifted(eps)) - loss(&shifted(-eps))) / (2.0 * eps);
            assert!(
                (fd - analytic).abs() <= 1e-6 * analytic.abs().max(1e-3),
                "core {k}: fd {fd} vs {analytic}"
            );
        }
    }
}
