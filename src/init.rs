//! Start points for the optimizers: a start that works.
//!
//! Random starts are a known trap: ALS codes started from random cores stall near relative
//! error 1 on most test functions, while the same codes started from a first-order ANOVA
//! (additive) fit reach `1e-3..1e-9` (teneva's benchmark logs, ANCHORS.md §2.2). But an
//! additive fit grown to rank `r` by *random* padded channels traps ALS as well (the padded
//! channels point in random directions in every core, and ALS moves one core at a time; see
//! [`crate::learn::enrich`]). The default start is therefore [`Start::Greedy`] (tensap's greedy
//! rank-one start): the additive fit at rank 1, then one rank at a time a rank-one correction
//! of the residual and a few ALS sweeps. [`Start::Additive`] is built as follows:
//!
//! 1. fit the additive model `y ~ sum_k f_k(x_k)`, `f_k = phi_k^T a_k`, by (weighted) ridge
//!    least squares over all blocks jointly. Constants lie in the span of every basis (for
//!    piecewise bases as a sum of cell indicators, not as one feature), so the joint design
//!    `[Phi_1 .. Phi_d]` has a `(d-1)`-dimensional null space; the small ridge
//!    `1e-8 tr(G)/m` on the normalized Gram `G` picks the minimum-norm solution and leaves the
//!    fitted values unchanged;
//! 2. obtain the coefficients `c_k` of the constant function `1` in basis `k` by least squares
//!    `Phi_k c_k ~ 1` (no `phi_0 = 1` is assumed);
//! 3. build the exact rank-2 TT of `sum_k f_k(x_k)`: cores
//!    `A_1 = [f_1, 1]`, `A_k = [[1, 0], [f_k, 1]]`, `A_d = [1; f_d]` (each entry a function
//!    of `x_k` given by its coefficients `a_k` or `c_k`), so that
//!    `(s, 1) [[1, 0], [f, 1]] = (s + f, 1)` accumulates the sum;
//! 4. truncate it by TT rounding to ranks `min(2, r_k)` (rank 1 asked: the best rank-1
//!    rounding of the additive fit), then embed it into the requested ranks, see
//!    [`PERTURBATION`].
//!
//! The returned TT is in a *balanced* gauge (left-orthogonal cores scaled by `||X||^{1/d}`,
//! the last core carrying the rest) so that gauge-blind methods ([`crate::optim::gd`]) do not
//! start from an arbitrarily unbalanced factorization. Same data, ranks, start and seed give the
//! same tensor, bit for bit, whatever the number of threads.

use crate::error::{Error, Result};
use crate::optim::als::{chunked_reduce, solve_spd};
use crate::samples::SampleSet;
use ndarray::{s, Array1, Array2, Array3};
use rand::SeedableRng;
use tensor_train::linalg::{self, Par};
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain, Truncation};

/// Relative size of the seeded perturbation that lifts the additive fit (TT ranks `<= 2`) onto
/// the manifold of the requested ranks `r`.
///
/// The start is `X0 = H_r(Y + delta ||Y|| Z / ||Z||)` with `Y` the (rounded) additive fit, `Z`
/// a seeded random TT of ranks `r` and `delta = PERTURBATION`. Plain zero-padding would leave
/// `X0` on the boundary of the fixed-rank manifold (unfoldings of rank `< r`: the tangent
/// space, the Riemannian gradient and the retraction are undefined there), so every padded
/// direction must carry a non-zero singular value. In an orthogonal gauge the padded channels
/// change the function by exactly their singular values, so one number trades the two effects:
/// `delta = 1e-3` moves the fit by about `0.1 %` of its norm (below the error of any additive
/// fit of a non-additive function). The padded singular values are *not* `delta ||Y||`: the
/// rounding keeps only part of `Z` at each bond, so they shrink with the distance from the
/// ends. Measured on Genz oscillatory (rank 4, `legendre:6`, exact bond singular values,
/// `examples/start_singular_values.rs`): smallest relative singular value `1.9e-4` at
/// `d = 10`, `3.1e-6` at `d = 50`. The manifold's curvature (`~ 1 / sigma_min`) is then large
/// while the residual is still the additive fit's, and Gauss–Newton steps from this start
/// degrade with `d` (docs/BENCHMARKS.md, "Solver table"); [`Start::Greedy`] has no such
/// channels.
pub const PERTURBATION: f64 = 1e-3;

/// Relative ridge of the additive least-squares fit (times the mean diagonal of the normalized
/// Gram matrix, which is about 1 for orthonormal features).
const ADDITIVE_RIDGE: f64 = 1e-8;

/// Number of fixed accumulation blocks of the additive fit: the sums are grouped the same way
/// whatever the number of threads, so the start is reproducible bit for bit.
const INIT_BLOCKS: usize = 8;

/// ALS sweeps after each rank increment of [`Start::Greedy`].
pub const GREEDY_SWEEPS: usize = 5;

/// How to build the start point.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// Greedy rank-one start (default): the additive fit rounded to rank 1, then, bond ranks
    /// `+1` at a time up to the requested ranks, a rank-one ALS correction of the residual
    /// added and [`GREEDY_SWEEPS`] ALS sweeps (see [`crate::learn::enrich`] for why this and
    /// not random padding). Cost: about `GREEDY_SWEEPS (1 + 2 + .. + r)` ALS sweeps of rank
    /// `<= r`, less than `GREEDY_SWEEPS r` sweeps at rank `r`.
    #[default]
    Greedy,
    /// First-order ANOVA start: the ridge least-squares additive fit as an exact
    /// rank-2 TT, rounded to the ranks if they are below 2, embedded with a small seeded
    /// perturbation (see the module docs and [`PERTURBATION`]). Its random padded channels
    /// trap ALS (borehole, rank 4, `legendre:8`, 50 sweeps: train `2.7e-4` vs `1.05e-5` from
    /// [`Start::Greedy`]; `examples/surrogate_suite.rs --starts`).
    Additive,
    /// Random cores, i.i.d. `N(0, 1/(r_{k-1} n_k))` (seeded), rescaled so that
    /// `||X0||_{L^2(mu)} = ||X0||_F = scale * RMS(y)` (weighted RMS of the targets; `scale`
    /// itself if all targets are 0). Shown for comparison: the known trap.
    Random {
        /// Norm of the start relative to the RMS of the targets (`> 0`; 1 is natural).
        scale: f64,
    },
}

/// Build the start point for `data` with internal ranks `ranks` (`d - 1` entries `r_1..r_{d-1}`).
///
/// Errors (never panics): wrong number of ranks, a zero rank, ranks that no TT with these
/// feature counts can have (the message gives the largest admissible ranks not above them,
/// from [`tensor_train::clamp_ranks`]), a non-positive random scale, or weights that sum to 0.
pub fn initial_tt(
    data: &SampleSet,
    ranks: &[usize],
    start: &Start,
    seed: u64,
) -> Result<TensorTrain> {
    let modes = data.mode_sizes();
    let d = modes.len();
    if ranks.len() + 1 != d {
        return Err(Error::param(
            "rank",
            format!(
                "{} ranks given for {d} variables; give the d - 1 = {} internal ranks r_1..r_(d-1)",
                ranks.len(),
                d - 1
            ),
        ));
    }
    if ranks.contains(&0) {
        return Err(Error::param(
            "rank",
            format!("ranks must be at least 1, got {ranks:?}"),
        ));
    }
    let admissible = clamp_ranks(&modes, ranks);
    if admissible != ranks {
        return Err(Error::param(
            "rank",
            format!(
                "ranks {ranks:?} are not admissible for {modes:?} features per variable (r_k <= r_(k-1) n_k and \
                 r_(k-1) <= n_k r_k); the largest admissible ranks not above them are {admissible:?}"
            ),
        ));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    match *start {
        Start::Greedy => {
            let mut x = initial_tt(data, &vec![1; d - 1], &Start::Additive, seed)?;
            let par = Par::Seq;
            let als = |x0: TensorTrain| -> Result<TensorTrain> {
                let mut opt = crate::optim::OptimizerConfig::from_name("als")?.build()?;
                let rules = crate::train::StoppingRules {
                    max_iter: GREEDY_SWEEPS,
                    ..Default::default()
                };
                Ok(crate::train::Trainer::new(rules)
                    .par(par)
                    .seed(seed)
                    .run(opt.as_mut(), x0, data, None, None)?
                    .tt)
            };
            if d > 1 {
                x = als(x)?;
            }
            while x.internal_ranks().as_slice() != ranks {
                let next: Vec<usize> = x
                    .internal_ranks()
                    .iter()
                    .zip(ranks)
                    .map(|(&r, &t)| (r + 1).min(t))
                    .collect();
                let mut grown =
                    crate::learn::enrich::grow_ranks(&x, data, ranks, usize::MAX, seed, par)?;
                if grown.internal_ranks() != next {
                    grown = pad(grown, &next)?;
                }
                x = als(grown)?;
            }
            balance(x)
        }
        Start::Random { scale } => {
            if !(scale.is_finite() && scale > 0.0) {
                return Err(Error::param(
                    "random start scale",
                    format!("must be finite and > 0, got {scale}"),
                ));
            }
            let z = TensorTrain::random(&modes, ranks, CoreDistribution::ScaledNormal, &mut rng)?;
            let target = match weighted_rms(data) {
                r if r > 0.0 => scale * r,
                _ => scale,
            };
            let zn = z.norm()?;
            let factor = if zn > 0.0 {
                (target / zn).powf(1.0 / d as f64)
            } else {
                1.0
            };
            let cores = z.into_cores().into_iter().map(|c| c * factor).collect();
            Ok(TensorTrain::from_cores(cores)?)
        }
        Start::Additive => {
            let (coef, ones) = additive_fit(data)?;
            let y = additive_tt(&modes, &coef, &ones)?;
            if d == 1 {
                return Ok(y);
            }
            let caps: Vec<usize> = ranks.iter().map(|&r| r.min(2)).collect();
            let y = y.round(&Truncation::ranks(&caps))?.tt;
            let ynorm = y.norm()?;
            let z = TensorTrain::random(&modes, ranks, CoreDistribution::ScaledNormal, &mut rng)?;
            let zn = z.norm()?;
            let size = PERTURBATION * if ynorm > 0.0 { ynorm } else { 1.0 };
            let zs = if zn > 0.0 { z.scaled(size / zn) } else { z };
            let mut x0 = y.add(&zs)?.round(&Truncation::ranks(ranks))?.tt;
            if x0.internal_ranks() != ranks {
                x0 = pad(x0, ranks)?;
            }
            balance(x0)
        }
    }
}

/// `sqrt(sum w_i y_i^2 / sum w_i)` (unweighted if no weights).
fn weighted_rms(data: &SampleSet) -> f64 {
    let y = data.targets();
    match data.weights() {
        None => (y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64).sqrt(),
        Some(w) => {
            let ws = w.sum();
            if ws > 0.0 {
                (y.iter()
                    .zip(w.iter())
                    .map(|(v, wi)| wi * v * v)
                    .sum::<f64>()
                    / ws)
                    .sqrt()
            } else {
                0.0
            }
        }
    }
}

/// The joint ridge fit of the additive model and the coefficients of the constant function in
/// each basis: `(a_k, c_k)` per variable.
#[allow(clippy::type_complexity)]
fn additive_fit(data: &SampleSet) -> Result<(Vec<Array1<f64>>, Vec<Array1<f64>>)> {
    let feats = data.feature_views();
    let modes = data.mode_sizes();
    let mut offsets = vec![0usize];
    for &n in &modes {
        offsets.push(offsets.last().copied().unwrap_or(0) + n);
    }
    let m = offsets[modes.len()];
    let y = data.targets();
    let w = data.weights();
    // acc: (A^T W A, A^T W y, A^T W 1, sum w) with A = [Phi_1 .. Phi_d]
    type Acc = (Array2<f64>, Array1<f64>, Array1<f64>, f64);
    let (mut gram, mut rhs, mut ones_rhs, wsum) = chunked_reduce(
        data.len(),
        Par::Rayon(INIT_BLOCKS),
        || -> Acc {
            (
                Array2::zeros((m, m)),
                Array1::zeros(m),
                Array1::zeros(m),
                0.0,
            )
        },
        |acc: &mut Acc, rows| {
            let len = rows.len();
            let sw: Array1<f64> = match w {
                Some(w) => w.slice(s![rows.clone()]).mapv(f64::sqrt),
                None => Array1::ones(len),
            };
            let mut a = Array2::zeros((len, m));
            for (k, f) in feats.iter().enumerate() {
                let mut blk = a.slice_mut(s![.., offsets[k]..offsets[k + 1]]);
                blk.assign(&f.slice(s![rows.clone(), ..]));
                for (mut row, &si) in blk.rows_mut().into_iter().zip(sw.iter()) {
                    row.mapv_inplace(|v| v * si);
                }
            }
            linalg::gemm(1.0, a.t(), a.view(), 1.0, acc.0.view_mut(), Par::Seq)?;
            let swy = &sw * &y.slice(s![rows]);
            acc.1 += &a.t().dot(&swy);
            acc.2 += &a.t().dot(&sw);
            acc.3 += sw.iter().map(|v| v * v).sum::<f64>();
            Ok(())
        },
        |acc: &mut Acc, o: Acc| {
            acc.0 += &o.0;
            acc.1 += &o.1;
            acc.2 += &o.2;
            acc.3 += o.3;
        },
    )?;
    if !(wsum > 0.0 && wsum.is_finite()) {
        return Err(Error::data(
            "weights",
            "the sample weights sum to zero: nothing to fit",
        ));
    }
    gram /= wsum;
    rhs /= wsum;
    ones_rhs /= wsum;
    let ridge = ADDITIVE_RIDGE * gram.diag().sum() / m as f64;
    let (a, _) = solve_spd(gram.clone(), rhs, ridge)?;
    let mut coef = Vec::with_capacity(modes.len());
    let mut ones = Vec::with_capacity(modes.len());
    for k in 0..modes.len() {
        let r = offsets[k]..offsets[k + 1];
        coef.push(a.slice(s![r.clone()]).to_owned());
        let gk = gram.slice(s![r.clone(), r.clone()]).to_owned();
        let rk = ADDITIVE_RIDGE * gk.diag().sum() / modes[k] as f64;
        let (c, _) = solve_spd(gk, ones_rhs.slice(s![r]).to_owned(), rk)?;
        ones.push(c);
    }
    if coef
        .iter()
        .chain(&ones)
        .any(|v| v.iter().any(|x| !x.is_finite()))
    {
        return Err(Error::data(
            "samples",
            "the additive start fit produced non-finite coefficients",
        ));
    }
    Ok((coef, ones))
}

/// The exact rank-2 TT of `sum_k f_k(x_k)` from the coefficients `a_k` of `f_k` and `c_k` of the
/// constant 1 (rank 1 for `d = 1`).
fn additive_tt(modes: &[usize], coef: &[Array1<f64>], ones: &[Array1<f64>]) -> Result<TensorTrain> {
    let d = modes.len();
    if d == 1 {
        let core = coef[0]
            .clone()
            .into_shape_with_order((1, modes[0], 1))
            .expect("n coefficients");
        return Ok(TensorTrain::from_cores(vec![core])?);
    }
    let mut cores = Vec::with_capacity(d);
    for k in 0..d {
        let n = modes[k];
        let (a, b) = (if k == 0 { 1 } else { 2 }, if k == d - 1 { 1 } else { 2 });
        let mut c = Array3::zeros((a, n, b));
        for j in 0..n {
            let (f, one) = (coef[k][j], ones[k][j]);
            if k == 0 {
                c[[0, j, 0]] = f;
                c[[0, j, 1]] = one;
            } else if k == d - 1 {
                c[[0, j, 0]] = one;
                c[[1, j, 0]] = f;
            } else {
                c[[0, j, 0]] = one;
                c[[1, j, 0]] = f;
                c[[1, j, 1]] = one;
            }
        }
        cores.push(c);
    }
    Ok(TensorTrain::from_cores(cores)?)
}

/// Zero-pad a TT whose ranks dropped below `ranks` (degenerate data only).
fn pad(tt: TensorTrain, ranks: &[usize]) -> Result<TensorTrain> {
    let mut full = vec![1];
    full.extend_from_slice(ranks);
    full.push(1);
    let cores = tt
        .into_cores()
        .into_iter()
        .enumerate()
        .map(|(k, c)| {
            let (a, n, b) = c.dim();
            let mut p = Array3::zeros((full[k], n, full[k + 1]));
            p.slice_mut(s![..a, .., ..b]).assign(&c);
            p
        })
        .collect();
    Ok(TensorTrain::from_cores(cores)?)
}

/// Balanced gauge: left-orthogonalize, then scale cores `1..d-1` by `nu = ||X||^{1/d}` and
/// divide the last one by `nu^{d-1}` (the tensor is unchanged).
fn balance(mut tt: TensorTrain) -> Result<TensorTrain> {
    tt.left_orthogonalize()?;
    let d = tt.order();
    let norm = tt.norm()?;
    if !(norm > 0.0 && norm.is_finite()) || d == 1 {
        return Ok(tt);
    }
    let nu = norm.powf(1.0 / d as f64);
    let last = nu.powi(d as i32 - 1);
    let cores = tt
        .into_cores()
        .into_iter()
        .enumerate()
        .map(|(k, c)| if k + 1 < d { c * nu } else { c / last })
        .collect();
    Ok(TensorTrain::from_cores(cores)?)
}
