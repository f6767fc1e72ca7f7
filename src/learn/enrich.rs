//! Rank enrichment by a greedy rank-one correction of the residual, and the per-bond choice of
//! which bonds grow (MATH.md §12, "Rank adaptivity").
//!
//! **Why not pad with random channels.** Lifting a rank-`r` iterate to rank `r + 1` by adding a
//! small random TT (the old grown-additive start) gives every new channel a random direction in
//! *every* core. ALS changes one core at a time, so a new channel only becomes useful once all
//! its cores point the same way at once; from random directions the sweeps barely move. A
//! rank-one correction `z = argmin_{rank(z) = 1} ||y - x - z||_N` (a few ALS sweeps on the
//! residual) is a *coordinated* direction: `x + z` has ranks `r + 1` and decreases the loss by
//! construction. On borehole (rank 4, `legendre:8`, 2000 samples, 50 ALS sweeps) the padded
//! additive start ends at train error `2.7e-4`, the greedy start built from these corrections
//! ([`crate::init::Start::Greedy`]) at `1.05e-5` (tensap's greedy start: `5.6e-6`);
//! `examples/surrogate_suite.rs --starts` prints these figures.
//!
//! **Which bonds.** The unfolding `(x + z)^{<k>}` has rank `<= r_k + 1`; its singular value
//! `sigma_{r_k + 1}` (computed with every other bond untruncated, [`bond_spectra`]) is, to first
//! order, the gain of one more rank on that bond. (Reading it off a left-to-right rounding
//! instead would truncate bond `k` before bond `k + 1` is measured and hide the correction from
//! every later bond.) Bonds whose
//! `sigma_{r_k+1}` is within a factor `theta` of the largest grow (Grelier, Nouy & Chevreuil 2018
//! use the same rule); the others keep their rank.

use crate::error::Result;
use crate::init::{initial_tt, Start};
use crate::optim::{predict, OptimizerConfig};
use crate::samples::SampleSet;
use crate::train::{StoppingRules, Trainer};
use rand::SeedableRng;
use tensor_train::gauge::left_unfolding;
use tensor_train::linalg::{self, Par};
use tensor_train::{clamp_ranks, TensorTrain, Truncation};

/// ALS sweeps of the rank-one residual fit (its error only steers the direction of growth).
pub const CORRECTION_SWEEPS: usize = 8;

/// The rank-one TT `z` that best fits the residual `y - x` on `train` (additive start rounded
/// to rank 1, then [`CORRECTION_SWEEPS`] ALS sweeps).
pub fn rank_one_correction(
    x: &TensorTrain,
    train: &SampleSet,
    seed: u64,
    par: Par,
) -> Result<TensorTrain> {
    let pred = predict(x, train, par)?;
    let residual = &train.targets() - &pred;
    // the residual problem shares the inputs: no copy of the N x n_k feature matrices
    let rs = train.with_targets(residual)?;
    let d = x.order();
    let z0 = initial_tt(&rs, &vec![1; d.saturating_sub(1)], &Start::Additive, seed)?;
    let mut als = OptimizerConfig::from_name("als")?.build()?;
    let rules = StoppingRules {
        max_iter: CORRECTION_SWEEPS,
        rel_tol: 1e-6,
        stall_patience: 1,
        ..StoppingRules::default()
    };
    Ok(Trainer::new(rules)
        .par(par)
        .seed(seed)
        .run(als.as_mut(), z0, &rs, None, None)?
        .tt)
}

/// One rank move of the greedy kind: `x + z` with `z` the [`rank_one_correction`] of the
/// residual, rounded to the ranks `min(r_k + 1, target_k)`.
///
/// `rows`: fit `z` on at most this many rows, drawn without replacement with `seed` (all rows
/// when `rows >= N`, the greedy start's choice), then scale it by its exact minimizing length
/// `t* = <e, z> / <z, z>` on all rows (`e = y - x`), so that the move does not raise the loss
/// where the rounding is exact. The correction only steers the direction of growth, the
/// optimizer refines it; on `N = 2e5` rows at `d = 50` its
/// [`CORRECTION_SWEEPS`] rank-1 sweeps on all rows cost about 5 rank-2 ALS sweeps.
///
/// `x + z` has ranks `<= r_k + 1`, so the rounding only cuts where a bond is already at its
/// target. Where `x + z` has a lower rank than asked (the correction lies in the span of `x`
/// at that bond), the returned ranks are lower too: nothing is padded with zeros, so the result
/// is a regular point of its fixed-rank manifold. The loss does not increase where the
/// rounding is exact (every bond below its target): `z` is a least-squares fit of the residual
/// started from the additive fit of it.
pub fn grow_ranks(
    x: &TensorTrain,
    train: &SampleSet,
    target: &[usize],
    rows: usize,
    seed: u64,
    par: Par,
) -> Result<TensorTrain> {
    let sub;
    let fit_on = if rows < train.len() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut idx = rand::seq::index::sample(&mut rng, train.len(), rows).into_vec();
        idx.sort_unstable();
        sub = train.subset(&idx);
        &sub
    } else {
        train
    };
    let next: Vec<usize> = x
        .internal_ranks()
        .iter()
        .zip(target)
        .map(|(&r, &t)| (r + 1).min(t.max(r)))
        .collect();
    let mut z = rank_one_correction(x, fit_on, seed, par)?;
    if rows < train.len() {
        // a correction fitted on a subset can overshoot on the rest (near the optimum the
        // residual is mostly noise): take its exact minimizing length on all rows,
        // t* = <e, z>_w / <z, z>_w with e = y - x, so that the move never raises the loss
        let e = &train.targets() - &predict(x, train, par)?;
        let zv = predict(&z, train, par)?;
        let (ez, zz) = match train.weights() {
            Some(w) => ((&e * &zv * w).sum(), (&zv * &zv * w).sum()),
            None => (e.dot(&zv), zv.dot(&zv)),
        };
        if zz > 0.0 && zz.is_finite() {
            z = z.scaled(ez / zz);
        }
    }
    Ok(x.add(&z)?.round(&Truncation::ranks(&next))?.tt)
}

/// The singular values of every unfolding `X^{<k>}` (bonds `1..d-1`), each computed with the
/// other bonds untruncated: orthogonality centre at core `k`, SVD of its left unfolding.
pub fn bond_spectra(x: &TensorTrain) -> Result<Vec<Vec<f64>>> {
    let d = x.order();
    let mut t = x.clone();
    let mut out = Vec::with_capacity(d.saturating_sub(1));
    for k in 0..d.saturating_sub(1) {
        t.orthogonalize_to(k)?;
        let svd = linalg::svd_thin(left_unfolding(&t.cores()[k]))?;
        out.push(svd.s.to_vec());
    }
    Ok(out)
}

/// The growth decision of one enrichment.
#[derive(Debug, Clone, PartialEq)]
pub struct BondGrowth {
    /// `sigma_{r_k + 1} / ||x + z||` per bond (0 where the bond is at its admissible cap).
    pub gain: Vec<f64>,
    /// Which bonds grow.
    pub grow: Vec<bool>,
    /// The new internal ranks.
    pub ranks: Vec<usize>,
}

/// Decide which bonds of `x + z` grow: those with `gain_k >= theta max_j gain_j` whose rank is
/// below `max_rank` and admissible one higher. `None` when no bond can grow.
pub fn choose_bonds(
    x: &TensorTrain,
    z: &TensorTrain,
    theta: f64,
    max_rank: usize,
) -> Result<Option<(TensorTrain, BondGrowth)>> {
    let ranks = x.internal_ranks();
    let modes = x.mode_sizes();
    let sum = x.add(z)?;
    let norm = sum.norm()?.max(f64::MIN_POSITIVE);
    let spectra = bond_spectra(&sum)?;
    let mut gain: Vec<f64> = spectra
        .iter()
        .zip(&ranks)
        .map(|(s, &r)| s.get(r).copied().unwrap_or(0.0) / norm)
        .collect();
    for (k, g) in gain.iter_mut().enumerate() {
        let mut up = ranks.clone();
        up[k] += 1;
        if ranks[k] >= max_rank || clamp_ranks(&modes, &up) != up {
            *g = 0.0;
        }
    }
    let top = gain.iter().cloned().fold(0.0, f64::max);
    if top <= 0.0 {
        return Ok(None);
    }
    let grow: Vec<bool> = gain.iter().map(|&g| g > 0.0 && g >= theta * top).collect();
    let mut new_ranks: Vec<usize> = ranks
        .iter()
        .zip(&grow)
        .map(|(&r, &g)| r + usize::from(g))
        .collect();
    new_ranks = clamp_ranks(&modes, &new_ranks);
    let grown = sum.round(&Truncation::ranks(&new_ranks))?.tt;
    let ranks = grown.internal_ranks();
    Ok(Some((grown, BondGrowth { gain, grow, ranks })))
}
