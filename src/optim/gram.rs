//! Gram systems of the natural gradient (MATH.md §6.2-6.4, §8).
//!
//! At an iterate with Jacobian `J` (`N x D`, tangent coordinates) and non-negative row weights
//! `h` (`l''_i`, or 1 for the momentum projections), a Gram system answers
//! `c = argmin_c sum_i h_i (J_i c - t_i)^2` for sample-space targets `t`, i.e.
//! `G c = J^T H t / N` with `G = J^T H J / N`. The natural-gradient direction is the target
//! `t = -l'/l''` (least squares: `-e`, the Gauss–Newton step); the empirical momentum
//! projections use `h = 1` and the previous step's sample values as targets (MATH.md §7).
//!
//! Solvers: Cholesky with a Tikhonov shift relative to the trace; eigen-decomposition with a
//! relative cutoff (pseudo-inverse, robust for `N < D`); Householder QR of the scaled `J`
//! (condition number of `J`, not its square; `Q` kept as reflectors); matrix-free LSQR with
//! damping (never forms `J`); block-diagonal (per-core blocks `G_kk`, a block-Jacobi
//! Gauss–Newton step); matrix-free block-Jacobi preconditioned CG ([`GramSolver::Pcg`],
//! MATH.md §12), optionally with the operator and preconditioner from `m << N` rows; and
//! [`GramSolver::Auto`], the default: Cholesky below [`PCG_MIN_DIM`] tangent dimensions, PCG
//! above.
//!
//! **Bias of the relative shift.** Cholesky solves `(G + eps I) c = b` with
//! `eps = rel_shift tr(G) / D`. In the eigenbasis of `G` (`G = sum_j lambda_j w_j w_j^T`) the
//! shifted solution is the Gauss–Newton one with every component shrunk by
//! `lambda_j / (lambda_j + eps)`: a relative bias `eps / (lambda_j + eps)`. The default
//! `rel_shift = 1e-12` changes components with `lambda_j >= 1e-6 tr(G)/D` by at most `1e-6`
//! relative, and damps the directions the samples do not determine (`lambda_j ~ 0`, `N < D` or
//! over-parametrized ranks) to zero instead of amplifying rounding errors. With
//! `rel_shift = 0` the solver refuses a numerically singular Gram (see
//! [`GramSolver::Cholesky`]).
//!
//! Every reduction over samples is independent of the thread count, so results are bitwise
//! identical for any parallelism: the Gram is a symmetric rank-k update computed tile by tile
//! (each tile of `G` accumulated by one sequential GEMM per row block, in row-block order,
//! whichever thread runs it); the diagonal blocks and `J^T w` go through
//! [`tensor_train::reduce`].

use super::linearized::{LinearizedModel, SampleLinearization};
use super::lsqr::{lsqr, LsqrParams};
pub use super::pcg::SolveReport;
use super::pcg::{pcg, PcgParams};
use crate::error::{Error, Result};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use tensor_train::interfaces::CHUNK;
use tensor_train::linalg::{self, Cholesky, Par, QrLeastSquares};
use tensor_train::reduce;
use tensor_train::tangent::{SampleInterfaces, TangentSpace};

/// Tangent dimension from which [`GramSolver::Auto`] switches from dense Cholesky to the
/// matrix-free PCG. Dense NGD costs `N D^2` flops per iteration for the Gram (at GEMM speed),
/// PCG about `N D^2 / d` for the preconditioner plus `4 N D` per CG iteration (at the lower
/// speed of `J v`, `J^T w`); measured crossover: `docs/BENCHMARKS.md` (solver table).
pub const PCG_MIN_DIM: usize = 1500;

/// How the Gram system is solved.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GramSolver {
    /// Dense Cholesky (shift `rel_shift`) for `D < PCG_MIN_DIM`, else [`GramSolver::Pcg`] with
    /// the same relative shift and the default PCG settings. See [`GramSolver::resolve`].
    Auto {
        /// Shift relative to the mean eigenvalue.
        rel_shift: f64,
    },
    /// `(G + eps I) c = rhs` by Cholesky, `eps = rel_shift tr(G) / D`. `O(N D^2 + D^3/3)`.
    /// With `rel_shift = 0` a numerically singular `G` (a pivot `L_ii^2 <= D u max G_ii`, e.g.
    /// `N < D`) is an error instead of a silently non-minimal step: use the eigen solver for
    /// the minimum-norm step, or a positive shift (see the module docs for its bias).
    Cholesky {
        /// Shift relative to the mean eigenvalue (e.g. 1e-12 to 1e-6).
        rel_shift: f64,
    },
    /// Matrix-free conjugate gradient on `(G + eps I) c = rhs`, `eps = rel_shift tr(G) / D`,
    /// preconditioned by the factored diagonal blocks `G_kk + eps I` (the ALS normal matrices
    /// in the gauge complement, `O(N D^2 / d)` to form). Each iteration is one `J v` and one
    /// `J^T w` (`O(N d n r^2)`); memory `O(N d r + sum_k D_k^2)`, never `N x D`. Stops at
    /// `||r_j|| <= forcing ||rhs||` or after `max_iter` iterations (reported, see
    /// [`GramSystem::solve_target_report`]); a truncated solve is still a descent direction.
    Pcg {
        /// Shift relative to the mean eigenvalue of `G`.
        rel_shift: f64,
        /// Iteration cap.
        max_iter: usize,
        /// Forcing term `eta` of the inexact-Newton stopping rule.
        forcing: f64,
        /// Build the operator and the preconditioner from `m` of the `N` rows (evenly strided),
        /// the right-hand side from all rows. `None`: all rows.
        subsample: Option<usize>,
    },
    /// Pseudo-inverse of `G` by eigen-decomposition, eigenvalues below
    /// `rel_cutoff * lambda_max` dropped. Robust when `N < D`.
    Eigen {
        /// Relative cutoff (e.g. 1e-10).
        rel_cutoff: f64,
    },
    /// Householder QR of `sqrt(H/N) J`: least squares with the condition number of `J`.
    /// Needs `N >= D`.
    Qr,
    /// Matrix-free LSQR on `sqrt(H/N) J` with damping; never forms `J` or `G`.
    Lsqr {
        /// Damping `lambda`: minimizes `||A c - b||^2 + lambda^2 ||c||^2`.
        damp: f64,
        /// Iteration cap (reaching it is reported, see [`GramSystem::solve_target_report`]).
        max_iter: usize,
        /// Stop when the normal-equation residual `||A^T r - lambda^2 c||` is at most `tol`
        /// times its value at `c = 0`, `||A^T b||` (the same rule as PCG's forcing term).
        tol: f64,
    },
    /// Block-diagonal approximation `diag(G_11, ..., G_dd)`, each block by Cholesky with a
    /// relative shift. `O(N sum_k D_k^2 + sum_k D_k^3)`.
    BlockDiagonal {
        /// Shift relative to each block's mean eigenvalue.
        rel_shift: f64,
    },
}

impl Default for GramSolver {
    fn default() -> Self {
        GramSolver::Auto { rel_shift: 1e-12 }
    }
}

/// Default PCG forcing term. At (d, N, r, n) = (20, 2e4, 4, 6) (solver table in
/// docs/BENCHMARKS.md) `1e-2` gave a test error after 3 iterations of 2.0e-4 (the exact
/// Gauss–Newton steps: 8.6e-5), `1e-1` gave 1.6e-2 at half the time per iteration. Optimizers
/// that track the gradient norm should pass an Eisenstat–Walker term through
/// [`GramSystem::solve_target_report`].
pub const PCG_DEFAULT_FORCING: f64 = 1e-2;
/// Default PCG iteration cap.
pub const PCG_DEFAULT_MAX_ITER: usize = 100;

impl GramSolver {
    /// The concrete solver for a tangent dimension `dim`: [`GramSolver::Auto`] becomes
    /// Cholesky below [`PCG_MIN_DIM`] and PCG from there on; the others are returned as they are.
    pub fn resolve(self, dim: usize) -> GramSolver {
        match self {
            GramSolver::Auto { rel_shift } if dim < PCG_MIN_DIM => {
                GramSolver::Cholesky { rel_shift }
            }
            GramSolver::Auto { rel_shift } => GramSolver::Pcg {
                rel_shift,
                max_iter: PCG_DEFAULT_MAX_ITER,
                forcing: PCG_DEFAULT_FORCING,
                subsample: None,
            },
            other => other,
        }
    }

    /// The solver with its Tikhonov regularization raised to at least `shift` (relative to the
    /// mean eigenvalue): what a mini-batch Gram needs. QR has no shift and becomes Cholesky;
    /// LSQR's damping is `sqrt(shift)` (it damps `||c||^2` by `damp^2`).
    pub fn with_min_shift(self, shift: f64) -> GramSolver {
        match self {
            GramSolver::Auto { rel_shift } => GramSolver::Auto {
                rel_shift: rel_shift.max(shift),
            },
            GramSolver::Cholesky { rel_shift } => GramSolver::Cholesky {
                rel_shift: rel_shift.max(shift),
            },
            GramSolver::BlockDiagonal { rel_shift } => GramSolver::BlockDiagonal {
                rel_shift: rel_shift.max(shift),
            },
            GramSolver::Pcg {
                rel_shift,
                max_iter,
                forcing,
                subsample,
            } => GramSolver::Pcg {
                rel_shift: rel_shift.max(shift),
                max_iter,
                forcing,
                subsample,
            },
            GramSolver::Eigen { rel_cutoff } => GramSolver::Eigen {
                rel_cutoff: rel_cutoff.max(shift),
            },
            GramSolver::Lsqr {
                damp,
                max_iter,
                tol,
            } => GramSolver::Lsqr {
                damp: damp.max(shift.sqrt()),
                max_iter,
                tol,
            },
            GramSolver::Qr => GramSolver::Cholesky { rel_shift: shift },
        }
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |name: &str, v: f64| Error::param(name, format!("must be finite and >= 0, got {v}"));
        match *self {
            GramSolver::Pcg {
                rel_shift,
                max_iter,
                forcing,
                subsample,
            } => {
                if !(rel_shift.is_finite() && rel_shift >= 0.0) {
                    return Err(bad("pcg rel_shift", rel_shift));
                }
                if max_iter == 0 {
                    return Err(Error::param("pcg max_iter", "must be at least 1"));
                }
                if !(forcing.is_finite() && forcing > 0.0 && forcing < 1.0) {
                    return Err(Error::param(
                        "pcg forcing",
                        format!("must lie in (0, 1), got {forcing}"),
                    ));
                }
                if subsample == Some(0) {
                    return Err(Error::param("pcg subsample", "must be at least 1 row"));
                }
            }
            GramSolver::Cholesky { rel_shift }
            | GramSolver::BlockDiagonal { rel_shift }
            | GramSolver::Auto { rel_shift } => {
                if !(rel_shift.is_finite() && rel_shift >= 0.0) {
                    return Err(bad("gram solver rel_shift", rel_shift));
                }
            }
            GramSolver::Eigen { rel_cutoff } => {
                if !(rel_cutoff.is_finite() && (0.0..1.0).contains(&rel_cutoff)) {
                    return Err(Error::param(
                        "gram solver rel_cutoff",
                        format!("must lie in [0, 1), got {rel_cutoff}"),
                    ));
                }
            }
            GramSolver::Lsqr {
                damp,
                max_iter,
                tol,
            } => {
                if !(damp.is_finite() && damp >= 0.0) {
                    return Err(bad("lsqr damp", damp));
                }
                if max_iter == 0 {
                    return Err(Error::param("lsqr max_iter", "must be at least 1"));
                }
                if !(tol.is_finite() && tol > 0.0) {
                    return Err(Error::param(
                        "lsqr tol",
                        format!("must be finite and > 0, got {tol}"),
                    ));
                }
            }
            GramSolver::Qr => {}
        }
        Ok(())
    }

    /// Parse `auto[:shift]`, `cholesky[:shift]`, `eigen[:cutoff]`, `qr`, `lsqr[:damp]`,
    /// `block[:shift]`, `pcg[:shift]`, `pcg-sub<m>[:shift]` (operator from `m` rows).
    pub fn parse(s: &str) -> Result<Self> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let num = |default: f64| -> Result<f64> {
            match arg {
                None => Ok(default),
                Some(a) => a
                    .parse::<f64>()
                    .map_err(|_| Error::param("solver", format!("'{a}' in '{s}' is not a number"))),
            }
        };
        let solver = match name {
            "auto" => GramSolver::Auto {
                rel_shift: num(1e-12)?,
            },
            "pcg" => GramSolver::Pcg {
                rel_shift: num(1e-12)?,
                max_iter: PCG_DEFAULT_MAX_ITER,
                forcing: PCG_DEFAULT_FORCING,
                subsample: None,
            },
            sub if sub.starts_with("pcg-sub") => {
                let m: usize = sub["pcg-sub".len()..].parse().map_err(|_| {
                    Error::param(
                        "solver",
                        format!("'{sub}': give the subsample size as in pcg-sub20000"),
                    )
                })?;
                GramSolver::Pcg {
                    rel_shift: num(1e-12)?,
                    max_iter: PCG_DEFAULT_MAX_ITER,
                    forcing: PCG_DEFAULT_FORCING,
                    subsample: Some(m),
                }
            }
            "cholesky" => GramSolver::Cholesky {
                rel_shift: num(1e-12)?,
            },
            "eigen" => GramSolver::Eigen {
                rel_cutoff: num(1e-10)?,
            },
            "qr" => GramSolver::Qr,
            "lsqr" => GramSolver::Lsqr {
                damp: num(0.0)?,
                max_iter: 1000,
                tol: 1e-10,
            },
            "block" | "block-diagonal" => GramSolver::BlockDiagonal {
                rel_shift: num(1e-12)?,
            },
            other => {
                return Err(Error::param(
                    "solver",
                    format!(
                        "unknown Gram solver '{other}'; choose auto, cholesky, eigen, qr, lsqr, block, pcg or pcg-sub<m>"
                    ),
                ))
            }
        };
        solver.validate()?;
        Ok(solver)
    }
}

enum Factor {
    Cholesky(Cholesky),
    Eigen {
        w: Array2<f64>,
        inv: Array1<f64>,
    },
    Qr(QrLeastSquares),
    Lsqr(LsqrParams),
    Blocks(Vec<Cholesky>),
    Pcg {
        blocks: Vec<Cholesky>,
        shift: f64,
        params: PcgParams,
        sub: Option<SubSample>,
    },
}

/// The tolerance of an iterative solve: fixed (`None`: the solver's own), or a function of
/// the right-hand side's norm.
enum Forcing<'f> {
    Fixed(Option<f64>),
    OfGradient(&'f mut dyn FnMut(f64) -> f64),
}

/// The rows the PCG operator and preconditioner are built from when sub-sampled.
struct SubSample {
    /// The kept rows, evenly strided.
    idx: Vec<usize>,
    /// `h_i / m` on the kept rows.
    weights: Array1<f64>,
}

/// A factored Gram system at one iterate; see the module docs. It reads the Jacobian only
/// through a [`LinearizedModel`] (rows of `J`, `J c`, `J^T w`, the per-core column blocks).
pub struct GramSystem<'a> {
    model: Box<dyn LinearizedModel + 'a>,
    /// Row weights `h_i / N` (`None`: `1/N`).
    row_weights: Option<Array1<f64>>,
    n: f64,
    factor: Factor,
    par: Par,
}

/// Rows of `J` formed at a time by the Gram assembly (the only `N`-proportional buffer is
/// `ROW_BLOCK x D`). 1024 and 512 ran 5-10 % faster than 2048 at D = 2076 (the block,
/// 17 MB, is read once per tile column; `examples/gram_cpu_rate.rs`).
const ROW_BLOCK: usize = 1024;
/// Column tile of the symmetric rank-k update (tiles of 128 to 1038 columns were within the
/// noise of each other at D = 2076; 512 keeps ~10 tiles per row block for the threads).
const TILE: usize = 512;

impl<'a> GramSystem<'a> {
    /// Assemble and factor the system of the sample Jacobian at `ts` ([`SampleLinearization`]).
    /// `h` are the row weights (`None` for all ones).
    pub fn new(
        ts: &'a TangentSpace,
        si: &'a SampleInterfaces,
        feats: &[ArrayView2<'a, f64>],
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        par: Par,
    ) -> Result<Self> {
        Self::new_shifted(ts, si, feats, h, solver, 0.0, par)
    }

    /// [`GramSystem::new`] for `G + kappa I`: `kappa >= 0` is curvature of the loss that is
    /// not in the sample Gram (the density loss's normalization term,
    /// [`crate::loss::Loss::tangent_curvature`]), added to the solver's own shift. The
    /// least-squares solvers (QR, LSQR) have no such term and refuse `kappa > 0`.
    pub fn new_shifted(
        ts: &'a TangentSpace,
        si: &'a SampleInterfaces,
        feats: &[ArrayView2<'a, f64>],
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        kappa: f64,
        par: Par,
    ) -> Result<Self> {
        Self::from_model_shifted(
            SampleLinearization::new(ts, si, feats),
            h,
            solver,
            kappa,
            par,
        )
    }

    /// Assemble and factor the system `G = J^T diag(h) J / M` of any linearized model with `M`
    /// rows; `h` are non-negative row weights (`None` for all ones).
    pub fn from_model(
        model: impl LinearizedModel + 'a,
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        par: Par,
    ) -> Result<Self> {
        Self::from_model_shifted(model, h, solver, 0.0, par)
    }

    /// [`GramSystem::from_model`] for `G + kappa I` (see [`GramSystem::new_shifted`]).
    pub fn from_model_shifted(
        model: impl LinearizedModel + 'a,
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        kappa: f64,
        par: Par,
    ) -> Result<Self> {
        solver.validate()?;
        let model: Box<dyn LinearizedModel + 'a> = Box::new(model);
        if kappa != 0.0
            && matches!(
                solver.resolve(model.dim()),
                GramSolver::Qr | GramSolver::Lsqr { .. }
            )
        {
            return Err(Error::param(
                "gram solver",
                "this loss adds curvature to the Gram matrix; use the cholesky, eigen, pcg or block-diagonal solver",
            ));
        }
        let n_samples = model.n_rows();
        let n = n_samples as f64;
        if let Some(h) = &h {
            if h.len() != n_samples {
                return Err(Error::param(
                    "gram weights",
                    format!("{} row weights for {n_samples} rows", h.len()),
                ));
            }
        }
        let row_weights = h.map(|h| h.mapv(|v| v.max(0.0) / n));
        let dim = model.dim();
        let lin: &dyn LinearizedModel = model.as_ref();
        let factor = match solver.resolve(dim) {
            GramSolver::Auto { .. } => unreachable!("resolve() removes Auto"),
            GramSolver::Cholesky { rel_shift } => {
                let g = gram_of(lin, row_weights.as_ref(), n, par)?;
                let shift = shift_of(&g, rel_shift) + kappa;
                let ch = Cholesky::new_with(g.view(), shift, par).map_err(|e| {
                    Error::param("gram solver", format!("{e}; the empirical Gram matrix is singular (too few samples for the rank?): use a larger rel_shift or the eigen solver"))
                })?;
                if shift == 0.0 && ch.pivot_ratio() <= Cholesky::singular_ratio(dim) {
                    return Err(Error::param(
                        "gram solver",
                        format!(
                            "the empirical Gram matrix is numerically singular ({n_samples} samples for {dim} tangent dimensions; smallest Cholesky pivot {:.1e} of the largest diagonal entry): Cholesky without a shift would return a non-minimal step; use the eigen solver (minimum-norm step) or a positive rel_shift",
                            ch.pivot_ratio()
                        ),
                    ));
                }
                Factor::Cholesky(ch)
            }
            GramSolver::Eigen { rel_cutoff } => {
                let g = gram_of(lin, row_weights.as_ref(), n, par)?;
                let (lam, w) = linalg::eigh(g.view())?;
                let lmax = lam.iter().cloned().fold(0.0f64, f64::max);
                let inv = lam.mapv(|l| {
                    if l > rel_cutoff * lmax && l > 0.0 {
                        1.0 / (l + kappa)
                    } else {
                        0.0
                    }
                });
                Factor::Eigen { w, inv }
            }
            GramSolver::Qr => {
                if n_samples < dim {
                    return Err(Error::param(
                        "gram solver",
                        format!("QR needs at least as many samples as tangent dimensions ({n_samples} < {dim}); use eigen, cholesky or lsqr"),
                    ));
                }
                // one N x D buffer: J assembled column-major, scaled in place, factored in
                // place; Q stays as Householder reflectors
                let mut j = QrLeastSquares::buffer(n_samples, dim);
                lin.jacobian_into(j.view_mut(), par)?;
                scale_rows(j.view_mut(), row_weights.as_ref().map(|w| w.view()), n);
                let qr = QrLeastSquares::factor(j, Par::Seq)?;
                if qr.diag_ratio() <= 1e-14 {
                    return Err(Error::param(
                        "gram solver",
                        "QR found the Jacobian rank-deficient (too few or repeated samples for this rank); use the eigen or cholesky solver",
                    ));
                }
                Factor::Qr(qr)
            }
            GramSolver::Lsqr {
                damp,
                max_iter,
                tol,
            } => Factor::Lsqr(LsqrParams {
                damp,
                max_iter,
                tol,
            }),
            GramSolver::BlockDiagonal { rel_shift } => {
                let blocks = blocks_of(lin, row_weights.as_ref(), n, par)?;
                let facs = blocks
                    .iter()
                    .map(|b| Cholesky::new(b.view(), shift_of(b, rel_shift) + kappa))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::param(
                            "gram solver",
                            format!("{e} in a diagonal block; raise rel_shift"),
                        )
                    })?;
                Factor::Blocks(facs)
            }
            GramSolver::Pcg {
                rel_shift,
                max_iter,
                forcing,
                subsample,
            } => {
                let sub = match subsample {
                    Some(m) if m < n_samples => {
                        let sub = SubSample::new(n_samples, row_weights.as_ref(), m);
                        // models that cannot restrict themselves use all rows
                        lin.select_rows(&sub.idx).map(|sm| (sub, sm))
                    }
                    _ => None,
                };
                let blocks = match &sub {
                    Some((sub, sm)) => {
                        let m = sub.weights.len() as f64;
                        blocks_of(sm.as_ref(), Some(&sub.weights), m, par)?
                    }
                    None => blocks_of(lin, row_weights.as_ref(), n, par)?,
                };
                let sub = sub.map(|(s, _)| s);
                // eps = rel_shift tr(G) / D, with tr(G) = sum_k tr(G_kk)
                let trace: f64 = blocks.iter().map(|b| b.diag().sum()).sum();
                let shift = rel_shift * trace / dim.max(1) as f64 + kappa;
                let facs = blocks
                    .iter()
                    .map(|b| {
                        // the preconditioner blocks always get at least a tiny relative shift,
                        // so that a singular block (N < D_k) does not stop the solve
                        let s = shift.max(shift_of(b, 1e-12));
                        Cholesky::new(b.view(), s)
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::param(
                            "gram solver",
                            format!("{e} in a preconditioner block; raise rel_shift"),
                        )
                    })?;
                Factor::Pcg {
                    blocks: facs,
                    shift,
                    params: PcgParams { forcing, max_iter },
                    sub,
                }
            }
        };
        Ok(GramSystem {
            model,
            row_weights,
            n,
            factor,
            par,
        })
    }

    /// `c = argmin sum_i h_i (J_i c - t_i)^2` (with the solver's regularization).
    pub fn solve_target(&self, t: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        Ok(self.solve_target_report(t, None)?.0)
    }

    /// [`GramSystem::solve_target`] with the outcome of the solve (iterations, relative
    /// residual, converged or not; direct solvers report an exact solve). `forcing` overrides
    /// the iterative solvers' tolerance for this solve (an inexact-Newton forcing term chosen
    /// by the optimizer; for a term that depends on this iterate's gradient, e.g.
    /// Eisenstat–Walker, see [`GramSystem::solve_target_eta`]).
    pub fn solve_target_report(
        &self,
        t: ArrayView1<'_, f64>,
        forcing: Option<f64>,
    ) -> Result<(Array1<f64>, SolveReport)> {
        self.solve_forced(t, Forcing::Fixed(forcing))
    }

    /// [`GramSystem::solve_target_report`] with the iterative solvers' tolerance chosen from
    /// the norm of this system's right-hand side `||b|| = ||J^T H t / N||` (the gradient norm
    /// of the natural step): `eta(||b||)`, e.g. [`super::pcg::EisenstatWalker::next`]. PCG
    /// forms `b` anyway; LSQR pays one extra `J^T w` for it; direct solvers ignore `eta`.
    pub fn solve_target_eta(
        &self,
        t: ArrayView1<'_, f64>,
        eta: &mut dyn FnMut(f64) -> f64,
    ) -> Result<(Array1<f64>, SolveReport)> {
        self.solve_forced(t, Forcing::OfGradient(eta))
    }

    fn solve_forced(
        &self,
        t: ArrayView1<'_, f64>,
        forcing: Forcing<'_>,
    ) -> Result<(Array1<f64>, SolveReport)> {
        if t.len() != self.model.n_rows() {
            return Err(Error::param(
                "gram target",
                format!("{} values for {} rows", t.len(), self.model.n_rows()),
            ));
        }
        // weighted target H t / N
        let wt = match &self.row_weights {
            Some(w) => &t * w,
            None => t.mapv(|v| v / self.n),
        };
        let mut report = SolveReport::direct();
        let norm = |v: &Array1<f64>| v.dot(v).sqrt();
        let c = match &self.factor {
            Factor::Cholesky(ch) => {
                let rhs = self.rhs(wt.view())?;
                report.rhs_norm = norm(&rhs);
                ch.solve_vec(&rhs)?
            }
            Factor::Eigen { w, inv } => {
                let rhs = self.rhs(wt.view())?;
                report.rhs_norm = norm(&rhs);
                let z = w.t().dot(&rhs) * inv;
                w.dot(&z)
            }
            Factor::Qr(qr) => {
                // b = sqrt(h/N) t ; c = R^{-1} (Q^T b)[..D]
                let b = match &self.row_weights {
                    Some(w) => &t * &w.mapv(f64::sqrt),
                    None => t.mapv(|v| v / self.n.sqrt()),
                };
                qr.solve(&b)?
            }
            Factor::Lsqr(p) => {
                let tol = match forcing {
                    Forcing::Fixed(f) => f.unwrap_or(p.tol),
                    Forcing::OfGradient(eta) => eta(norm(&self.rhs(wt.view())?)),
                };
                let p = LsqrParams { tol, ..*p };
                let sqrt_w = match &self.row_weights {
                    Some(w) => w.mapv(f64::sqrt),
                    None => Array1::from_elem(t.len(), 1.0 / self.n.sqrt()),
                };
                let b = &t * &sqrt_w;
                let av = |c: &Array1<f64>| -> Result<Array1<f64>> {
                    Ok(self.model.jvp(c.view(), self.par)? * &sqrt_w)
                };
                let atv = |u: &Array1<f64>| -> Result<Array1<f64>> {
                    let wu = u * &sqrt_w;
                    self.model.vjp(wu.view(), self.par)
                };
                let (c, rep) = lsqr(av, atv, &b, self.model.dim(), &p)?;
                report = rep;
                c
            }
            Factor::Blocks(facs) => {
                let rhs = self.rhs(wt.view())?;
                report.rhs_norm = norm(&rhs);
                block_solve(self.model.block_offsets(), facs, &rhs)?
            }
            Factor::Pcg {
                blocks,
                shift,
                params,
                sub,
            } => {
                let rhs = self.rhs(wt.view())?;
                let p = PcgParams {
                    forcing: match forcing {
                        Forcing::Fixed(f) => f.unwrap_or(params.forcing),
                        Forcing::OfGradient(eta) => eta(norm(&rhs)),
                    },
                    ..*params
                };
                let off = self.model.block_offsets();
                let sub_model = sub
                    .as_ref()
                    .and_then(|sub| self.model.select_rows(&sub.idx).map(|m| (sub, m)));
                let op = |v: &Array1<f64>| -> Result<Array1<f64>> {
                    let mut gv = match &sub_model {
                        Some((sub, sm)) => {
                            let jv = sm.jvp(v.view(), self.par)?;
                            let wjv = &jv * &sub.weights;
                            sm.vjp(wjv.view(), self.par)?
                        }
                        None => {
                            let jv = self.model.jvp(v.view(), self.par)?;
                            let wjv = match &self.row_weights {
                                Some(w) => &jv * w,
                                None => jv.mapv(|x| x / self.n),
                            };
                            self.rhs(wjv.view())?
                        }
                    };
                    gv.scaled_add(*shift, v);
                    Ok(gv)
                };
                let prec = |r: &Array1<f64>| block_solve(off, blocks, r);
                let (c, rep) = pcg(op, prec, &rhs, &p)?;
                report = rep;
                c
            }
        };
        if c.iter().any(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                iteration: 0,
                message: "the natural-gradient solve produced non-finite values; use a Tikhonov shift or the eigen solver".into(),
            });
        }
        Ok((c, report))
    }

    /// `(G + eps I)^{-1} r` for tangent coordinates `r` (the inverse metric of the natural
    /// step; used to project a step onto a constraint in the metric `G`,
    /// [`crate::optim::constraint`]). Direct factorizations only (Cholesky, eigen,
    /// block-diagonal); QR, LSQR and PCG never hold `G^{-1}` and report an error.
    pub fn solve_coords(&self, r: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        if r.len() != self.model.dim() {
            return Err(Error::param(
                "gram right-hand side",
                format!("{} coordinates for dimension {}", r.len(), self.model.dim()),
            ));
        }
        let r = r.to_owned();
        match &self.factor {
            Factor::Cholesky(ch) => Ok(ch.solve_vec(&r)?),
            Factor::Eigen { w, inv } => Ok(w.dot(&(w.t().dot(&r) * inv))),
            Factor::Blocks(facs) => block_solve(self.model.block_offsets(), facs, &r),
            _ => Err(Error::param(
                "gram solver",
                "this step needs G^-1 applied to coordinates (a constrained loss such as the density's sphere); use the cholesky, eigen or block-diagonal solver",
            )),
        }
    }

    fn rhs(&self, wt: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        self.model.vjp(wt, self.par)
    }

    /// The linearized model the system was built from.
    pub fn model(&self) -> &dyn LinearizedModel {
        self.model.as_ref()
    }
}

impl SubSample {
    /// Rows `floor(j N / m)`, `j < m`: evenly strided, deterministic.
    fn new(n: usize, row_weights: Option<&Array1<f64>>, m: usize) -> Self {
        let idx: Vec<usize> = (0..m).map(|j| j * n / m).collect();
        // h_i / N on all rows becomes h_i / m on the kept ones
        let scale = n as f64 / m as f64;
        let weights = match row_weights {
            Some(w) => Array1::from_iter(idx.iter().map(|&i| w[i] * scale)),
            None => Array1::from_elem(m, 1.0 / m as f64),
        };
        SubSample { idx, weights }
    }
}

fn block_solve(off: &[usize], facs: &[Cholesky], rhs: &Array1<f64>) -> Result<Array1<f64>> {
    let mut c = Array1::zeros(rhs.len());
    for (k, f) in facs.iter().enumerate() {
        if off[k + 1] == off[k] {
            continue;
        }
        let seg = rhs.slice(s![off[k]..off[k + 1]]).to_owned();
        c.slice_mut(s![off[k]..off[k + 1]])
            .assign(&f.solve_vec(&seg)?);
    }
    Ok(c)
}

fn shift_of(g: &Array2<f64>, rel: f64) -> f64 {
    let d = g.nrows().max(1) as f64;
    rel * g.diag().sum() / d
}

/// Scale row `i` of `j` by `sqrt(w_i)` (`w` holds the weights of exactly these rows), or all
/// rows by `1/sqrt(n)`, in place: the one weighting of every Jacobian block, so that
/// `(W^{1/2} J)^T (W^{1/2} J) = J^T W J`.
fn scale_rows(mut j: ndarray::ArrayViewMut2<'_, f64>, w: Option<ArrayView1<'_, f64>>, n: f64) {
    match w {
        Some(w) => {
            for (mut row, &wi) in j.rows_mut().into_iter().zip(w.iter()) {
                let s = wi.sqrt();
                row.mapv_inplace(|v| v * s);
            }
        }
        None => {
            let s = 1.0 / n.sqrt();
            j.mapv_inplace(|v| v * s);
        }
    }
}

/// `G = J^T diag(w) J` (row weights `w = h/N`, or `1/N`) as a symmetric rank-k update.
///
/// Rows are taken [`ROW_BLOCK`] at a time: that block of `J` is formed (in parallel over
/// 512-row chunks), scaled by `sqrt(w)` in place, and added into the lower triangle of `G`
/// tile by tile (`TILE x TILE` tiles `(I, J)`, `J <= I`), one sequential GEMM per
/// off-diagonal tile and one [`linalg::syrk_lower`] per diagonal tile, the tiles in parallel.
/// Flops: `N D (D + 1)`, half of the full product `J^T (W J)`.
/// Each tile sees the row blocks in order through the same sequential kernel, so the result is
/// bitwise the same for any thread count. Memory: `G` and one `ROW_BLOCK x D` block.
pub fn assemble_gram(
    ts: &TangentSpace,
    si: &SampleInterfaces,
    feats: &[ArrayView2<'_, f64>],
    w: Option<&Array1<f64>>,
    n: f64,
    par: Par,
) -> Result<Array2<f64>> {
    gram_of(&SampleLinearization::new(ts, si, feats), w, n, par)
}

/// [`assemble_gram`] for any [`LinearizedModel`]: `G = J^T diag(w) J` over its `M` rows (row
/// weights `w`, or `1/n` each), the same tiled rank-k update (bitwise the same for any
/// thread count).
pub fn gram_of(
    model: &dyn LinearizedModel,
    w: Option<&Array1<f64>>,
    n: f64,
    par: Par,
) -> Result<Array2<f64>> {
    let dim = model.dim();
    let n_samples = model.n_rows();
    let tr = |t: usize| tile_range(t, dim);
    let nt = dim.div_ceil(TILE);
    let mut tiles: Vec<(usize, usize, Array2<f64>)> = Vec::with_capacity(nt * (nt + 1) / 2);
    for i in 0..nt {
        for j in 0..=i {
            let (ri, rj) = (tr(i), tr(j));
            tiles.push((i, j, Array2::zeros((ri.len(), rj.len()))));
        }
    }
    let mut jb = Array2::<f64>::zeros((ROW_BLOCK.min(n_samples), dim));
    let mut r0 = 0;
    while r0 < n_samples {
        let r1 = (r0 + ROW_BLOCK).min(n_samples);
        let mut blk = jb.slice_mut(s![..r1 - r0, ..]);
        let fill =
            |rows: std::ops::Range<usize>, mut o: ndarray::ArrayViewMut2<'_, f64>| -> Result<()> {
                let rows = r0 + rows.start..r0 + rows.end;
                model.jacobian_rows_into(rows.clone(), o.view_mut())?;
                scale_rows(o, w.map(|w| w.slice(s![rows])), n);
                Ok(())
            };
        tensor_train::reduce::for_row_chunks(blk.view_mut(), CHUNK, par, fill)?;
        let blk = jb.slice(s![..r1 - r0, ..]);
        let update = |t: &mut (usize, usize, Array2<f64>)| -> Result<()> {
            let (i, j, acc) = t;
            let a = blk.slice(s![.., tr(*i)]);
            if i == j {
                linalg::syrk_lower(1.0, a, 1.0, acc.view_mut(), Par::Seq)?;
            } else {
                let b = blk.slice(s![.., tr(*j)]);
                linalg::gemm(1.0, a.t(), b, 1.0, acc.view_mut(), Par::Seq)?;
            }
            Ok(())
        };
        match par {
            Par::Seq => tiles.iter_mut().try_for_each(update)?,
            Par::Rayon(_) => tiles.par_iter_mut().try_for_each(update)?,
        }
        r0 = r1;
    }
    let mut g = Array2::zeros((dim, dim));
    for (i, j, t) in tiles {
        let (ri, rj) = (tr(i), tr(j));
        g.slice_mut(s![ri, rj]).assign(&t);
    }
    // the diagonal tiles hold their lower triangles: the full matrix is the mirror
    linalg::mirror_lower(g.view_mut());
    Ok(g)
}

fn tile_range(t: usize, dim: usize) -> std::ops::Range<usize> {
    t * TILE..((t + 1) * TILE).min(dim)
}

/// Diagonal blocks `G_kk = J^(k)T diag(w) J^(k)`, block by block (only `J^(k)` is formed, a
/// chunk at a time), each a symmetric rank-k update of its lower triangle
/// ([`linalg::syrk_lower`], `m D_k (D_k + 1)` flops, half of a GEMM) summed over samples by
/// [`tensor_train::reduce::fold_chunks`] (fixed order, any thread count), then mirrored. Memory: `O(sum_k D_k^2)` plus a few chunk buffers.
pub fn assemble_blocks(
    ts: &TangentSpace,
    si: &SampleInterfaces,
    feats: &[ArrayView2<'_, f64>],
    w: Option<&Array1<f64>>,
    n: f64,
    par: Par,
) -> Result<Vec<Array2<f64>>> {
    blocks_of(&SampleLinearization::new(ts, si, feats), w, n, par)
}

/// [`assemble_blocks`] for any [`LinearizedModel`]: `G_kk = J^(k)T diag(w) J^(k)` for the
/// column blocks of `model.block_offsets()`.
pub fn blocks_of(
    model: &dyn LinearizedModel,
    w: Option<&Array1<f64>>,
    n: f64,
    par: Par,
) -> Result<Vec<Array2<f64>>> {
    let n_samples = model.n_rows();
    let plan = reduce::Plan::default_for(n_samples);
    let off = model.block_offsets();
    (0..off.len() - 1)
        .map(|k| off[k + 1] - off[k])
        .enumerate()
        .map(|(k, dk)| {
            if dk == 0 {
                return Ok(Array2::zeros((0, 0)));
            }
            // accumulator: (G_kk, scratch rows of J^(k))
            type Acc = (Array2<f64>, Vec<f64>);
            let (g, _) = reduce::fold_chunks(
                n_samples,
                plan,
                par,
                || -> Acc { (Array2::zeros((dk, dk)), Vec::new()) },
                |acc: &mut Acc, rows: std::ops::Range<usize>| -> Result<()> {
                    let len = rows.len();
                    acc.1.resize(len * dk, 0.0);
                    let mut jk =
                        ndarray::ArrayViewMut2::from_shape((len, dk), &mut acc.1[..len * dk])
                            .expect("scratch sized above");
                    model.jacobian_block_rows_into(k, rows.clone(), jk.view_mut())?;
                    scale_rows(jk.view_mut(), w.map(|w| w.slice(s![rows])), n);
                    linalg::syrk_lower(1.0, jk.view(), 1.0, acc.0.view_mut(), Par::Seq)?;
                    Ok(())
                },
                |a: &mut Acc, b: Acc| a.0 += &b.0,
            )?;
            let mut g = g;
            linalg::mirror_lower(g.view_mut());
            Ok(g)
        })
        .collect()
}
