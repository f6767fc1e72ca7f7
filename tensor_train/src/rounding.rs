//! TT-SVD and TT rounding (MATH.md §4).
//!
//! Rounding right-orthogonalizes, then sweeps left to right with truncated SVDs of the left
//! unfoldings. With `eps_k` the error of the best rank-`r_k` approximation of unfolding `k`,
//! the result `H_r(Y)` satisfies (Oseledets 2011)
//! `max_k eps_k <= ||Y - H_r(Y)||_F <= sqrt(sum_k eps_k^2)`,
//! and for a relative tolerance `eps` each bond is cut at `eps ||Y|| / sqrt(d-1)`, so
//! `||Y - H(Y)|| <= eps ||Y||`.

use crate::error::{Result, TtError};
use crate::gauge::{left_multiply, left_unfolding, Gauge};
use crate::linalg;
use crate::tt::TensorTrain;
use ndarray::{s, Array1, Array2, ArrayViewD};

/// How far to truncate: rank caps and/or a relative Frobenius tolerance. Both may be given;
/// the smaller rank wins at each bond.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Truncation {
    /// Cap on every internal rank.
    pub max_rank: Option<usize>,
    /// Caps per bond `r_1..r_{d-1}` (`d - 1` entries).
    pub bond_ranks: Option<Vec<usize>>,
    /// Relative Frobenius tolerance `eps`: `||Y - H(Y)|| <= eps ||Y||` (0 = exact rank
    /// reduction only, up to round-off).
    pub rel_tol: f64,
}

impl Truncation {
    /// Cap every rank at `r`.
    pub fn max_rank(r: usize) -> Self {
        Truncation {
            max_rank: Some(r),
            ..Default::default()
        }
    }

    /// Cap the ranks bond by bond (`d - 1` entries).
    pub fn ranks(ranks: &[usize]) -> Self {
        Truncation {
            bond_ranks: Some(ranks.to_vec()),
            ..Default::default()
        }
    }

    /// Relative tolerance only.
    pub fn relative(eps: f64) -> Self {
        Truncation {
            rel_tol: eps,
            ..Default::default()
        }
    }

    /// Add a relative tolerance to rank caps.
    pub fn with_rel_tol(mut self, eps: f64) -> Self {
        self.rel_tol = eps;
        self
    }

    fn validate(&self, d: usize) -> Result<()> {
        if !(self.rel_tol.is_finite() && self.rel_tol >= 0.0) {
            return Err(TtError::Parameter(format!(
                "relative tolerance must be finite and >= 0, got {}",
                self.rel_tol
            )));
        }
        if self.max_rank == Some(0) {
            return Err(TtError::Parameter("maximal rank must be at least 1".into()));
        }
        if let Some(b) = &self.bond_ranks {
            if b.len() + 1 != d {
                return Err(TtError::Shape(format!(
                    "{} bond ranks for order {d}; give d - 1 = {}",
                    b.len(),
                    d.saturating_sub(1)
                )));
            }
            if b.contains(&0) {
                return Err(TtError::Parameter("bond ranks must be at least 1".into()));
            }
        }
        Ok(())
    }

    fn cap(&self, bond: usize) -> Option<usize> {
        let a = self.bond_ranks.as_ref().map(|b| b[bond]);
        match (a, self.max_rank) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }
}

/// A rounded TT (left-orthogonal) with the singular values discarded at each bond.
#[derive(Debug, Clone)]
pub struct Rounded {
    /// The truncated tensor, in left-orthogonal form (centre at the last core).
    pub tt: TensorTrain,
    /// `discarded[k]`: the singular values of bond `k + 1` that were cut.
    pub discarded: Vec<Array1<f64>>,
}

impl Rounded {
    /// `sqrt(sum of all discarded squared singular values)`, the upper bound of the rounding
    /// error (equal to it for a right-orthogonal input).
    pub fn error_bound(&self) -> f64 {
        self.discarded
            .iter()
            .flat_map(|s| s.iter())
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
    }
}

impl TensorTrain {
    /// TT rounding `H(Y)`: right-orthogonalize (skipped when the gauge says it is done), then
    /// left-to-right truncated SVDs. Cost `O(d n r^3)`. The output is left-orthogonal.
    pub fn round(&self, trunc: &Truncation) -> Result<Rounded> {
        self.clone().round_owned(trunc, false)
    }

    /// [`TensorTrain::round`] consuming `self` (no copy of the cores). With `gram`, a bond whose
    /// rank is set by a cap alone (`rel_tol == 0`) is truncated through the Gram matrix of its
    /// unfolding ([`linalg::truncate_by_gram`]) when that is accurate (a wide singular gap at
    /// the cut), and by the SVD otherwise; the discarded values are then the Gram estimates,
    /// accurate only to `sqrt(u) ||Y||` absolutely.
    pub(crate) fn round_owned(self, trunc: &Truncation, gram: bool) -> Result<Rounded> {
        let d = self.order();
        trunc.validate(d)?;
        let mut t = self;
        t.right_orthogonalize()?;
        let norm = t.norm()?;
        let bond_tol = if d > 1 {
            trunc.rel_tol * norm / ((d - 1) as f64).sqrt()
        } else {
            0.0
        };
        let mut cores = t.into_cores();
        let mut discarded = Vec::with_capacity(d.saturating_sub(1));
        for k in 0..d.saturating_sub(1) {
            let (a, n, w) = cores[k].dim();
            if gram && trunc.rel_tol == 0.0 {
                if let Some(cap) = trunc.cap(k) {
                    if let Some(tr) =
                        linalg::truncate_by_gram(left_unfolding(&cores[k]), cap.min(w))?
                    {
                        let rk = tr.u.ncols();
                        discarded.push(tr.s.slice(s![rk..]).to_owned());
                        cores[k] = tr.u.into_shape_with_order((a, n, rk)).expect("C-order");
                        cores[k + 1] = left_multiply(&tr.c, &cores[k + 1])?;
                        continue;
                    }
                }
            }
            let svd = linalg::svd_thin(left_unfolding(&cores[k]))?;
            let s_all = svd.s.as_slice().expect("owned array");
            let rk = linalg::truncation_rank(s_all, trunc.cap(k), bond_tol);
            discarded.push(svd.s.slice(s![rk..]).to_owned());
            let svd = svd.truncate(rk);
            cores[k] = svd.u.into_shape_with_order((a, n, rk)).expect("C-order");
            let mut sv = svd.vt;
            for (mut row, &sig) in sv.rows_mut().into_iter().zip(svd.s.iter()) {
                row.mapv_inplace(|x| x * sig);
            }
            cores[k + 1] = left_multiply(&sv, &cores[k + 1])?;
        }
        Ok(Rounded {
            tt: TensorTrain::from_cores_in_gauge(cores, Gauge::Mixed { center: d - 1 }),
            discarded,
        })
    }

    /// TT-SVD of a dense tensor (row-major in `(i_1..i_d)`): sequential truncated SVDs of the
    /// unfoldings, each cut at `eps ||A|| / sqrt(d-1)` and at the rank caps. Left-orthogonal.
    pub fn from_dense(tensor: ArrayViewD<'_, f64>, trunc: &Truncation) -> Result<TensorTrain> {
        let sizes: Vec<usize> = tensor.shape().to_vec();
        let d = sizes.len();
        if d == 0 {
            return Err(TtError::NoCores);
        }
        if sizes.contains(&0) {
            return Err(TtError::Shape(format!(
                "dense tensor of shape {sizes:?} has an empty mode"
            )));
        }
        trunc.validate(d)?;
        if tensor.iter().any(|x| !x.is_finite()) {
            return Err(TtError::NonFinite {
                what: "dense tensor".into(),
            });
        }
        let norm = tensor.iter().map(|x| x * x).sum::<f64>().sqrt();
        let bond_tol = if d > 1 {
            trunc.rel_tol * norm / ((d - 1) as f64).sqrt()
        } else {
            0.0
        };
        let total: usize = sizes.iter().product();
        let mut rest: Array2<f64> = tensor
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((1, total))
            .expect("C-order");
        let mut cores = Vec::with_capacity(d);
        let mut r_prev = 1;
        for (k, &n) in sizes.iter().enumerate().take(d - 1) {
            let cols = rest.len() / (r_prev * n);
            let mat = rest
                .into_shape_with_order((r_prev * n, cols))
                .expect("C-order");
            let svd = linalg::svd_thin(mat.view())?;
            let rk =
                linalg::truncation_rank(svd.s.as_slice().expect("owned"), trunc.cap(k), bond_tol);
            let svd = svd.truncate(rk);
            cores.push(
                svd.u
                    .into_shape_with_order((r_prev, n, rk))
                    .expect("C-order"),
            );
            let mut sv = svd.vt;
            for (mut row, &sig) in sv.rows_mut().into_iter().zip(svd.s.iter()) {
                row.mapv_inplace(|x| x * sig);
            }
            rest = sv;
            r_prev = rk;
        }
        let last = rest
            .into_shape_with_order((r_prev, sizes[d - 1], 1))
            .expect("C-order");
        cores.push(last);
        Ok(TensorTrain::from_cores_in_gauge(
            cores,
            Gauge::Mixed { center: d - 1 },
        ))
    }
}
