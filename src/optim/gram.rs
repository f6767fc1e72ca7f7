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
//! (condition number of `J`, not its square); matrix-free LSQR with damping (never forms `J`);
//! block-diagonal (per-core blocks `G_kk`, a block-Jacobi Gauss–Newton step).
//!
//! Assembly is chunked over samples (each chunk's Jacobian rows, then one GEMM
//! `J_c^T H_c J_c` into a group accumulator); the chunks are split into a number of groups
//! that depends only on `N` and `D`, never on the thread count, so results are bitwise
//! reproducible for a seed whatever the parallelism.

use super::lsqr::{lsqr, LsqrParams};
use crate::error::{Error, Result};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use tensor_train::interfaces::CHUNK;
use tensor_train::linalg::{self, Cholesky, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};

/// How the Gram system is solved.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GramSolver {
    /// `(G + eps I) c = rhs` by Cholesky, `eps = rel_shift tr(G) / D`. `O(N D^2 + D^3/3)`.
    Cholesky {
        /// Shift relative to the mean eigenvalue (e.g. 1e-12 to 1e-6).
        rel_shift: f64,
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
        /// Iteration cap.
        max_iter: usize,
        /// Relative tolerance on the normal-equation residual.
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
        GramSolver::Cholesky { rel_shift: 1e-12 }
    }
}

impl GramSolver {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |name: &str, v: f64| Error::param(name, format!("must be finite and >= 0, got {v}"));
        match *self {
            GramSolver::Cholesky { rel_shift } | GramSolver::BlockDiagonal { rel_shift } => {
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

    /// Parse `cholesky[:shift]`, `eigen[:cutoff]`, `qr`, `lsqr[:damp]`, `block[:shift]`.
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
            "cholesky" => GramSolver::Cholesky {
                rel_shift: num(1e-12)?,
            },
            "eigen" => GramSolver::Eigen {
                rel_cutoff: num(1e-10)?,
            },
            "qr" => GramSolver::Qr,
            "lsqr" => GramSolver::Lsqr {
                damp: num(0.0)?,
                max_iter: 200,
                tol: 1e-10,
            },
            "block" | "block-diagonal" => GramSolver::BlockDiagonal {
                rel_shift: num(1e-12)?,
            },
            other => {
                return Err(Error::param(
                    "solver",
                    format!(
                        "unknown Gram solver '{other}'; choose cholesky, eigen, qr, lsqr or block"
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
    Eigen { w: Array2<f64>, inv: Array1<f64> },
    Qr { q: Array2<f64>, r: Array2<f64> },
    Lsqr(LsqrParams),
    Blocks(Vec<Cholesky>),
}

/// A factored Gram system at one iterate; see the module docs.
pub struct GramSystem<'a> {
    ts: &'a TangentSpace,
    si: &'a SampleInterfaces,
    feats: Vec<ArrayView2<'a, f64>>,
    /// Row weights `h_i / N` (`None`: `1/N`).
    row_weights: Option<Array1<f64>>,
    n: f64,
    factor: Factor,
    par: Par,
}

/// Memory budget for the per-group Gram accumulators.
const GROUP_BYTES: usize = 512 << 20;

impl<'a> GramSystem<'a> {
    /// Assemble and factor. `h` are the row weights (`None` for all ones).
    pub fn new(
        ts: &'a TangentSpace,
        si: &'a SampleInterfaces,
        feats: &[ArrayView2<'a, f64>],
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        par: Par,
    ) -> Result<Self> {
        solver.validate()?;
        let n_samples = si.n_samples();
        let n = n_samples as f64;
        let row_weights = h.map(|h| h.mapv(|v| v.max(0.0) / n));
        let dim = ts.dim();
        let factor = match solver {
            GramSolver::Cholesky { rel_shift } => {
                let g = assemble_gram(ts, si, feats, row_weights.as_ref(), n, par)?;
                let shift = shift_of(&g, rel_shift);
                Factor::Cholesky(Cholesky::new(g.view(), shift).map_err(|e| {
                    Error::param("gram solver", format!("{e}; the empirical Gram matrix is singular (too few samples for the rank?): use a larger rel_shift or the eigen solver"))
                })?)
            }
            GramSolver::Eigen { rel_cutoff } => {
                let g = assemble_gram(ts, si, feats, row_weights.as_ref(), n, par)?;
                let (lam, w) = linalg::eigh(g.view())?;
                let lmax = lam.iter().cloned().fold(0.0f64, f64::max);
                let inv = lam.mapv(|l| {
                    if l > rel_cutoff * lmax && l > 0.0 {
                        1.0 / l
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
                let mut j = ts.jacobian(si, feats, par)?;
                scale_rows(&mut j, row_weights.as_ref(), n);
                let (q, r) = linalg::qr_thin(j.view())?;
                Factor::Qr { q, r }
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
                let blocks = assemble_blocks(ts, si, feats, row_weights.as_ref(), n, par)?;
                let facs = blocks
                    .iter()
                    .map(|b| Cholesky::new(b.view(), shift_of(b, rel_shift)))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::param(
                            "gram solver",
                            format!("{e} in a diagonal block; raise rel_shift"),
                        )
                    })?;
                Factor::Blocks(facs)
            }
        };
        Ok(GramSystem {
            ts,
            si,
            feats: feats.to_vec(),
            row_weights,
            n,
            factor,
            par,
        })
    }

    /// `c = argmin sum_i h_i (J_i c - t_i)^2` (with the solver's regularization).
    pub fn solve_target(&self, t: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        if t.len() != self.si.n_samples() {
            return Err(Error::param(
                "gram target",
                format!("{} values for {} samples", t.len(), self.si.n_samples()),
            ));
        }
        // weighted target H t / N
        let wt = match &self.row_weights {
            Some(w) => &t * w,
            None => t.mapv(|v| v / self.n),
        };
        let c = match &self.factor {
            Factor::Cholesky(ch) => ch.solve_vec(&self.rhs(wt.view())?)?,
            Factor::Eigen { w, inv } => {
                let rhs = self.rhs(wt.view())?;
                let z = w.t().dot(&rhs) * inv;
                w.dot(&z)
            }
            Factor::Qr { q, r } => {
                // b = sqrt(h/N) t ; c = R^{-1} Q^T b
                let b = match &self.row_weights {
                    Some(w) => &t * &w.mapv(f64::sqrt),
                    None => t.mapv(|v| v / self.n.sqrt()),
                };
                back_substitute(r, &q.t().dot(&b))?
            }
            Factor::Lsqr(p) => {
                let sqrt_w = match &self.row_weights {
                    Some(w) => w.mapv(f64::sqrt),
                    None => Array1::from_elem(t.len(), 1.0 / self.n.sqrt()),
                };
                let b = &t * &sqrt_w;
                let av = |c: &Array1<f64>| -> Result<Array1<f64>> {
                    Ok(self.ts.jvp(self.si, &self.feats, c.view(), self.par)? * &sqrt_w)
                };
                let atv = |u: &Array1<f64>| -> Result<Array1<f64>> {
                    let wu = u * &sqrt_w;
                    Ok(self.ts.vjp(self.si, &self.feats, wu.view(), self.par)?)
                };
                lsqr(av, atv, &b, self.ts.dim(), p)?
            }
            Factor::Blocks(facs) => {
                let rhs = self.rhs(wt.view())?;
                let off = self.ts.block_offsets();
                let mut c = Array1::zeros(self.ts.dim());
                for (k, f) in facs.iter().enumerate() {
                    let seg = rhs.slice(s![off[k]..off[k + 1]]).to_owned();
                    if seg.is_empty() {
                        continue;
                    }
                    c.slice_mut(s![off[k]..off[k + 1]])
                        .assign(&f.solve_vec(&seg)?);
                }
                c
            }
        };
        if c.iter().any(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                iteration: 0,
                message: "the natural-gradient solve produced non-finite values; use a Tikhonov shift or the eigen solver".into(),
            });
        }
        Ok(c)
    }

    fn rhs(&self, wt: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        Ok(self.ts.vjp(self.si, &self.feats, wt, self.par)?)
    }
}

fn shift_of(g: &Array2<f64>, rel: f64) -> f64 {
    let d = g.nrows().max(1) as f64;
    rel * g.diag().sum() / d
}

fn scale_rows(j: &mut Array2<f64>, w: Option<&Array1<f64>>, n: f64) {
    match w {
        Some(w) => {
            for (mut row, &wi) in j.axis_iter_mut(Axis(0)).zip(w.iter()) {
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

/// Number of accumulator groups: depends on the sizes only (reproducibility), bounded by
/// memory.
fn n_groups(n_chunks: usize, dim: usize) -> usize {
    let per = dim * dim * 8;
    let by_mem = (GROUP_BYTES / per.max(1)).max(1);
    n_chunks.min(8).min(by_mem).max(1)
}

/// Run `f(chunk rows, weighted rows, group accumulator)` over sample chunks split into
/// groups, and sum the group accumulators in order.
fn accumulate<F>(
    n_samples: usize,
    dim_acc: usize,
    n_acc: usize,
    par: Par,
    f: F,
) -> Result<Vec<Array2<f64>>>
where
    F: Fn(std::ops::Range<usize>, &mut [Array2<f64>]) -> Result<()> + Sync + Send,
{
    let n_chunks = n_samples.div_ceil(CHUNK);
    let groups = n_groups(n_chunks, dim_acc);
    let per_group = n_chunks.div_ceil(groups);
    let run = |gi: usize| -> Result<Vec<Array2<f64>>> {
        let mut acc = vec![Array2::zeros((0, 0)); n_acc];
        let first = gi * per_group;
        let last = ((gi + 1) * per_group).min(n_chunks);
        for c in first..last {
            let rows = c * CHUNK..((c + 1) * CHUNK).min(n_samples);
            f(rows, &mut acc)?;
        }
        Ok(acc)
    };
    let parts: Vec<Vec<Array2<f64>>> = match par {
        Par::Seq => (0..groups).map(run).collect::<Result<_>>()?,
        Par::Rayon(_) => (0..groups)
            .into_par_iter()
            .map(run)
            .collect::<Result<_>>()?,
    };
    let mut total: Vec<Array2<f64>> = vec![Array2::zeros((0, 0)); n_acc];
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            if p.is_empty() {
                continue;
            }
            if t.is_empty() {
                *t = p;
            } else {
                *t += &p;
            }
        }
    }
    Ok(total)
}

/// `G = J^T diag(w) J` (row weights `w = h/N`, or `1/N`), chunked, GEMM per chunk.
pub fn assemble_gram(
    ts: &TangentSpace,
    si: &SampleInterfaces,
    feats: &[ArrayView2<'_, f64>],
    w: Option<&Array1<f64>>,
    n: f64,
    par: Par,
) -> Result<Array2<f64>> {
    let dim = ts.dim();
    let n_samples = si.n_samples();
    let total = accumulate(n_samples, dim, 1, par, |rows, acc| {
        let mut jc = Array2::zeros((rows.len(), dim));
        ts.jacobian_rows(si, feats, rows.clone(), jc.view_mut())?;
        let wj = weighted(&jc, w, rows, n);
        if acc[0].is_empty() {
            acc[0] = Array2::zeros((dim, dim));
        }
        linalg::gemm(1.0, jc.t(), wj.view(), 1.0, acc[0].view_mut(), Par::Seq)?;
        Ok(())
    })?;
    Ok(total
        .into_iter()
        .next()
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| Array2::zeros((dim, dim))))
}

/// Diagonal blocks `G_kk = J^(k)T diag(w) J^(k)`.
pub fn assemble_blocks(
    ts: &TangentSpace,
    si: &SampleInterfaces,
    feats: &[ArrayView2<'_, f64>],
    w: Option<&Array1<f64>>,
    n: f64,
    par: Par,
) -> Result<Vec<Array2<f64>>> {
    let dim = ts.dim();
    let off = ts.block_offsets().to_vec();
    let d = ts.order();
    let max_block = ts.block_dims().iter().cloned().max().unwrap_or(0);
    let total = accumulate(si.n_samples(), max_block, d, par, |rows, acc| {
        let mut jc = Array2::zeros((rows.len(), dim));
        ts.jacobian_rows(si, feats, rows.clone(), jc.view_mut())?;
        let wj = weighted(&jc, w, rows, n);
        for k in 0..d {
            let dk = off[k + 1] - off[k];
            if acc[k].is_empty() {
                acc[k] = Array2::zeros((dk, dk));
            }
            let a = jc.slice(s![.., off[k]..off[k + 1]]);
            let b = wj.slice(s![.., off[k]..off[k + 1]]);
            linalg::gemm(1.0, a.t(), b, 1.0, acc[k].view_mut(), Par::Seq)?;
        }
        Ok(())
    })?;
    Ok(total
        .into_iter()
        .enumerate()
        .map(|(k, b)| {
            if b.is_empty() {
                Array2::zeros((off[k + 1] - off[k], off[k + 1] - off[k]))
            } else {
                b
            }
        })
        .collect())
}

fn weighted(
    jc: &Array2<f64>,
    w: Option<&Array1<f64>>,
    rows: std::ops::Range<usize>,
    n: f64,
) -> Array2<f64> {
    let mut wj = jc.clone();
    match w {
        Some(w) => {
            for (mut row, &wi) in wj.axis_iter_mut(Axis(0)).zip(w.slice(s![rows]).iter()) {
                row.mapv_inplace(|v| v * wi);
            }
        }
        None => wj.mapv_inplace(|v| v / n),
    }
    wj
}

/// Solve `R c = b` for upper-triangular `R` (`D x D`).
fn back_substitute(r: &Array2<f64>, b: &Array1<f64>) -> Result<Array1<f64>> {
    let dim = r.nrows();
    let mut c = b.clone();
    let rmax = r.diag().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in (0..dim).rev() {
        let mut acc = c[i];
        for j in i + 1..dim {
            acc -= r[[i, j]] * c[j];
        }
        let piv = r[[i, i]];
        if piv.abs() <= 1e-14 * rmax {
            return Err(Error::param(
                "gram solver",
                "QR found the Jacobian rank-deficient (too few or repeated samples for this rank); use the eigen or cholesky solver",
            ));
        }
        c[i] = acc / piv;
    }
    Ok(c)
}
