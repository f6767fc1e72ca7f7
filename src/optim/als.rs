//! Alternating least squares (ALS) with a moving orthogonality centre (MATH.md §7.1).
//!
//! One [`Optimizer::step`] of [`Als`] is **one full sweep**: a left-to-right half sweep that
//! solves cores `1..d` and moves the orthogonality centre to the right after each solve, then a
//! right-to-left half sweep that moves it back and solves cores `d-1..1` (`2d - 1` local solves;
//! core `d` is not solved twice in a row). The returned TT is right-orthogonal (centre at core
//! 1).
//!
//! **Local problem.** With the centre at core `k`, the cores left of `k` are left-orthogonal and
//! those right of `k` right-orthogonal, so the model is linear in the free core `g = vec G_k`:
//! `v(x^i) = B_i g` with the row `B_i = ell_{k-1}(x^i) (x) phi_k(x_k^i) (x) rho_{k+1}(x^i)`
//! (`B = L_{k-1} (.) Phi_k (.) R_{k+1}`, `N x r_{k-1} n_k r_k`, row-major Kronecker order =
//! core storage order). Because the interfaces come from orthogonal cores and the features
//! are orthonormal, the population Gram matrix `E[B_i B_i^T]` is the identity: the local problem
//! is as well conditioned as the sampling allows, and an absolute Tikhonov parameter is
//! meaningful. The step solves
//!
//! `min_g sum_i h_i (B_i g - z_i)^2 + W lambda ||g||^2`,  `W = sum_i h_i`,
//!
//! by the normal equations `(B^T H B / W + lambda I) g = B^T H z / W` (assembled by chunked
//! GEMMs over rows, never storing `B`; Cholesky with the shift `lambda`; eigen pseudo-inverse if
//! Cholesky fails). For least squares with sample weights `w_i`, `h_i = w_i` and `z_i = y_i`:
//! exact weighted ALS. For a general pointwise loss the same formula with
//! `h_i = l''_i` (clipped at `1e-12`) and the working response `z_i = v_i - l'_i / h_i` is one
//! Gauss–Newton (Fisher-scoring / IRLS) step on the core; ALS is only *defined* for least
//! squares, and for other losses the sweep is not guaranteed to decrease the loss.
//!
//! **Cost of a sweep.** `O(d (N n^2 r^4 + n^3 r^6))` for the normal equations (GEMM rate), plus
//! `O(N d n r^2)` for interfaces: the right interfaces are computed once per sweep, and after
//! each solve only the interface of the finished core is updated.

use super::{Optimizer, StepContext, StepReport};
use crate::error::{Error, Result};
use crate::samples::SampleSet;
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2};
use std::ops::Range;
use tensor_train::gauge::{left_multiply, left_unfolding, right_multiply, right_unfolding};
use tensor_train::interfaces::{self, left_step_into, right_step_into};
use tensor_train::linalg::{self, Cholesky, Par};
use tensor_train::reduce;
use tensor_train::{Gauge, TensorTrain};

/// Tolerance of the orthogonality check of the gauge an ALS sweep hands on (thin-QR factors
/// are orthonormal to a few units of round-off times the unfolding size).
const GAUGE_TOL: f64 = 1e-10;

/// Rows per chunk of the sample kernels of this module (scratch of `ROW_CHUNK x m` doubles).
pub(crate) const ROW_CHUNK: usize = 256;

/// Floor of the Gauss–Newton weights `h_i = l''_i` (MATH.md §8).
const WEIGHT_FLOOR: f64 = 1e-12;

/// Eigenvalues below this fraction of the largest are dropped by the pseudo-inverse fallback.
const EIGEN_CUTOFF: f64 = 1e-12;

/// Configuration of [`Als`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AlsConfig {
    /// Tikhonov parameter `lambda >= 0` of every local problem, **absolute** on the normalized
    /// local Gram matrix `B^T H B / W`, whose population value is the identity (orthonormal
    /// features and orthogonal interfaces). Default `1e-10`: it biases a well-sampled local
    /// solution by a relative `1e-10` only (far below the accuracies of interest, `1e-8` in the
    /// recovery tests), yet keeps the Cholesky factorization defined when a local problem is
    /// rank deficient (`N < r_{k-1} n_k r_k`, or features that vanish on all samples). Raise it
    /// (`1e-6..1e-2`) as a regularizer when there are few samples per parameter.
    pub regularization: f64,
    /// Degree-dependent (Sobolev-type) penalty `mu >= 0` (default 0): every local problem adds
    /// `mu sum_{a,j,b} j (j + 1) G_k[a, j, b]^2`. With orthonormal interfaces this is
    /// `mu sum_j j (j + 1) ||f_j||^2`, the weight of the Legendre operator
    /// `-(d/dt)(1 - t^2)(d/dt)` on the `j`-th function (eigenvalue `j (j + 1)`): a penalty on
    /// the derivatives of the model in variable `k` that leaves constants and the lowest
    /// degrees almost free. Chosen by validation in the adaptive learner.
    pub sobolev: f64,
}

impl Default for AlsConfig {
    fn default() -> Self {
        AlsConfig {
            regularization: 1e-10,
            sobolev: 0.0,
        }
    }
}

/// Alternating least squares, one full left-right sweep per step (see the module docs).
#[derive(Debug, Clone)]
pub struct Als {
    config: AlsConfig,
}

impl Als {
    /// Validate the configuration: `regularization` finite and `>= 0`.
    pub fn new(config: AlsConfig) -> Result<Self> {
        if !(config.sobolev.is_finite() && config.sobolev >= 0.0) {
            return Err(Error::param(
                "als sobolev penalty",
                format!("must be finite and >= 0, got {}", config.sobolev),
            ));
        }
        if !(config.regularization.is_finite() && config.regularization >= 0.0) {
            return Err(Error::param(
                "als regularization",
                format!("must be finite and >= 0, got {}", config.regularization),
            ));
        }
        Ok(Als { config })
    }

    /// The configuration.
    pub fn config(&self) -> &AlsConfig {
        &self.config
    }
}

impl Optimizer for Als {
    fn name(&self) -> String {
        "als".into()
    }

    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        let feats = data.feature_views();
        interfaces::check_features(x, &feats)?;
        tensor_train::check_ranks(&x.mode_sizes(), &x.internal_ranks())?;
        let par = ctx.par;
        let d = x.order();
        let n_samples = data.len();
        let tt = x.to_right_orthogonal()?;
        // right[k]: rows rho_k^T (cores k..d-1), right[d] = ones; computed once per sweep
        let mut right = interfaces::right_interfaces(&tt, &feats, par)?;
        let mut cores = tt.into_cores();
        let ranks: Vec<usize> = cores
            .iter()
            .map(|c| c.shape()[0])
            .chain(std::iter::once(1))
            .collect();
        // left[k]: rows ell_k (cores 0..k-1); only left[0] is valid before the sweep
        let mut left: Vec<Array2<f64>> = ranks
            .iter()
            .map(|&r| Array2::zeros((n_samples, r)))
            .collect();
        left[0].fill(1.0);
        // predictions of the current iterate, kept up to date after every solve at O(N r^2)
        let mut pred: Array1<f64> = right[0].column(0).to_owned();
        let lambda = (self.config.regularization, self.config.sobolev);
        let mut notes: Vec<String> = Vec::new();

        // left-to-right half sweep
        for k in 0..d {
            notes.extend(solve_core(
                &mut cores,
                k,
                &left[k],
                &right[k + 1],
                &pred,
                data,
                ctx,
                lambda,
            )?);
            if k + 1 < d {
                // G_k^L = Q R, G_k <- Q, G_{k+1} <- R G_{k+1}; new ell_{k+1} from Q; the
                // predictions B g = <ell_{k+1} R, rho_{k+1}> (rho_{k+1} still of the old core k+1)
                let (q, r) = linalg::qr_thin(left_unfolding(&cores[k]))?;
                let (a, n, b) = cores[k].dim();
                cores[k] = q
                    .into_shape_with_order((a, n, b))
                    .expect("thin Q of an admissible core is (a n) x b");
                cores[k + 1] = left_multiply(&r, &cores[k + 1])?;
                left[k + 1] = left_step_all(left[k].view(), &cores[k], feats[k], par)?;
                pred = row_dots_transformed(left[k + 1].view(), &r, right[k + 1].view());
            }
        }
        if d == 1 {
            pred = left_step_all(left[0].view(), &cores[0], feats[0], par)?
                .column(0)
                .to_owned();
        }
        // right-to-left half sweep
        for k in (1..d).rev() {
            // (G_k^R)^T = Q R, G_k^R <- Q^T, G_{k-1} <- G_{k-1} R^T; new rho_k from Q^T; the
            // predictions of the last solved core k are <ell_k, rho_k(Q^T) R>
            let (a, n, b) = cores[k].dim();
            let (q, r) = linalg::qr_thin(right_unfolding(&cores[k]).t())?;
            cores[k] = q
                .t()
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order((a, n, b))
                .expect("thin Q of an admissible core is (n b) x a");
            cores[k - 1] = right_multiply(&cores[k - 1], &r.t().to_owned())?;
            right[k] = right_step_all(&cores[k], feats[k], right[k + 1].view(), par)?;
            pred = row_dots_transformed(right[k].view(), &r, left[k].view());
            notes.extend(solve_core(
                &mut cores,
                k - 1,
                &left[k - 1],
                &right[k],
                &pred,
                data,
                ctx,
                lambda,
            )?);
        }
        // predictions of the final iterate: rho_0 with the new first core
        if d > 1 {
            pred = right_step_all(&cores[0], feats[0], right[1].view(), par)?
                .column(0)
                .to_owned();
        }
        let loss = ctx.loss.value(pred.view(), data.targets(), data.weights());
        super::check_finite(loss, "ALS training loss")?;
        // the right-to-left half sweep leaves cores 1..d right-orthogonal: keep that gauge, so
        // the next sweep (and any tangent space built at this point) skips the QR sweep
        let next = if d > 1 {
            TensorTrain::from_cores_with_gauge(cores, Gauge::Mixed { center: 0 }, GAUGE_TOL)?
        } else {
            TensorTrain::from_cores(cores)?
        };
        let note = if notes.is_empty() {
            None
        } else {
            Some(notes.join("; "))
        };
        Ok((
            next,
            StepReport {
                loss: Some(loss),
                step_size: 1.0,
                restarted: false,
                trials: 0,
                note,
            },
        ))
    }
}

/// Solve the local problem of core `k` (the free core) in place, given the current predictions
/// `v`; returns a note when the Cholesky factorization failed and the pseudo-inverse was used.
#[allow(clippy::too_many_arguments)]
fn solve_core(
    cores: &mut [Array3<f64>],
    k: usize,
    left: &Array2<f64>,
    right: &Array2<f64>,
    v: &Array1<f64>,
    data: &SampleSet,
    ctx: &StepContext<'_>,
    (lambda, sobolev): (f64, f64),
) -> Result<Option<String>> {
    let par = ctx.par;
    let phi = data.feature_views()[k];
    let (a, n, b) = cores[k].dim();
    // v = B g_old, the current predictions (the working response of a general loss)
    let y = data.targets();
    let w = data.weights();
    let d1 = ctx.loss.first_derivative(v.view(), y, w);
    let d2 = ctx.loss.second_derivative(v.view(), y, w);
    let h = d2.mapv(|x| {
        if x.is_finite() {
            x.max(WEIGHT_FLOOR)
        } else {
            f64::NAN
        }
    });
    let z = ndarray::Zip::from(v)
        .and(&d1)
        .and(&h)
        .map_collect(|&vi, &gi, &hi| vi - gi / hi);
    if h.iter().chain(z.iter()).any(|x| !x.is_finite()) {
        return Err(Error::Diverged {
            iteration: 0,
            message: format!(
                "non-finite loss derivatives at the ALS solve of core {}",
                k + 1
            ),
        });
    }
    let (g, note) = local_least_squares_penalized(
        left.view(),
        phi,
        right.view(),
        h.view(),
        z.view(),
        (lambda, sobolev),
        par,
    )?;
    if g.iter().any(|x| !x.is_finite()) {
        return Err(Error::Diverged {
            iteration: 0,
            message: format!(
                "the ALS solve of core {} produced non-finite values; raise the regularization",
                k + 1
            ),
        });
    }
    cores[k] = g
        .into_shape_with_order((a, n, b))
        .expect("solution has the core's size");
    Ok(note.map(|s| format!("core {}: {s}", k + 1)))
}

/// `argmin_g sum_i h_i (B_i g - z_i)^2 + W lambda ||g||^2` with `B = L (.) Phi (.) R`
/// (`W = sum h_i`), by chunked assembly of the normal equations and Cholesky with the shift
/// `lambda`; falls back to an eigen pseudo-inverse (note returned) if Cholesky fails.
#[cfg(test)]
pub(crate) fn local_least_squares(
    left: ArrayView2<'_, f64>,
    phi: ArrayView2<'_, f64>,
    right: ArrayView2<'_, f64>,
    h: ArrayView1<'_, f64>,
    z: ArrayView1<'_, f64>,
    lambda: f64,
    par: Par,
) -> Result<(Array1<f64>, Option<String>)> {
    local_least_squares_penalized(left, phi, right, h, z, (lambda, 0.0), par)
}

/// [`local_least_squares`] with the Sobolev-type penalty `sobolev sum j (j + 1) g_{a j b}^2`
/// added to the normal equations (see [`AlsConfig::sobolev`]).
pub(crate) fn local_least_squares_penalized(
    left: ArrayView2<'_, f64>,
    phi: ArrayView2<'_, f64>,
    right: ArrayView2<'_, f64>,
    h: ArrayView1<'_, f64>,
    z: ArrayView1<'_, f64>,
    (lambda, sobolev): (f64, f64),
    par: Par,
) -> Result<(Array1<f64>, Option<String>)> {
    let n_samples = left.nrows();
    let m = left.ncols() * phi.ncols() * right.ncols();
    // one GEMM per chunk: B^T [B | sqrt(h) z] gives the Gram matrix and the right-hand side
    type Acc = (Array2<f64>, Vec<f64>);
    let (acc, _) = chunked_reduce(
        n_samples,
        par,
        || -> Acc { (Array2::zeros((m, m + 1)), Vec::new()) },
        |acc: &mut Acc, rows: Range<usize>| {
            let len = rows.len();
            acc.1.resize(len * (m + 1), 0.0);
            let sqrt_h: Array1<f64> = h.slice(s![rows.clone()]).mapv(f64::sqrt);
            let mut baug = ArrayViewMut2::from_shape((len, m + 1), &mut acc.1[..len * (m + 1)])
                .expect("scratch sized above");
            face_split3_into(
                left.slice(s![rows.clone(), ..]),
                phi.slice(s![rows.clone(), ..]),
                right.slice(s![rows.clone(), ..]),
                Some(sqrt_h.view()),
                baug.slice_mut(s![.., ..m]),
            );
            let zr = z.slice(s![rows]);
            for ((o, &sh), &zi) in baug
                .column_mut(m)
                .iter_mut()
                .zip(sqrt_h.iter())
                .zip(zr.iter())
            {
                *o = sh * zi;
            }
            linalg::gemm(
                1.0,
                baug.slice(s![.., ..m]).t(),
                baug.view(),
                1.0,
                acc.0.view_mut(),
                Par::Seq,
            )?;
            Ok(())
        },
        |acc: &mut Acc, other: Acc| {
            acc.0 += &other.0;
        },
    )?;
    let mut gram = acc.slice(s![.., ..m]).to_owned();
    let mut rhs = acc.column(m).to_owned();
    let wsum: f64 = h.sum();
    if !(wsum > 0.0 && wsum.is_finite()) {
        return Err(Error::data(
            "samples",
            "the sample weights sum to zero: nothing to fit",
        ));
    }
    gram /= wsum;
    rhs /= wsum;
    if sobolev > 0.0 {
        // index (a n + j) b + beta of the row-major core: the feature index is (i / b) % n
        let (n, b) = (phi.ncols(), right.ncols());
        for i in 0..m {
            let j = ((i / b) % n) as f64;
            gram[[i, i]] += sobolev * j * (j + 1.0);
        }
    }
    solve_spd(gram, rhs, lambda)
}

/// Solve `(A + lambda I) x = b` for a symmetric positive semi-definite `A`: Cholesky with the
/// shift, or, if that fails, the eigen pseudo-inverse (eigenvalues below `1e-12 max` dropped).
pub(crate) fn solve_spd(
    a: Array2<f64>,
    b: Array1<f64>,
    lambda: f64,
) -> Result<(Array1<f64>, Option<String>)> {
    if a.iter().chain(b.iter()).any(|x| !x.is_finite()) {
        return Err(Error::Diverged {
            iteration: 0,
            message: "non-finite normal equations".into(),
        });
    }
    match Cholesky::new(a.view(), lambda) {
        Ok(ch) => Ok((ch.solve_vec(&b)?, None)),
        Err(linalg::LinalgError::NotPositiveDefinite { .. }) => {
            let (lam, vecs) = linalg::eigh(a.view())?;
            let lmax = lam.iter().cloned().fold(0.0f64, f64::max);
            let proj = vecs.t().dot(&b);
            let mut coef = Array1::zeros(lam.len());
            for (j, (&l, &p)) in lam.iter().zip(proj.iter()).enumerate() {
                if l > EIGEN_CUTOFF * lmax {
                    coef[j] = p / (l + lambda);
                }
            }
            Ok((
                vecs.dot(&coef),
                Some("Cholesky failed, used the eigen pseudo-inverse".into()),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Row-wise Kronecker product of three matrices into `out` (`rows x (a n b)`), row `i` scaled
/// by `scale[i]` if given: `out[i, (alpha n + j) b + beta] = s_i L[i, alpha] Phi[i, j] R[i, beta]`.
pub(crate) fn face_split3_into(
    l: ArrayView2<'_, f64>,
    phi: ArrayView2<'_, f64>,
    r: ArrayView2<'_, f64>,
    scale: Option<ArrayView1<'_, f64>>,
    mut out: ArrayViewMut2<'_, f64>,
) {
    let (rows, ra) = l.dim();
    let n = phi.ncols();
    let rb = r.ncols();
    let mut lp = vec![0.0; ra * n];
    let mut rrow = vec![0.0; rb];
    for i in 0..rows {
        let si = scale.map_or(1.0, |s| s[i]);
        let prow = phi.row(i);
        for (la, chunk) in l.row(i).iter().zip(lp.chunks_exact_mut(n)) {
            let la = si * la;
            for (dst, &p) in chunk.iter_mut().zip(prow.iter()) {
                *dst = la * p;
            }
        }
        for (dst, &v) in rrow.iter_mut().zip(r.row(i).iter()) {
            *dst = v;
        }
        let mut orow = out.row_mut(i);
        let o = orow.as_slice_mut().expect("output rows are contiguous");
        match rb {
            1 => outer_fixed::<1>(o, &lp, &rrow),
            2 => outer_fixed::<2>(o, &lp, &rrow),
            3 => outer_fixed::<3>(o, &lp, &rrow),
            4 => outer_fixed::<4>(o, &lp, &rrow),
            5 => outer_fixed::<5>(o, &lp, &rrow),
            6 => outer_fixed::<6>(o, &lp, &rrow),
            8 => outer_fixed::<8>(o, &lp, &rrow),
            _ => {
                for (oj, &p) in o.chunks_exact_mut(rb).zip(lp.iter()) {
                    for (ov, &rv) in oj.iter_mut().zip(rrow.iter()) {
                        *ov = p * rv;
                    }
                }
            }
        }
    }
}

/// `o[idx * RB + b] = lp[idx] r[b]` with a compile-time inner length (small right ranks).
#[inline(always)]
fn outer_fixed<const RB: usize>(o: &mut [f64], lp: &[f64], r: &[f64]) {
    let mut rr = [0.0; RB];
    rr.copy_from_slice(&r[..RB]);
    for (oj, &p) in o.chunks_exact_mut(RB).zip(lp.iter()) {
        for b in 0..RB {
            oj[b] = p * rr[b];
        }
    }
}

/// Deterministic chunked reduction over the rows `0..n_rows` in chunks of [`ROW_CHUNK`] rows,
/// through the workspace's one sample reduction ([`tensor_train::reduce::fold_chunks`]): the
/// chunking and the summation order depend on `n_rows` only, so the result is the same bits for
/// any thread count.
pub(crate) fn chunked_reduce<T: Send>(
    n_rows: usize,
    par: Par,
    init: impl Fn() -> T + Sync,
    body: impl Fn(&mut T, Range<usize>) -> Result<()> + Sync,
    merge: impl Fn(&mut T, T) + Sync,
) -> Result<T> {
    let plan = reduce::Plan::new(n_rows, ROW_CHUNK, reduce::MAX_LEAVES);
    reduce::fold_chunks(n_rows, plan, par, init, body, merge)
}

/// Left interface step for all rows: `out[i, :] = ell(x^i) A(x^i)` (`N x r_k`).
pub(crate) fn left_step_all(
    l_prev: ArrayView2<'_, f64>,
    core: &Array3<f64>,
    phi: ArrayView2<'_, f64>,
    par: Par,
) -> Result<Array2<f64>> {
    let mut out = Array2::zeros((l_prev.nrows(), core.shape()[2]));
    reduce::for_row_chunks(out.view_mut(), ROW_CHUNK, par, |rows, o| -> Result<()> {
        let mut work = Vec::new();
        left_step_into(
            l_prev.slice(s![rows.clone(), ..]),
            core,
            phi.slice(s![rows, ..]),
            o,
            &mut work,
        )?;
        Ok(())
    })?;
    Ok(out)
}

/// Right interface step for all rows: `out[i, :] = (A(x^i) rho(x^i))^T` (`N x r_{k-1}`).
pub(crate) fn right_step_all(
    core: &Array3<f64>,
    phi: ArrayView2<'_, f64>,
    r_next: ArrayView2<'_, f64>,
    par: Par,
) -> Result<Array2<f64>> {
    let mut out = Array2::zeros((r_next.nrows(), core.shape()[0]));
    reduce::for_row_chunks(out.view_mut(), ROW_CHUNK, par, |rows, o| -> Result<()> {
        let mut work = Vec::new();
        right_step_into(
            core,
            phi.slice(s![rows.clone(), ..]),
            r_next.slice(s![rows, ..]),
            o,
            &mut work,
        )?;
        Ok(())
    })?;
    Ok(out)
}

/// Row-wise dot products `out[i] = <a[i, :], b[i, :]>`.
pub(crate) fn row_dots(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array1<f64> {
    let c = a.ncols();
    let mut out = Array1::zeros(a.nrows());
    match (a.as_slice(), b.as_slice()) {
        (Some(sa), Some(sb)) if c > 0 => {
            for ((o, ra), rb) in out
                .iter_mut()
                .zip(sa.chunks_exact(c))
                .zip(sb.chunks_exact(c))
            {
                *o = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
            }
        }
        _ => {
            for (o, (ra, rb)) in out.iter_mut().zip(a.rows().into_iter().zip(b.rows())) {
                *o = ra.iter().zip(rb.iter()).map(|(x, y)| x * y).sum();
            }
        }
    }
    out
}

/// `out[i] = <(a M)[i, :], b[i, :]>` for a small square `M` (`r x r`), `O(N r^2)`.
fn row_dots_transformed(
    a: ArrayView2<'_, f64>,
    m: &Array2<f64>,
    b: ArrayView2<'_, f64>,
) -> Array1<f64> {
    let am = a.dot(m);
    row_dots(am.view(), b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    /// The chunked normal equations give the dense weighted least-squares solution, sequential
    /// and parallel alike (the rows span several chunks).
    #[test]
    fn local_solve_matches_dense_least_squares() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let (n, ra, nf, rb) = (3 * ROW_CHUNK + 17, 2usize, 3usize, 2usize);
        let mut draw = |r: usize, c: usize| -> Array2<f64> {
            Array2::from_shape_simple_fn((r, c), || StandardNormal.sample(&mut rng))
        };
        let (l, phi, r) = (draw(n, ra), draw(n, nf), draw(n, rb));
        let z = draw(n, 1).column(0).to_owned();
        let h = draw(n, 1).column(0).mapv(|v: f64| 0.1 + v.abs());
        let m = ra * nf * rb;
        let mut b = Array2::zeros((n, m));
        face_split3_into(l.view(), phi.view(), r.view(), None, b.view_mut());
        let mut bs = b.clone();
        for (mut row, &hi) in bs.rows_mut().into_iter().zip(h.iter()) {
            row.mapv_inplace(|v| v * hi.sqrt());
        }
        let zs = &z * &h.mapv(f64::sqrt);
        let dense = linalg::lstsq(bs.view(), zs.view().insert_axis(Axis(1))).unwrap();
        for par in [Par::Seq, Par::Rayon(3)] {
            let (g, note) =
                local_least_squares(l.view(), phi.view(), r.view(), h.view(), z.view(), 0.0, par)
                    .unwrap();
            assert!(note.is_none());
            let err = (&g - &dense.column(0))
                .mapv(f64::abs)
                .fold(0.0f64, |a, &v| a.max(v));
            assert!(err < 1e-10, "{par:?}: max deviation {err:e}");
        }
    }

    /// A rank-deficient local problem (a feature that is zero on every sample) is solved by the
    /// ridge; with no ridge the eigen fallback gives the minimum-norm solution.
    #[test]
    fn rank_deficient_local_problem() {
        let n = 40;
        let l = Array2::ones((n, 1));
        let phi =
            Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { (i as f64).sin() } else { 0.0 });
        let r = Array2::ones((n, 1));
        let z = phi.column(0).mapv(|v| 2.0 * v);
        let h = Array1::ones(n);
        let (g, _) = local_least_squares(
            l.view(),
            phi.view(),
            r.view(),
            h.view(),
            z.view(),
            1e-10,
            Par::Seq,
        )
        .unwrap();
        assert!((g[0] - 2.0).abs() < 1e-6 && g[1].abs() < 1e-12, "{g}");
        let (g, _) = local_least_squares(
            l.view(),
            phi.view(),
            r.view(),
            h.view(),
            z.view(),
            0.0,
            Par::Seq,
        )
        .unwrap();
        assert!((g[0] - 2.0).abs() < 1e-10 && g[1] == 0.0, "{g}");
    }
}
