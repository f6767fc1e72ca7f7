//! The TT format: validated cores, ranks, constructors.

use crate::error::{Result, TtError};
use crate::gauge::Gauge;
use ndarray::{Array3, ArrayView3};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// A tensor train `X[i_1..i_d] = G_1[i_1] ... G_d[i_d]`.
///
/// Invariants (checked by every constructor and by [`TensorTrain::set_core`]):
/// - at least one core; core `k` has shape `(r_{k-1}, n_k, r_k)` with all sizes `>= 1`;
/// - `r_0 = r_d = 1` and neighbouring ranks agree;
/// - every entry is finite;
/// - `gauge` is true of the cores (any mutation that may break it resets it to
///   [`Gauge::None`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorTrain {
    cores: Vec<Array3<f64>>,
    gauge: Gauge,
}

/// How [`TensorTrain::random`] draws core entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoreDistribution {
    /// i.i.d. `N(0, std^2)`.
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// i.i.d. uniform on `[lo, hi)`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// i.i.d. `N(0, 1/(r_{k-1} n_k))` for core `k`: the expected squared norm of every
    /// interface stays 1 along the train, so `E ||X||_F^2 = 1` whatever `d`.
    ScaledNormal,
}

/// Check that ranks `r_1..r_{d-1}` (internal bonds, `d - 1` entries) are admissible for mode
/// sizes `n_1..n_d`: `1 <= r_k <= r_{k-1} n_k` and `r_{k-1} <= n_k r_k`, with `r_0 = r_d = 1`.
pub fn check_ranks(mode_sizes: &[usize], ranks: &[usize]) -> Result<()> {
    let d = mode_sizes.len();
    if d == 0 {
        return Err(TtError::NoCores);
    }
    if ranks.len() + 1 != d {
        return Err(TtError::Shape(format!(
            "{} ranks given for {d} modes; give the d - 1 = {} internal ranks r_1..r_(d-1)",
            ranks.len(),
            d - 1
        )));
    }
    if let Some(k) = mode_sizes.iter().position(|&n| n == 0) {
        return Err(TtError::Shape(format!(
            "mode size n_{} is 0; every mode needs at least one index",
            k + 1
        )));
    }
    let full = full_ranks(ranks);
    for k in 1..d {
        let r = full[k];
        // saturating: ranks come from users and files (found by fuzzing)
        let max = (full[k - 1].saturating_mul(mode_sizes[k - 1]))
            .min(mode_sizes[k].saturating_mul(full[k + 1]));
        if r == 0 || r > max {
            return Err(TtError::Rank {
                bond: k,
                rank: r,
                max,
            });
        }
    }
    Ok(())
}

/// The largest admissible ranks not above the requested ones: one forward pass
/// `r_k <- min(r_k, r_{k-1} n_k)` and one backward pass `r_{k-1} <- min(r_{k-1}, n_k r_k)`
/// (MATH.md §2). Zeros are raised to 1.
pub fn clamp_ranks(mode_sizes: &[usize], ranks: &[usize]) -> Vec<usize> {
    let d = mode_sizes.len();
    let mut full = full_ranks(ranks);
    full.resize(d + 1, 1);
    full[d] = 1;
    for r in full.iter_mut() {
        *r = (*r).max(1);
    }
    for k in 1..d {
        full[k] = full[k].min(full[k - 1].saturating_mul(mode_sizes[k - 1].max(1)));
    }
    for k in (1..d).rev() {
        full[k] = full[k].min(mode_sizes[k].max(1).saturating_mul(full[k + 1]));
    }
    full[1..d].to_vec()
}

fn full_ranks(internal: &[usize]) -> Vec<usize> {
    let mut r = Vec::with_capacity(internal.len() + 2);
    r.push(1);
    r.extend_from_slice(internal);
    r.push(1);
    r
}

impl TensorTrain {
    /// Build from cores, validating shapes, boundary ranks and finiteness.
    /// Cores in any memory layout are accepted; they are stored in row-major (C) order, which
    /// the unfoldings rely on.
    pub fn from_cores(cores: Vec<Array3<f64>>) -> Result<Self> {
        validate_cores(&cores)?;
        let cores = cores.into_iter().map(standard_layout).collect();
        Ok(TensorTrain {
            cores,
            gauge: Gauge::None,
        })
    }

    /// Build from cores that the caller states are in `gauge` (e.g. the output of an ALS sweep,
    /// which ends right-orthogonal), so that later sweeps are skipped. The statement is checked:
    /// every core that should be orthogonal must have `||Q^T Q - I||_max <= tol` (a cost of
    /// `O(d n r^3)` Gram products, a fraction of one QR sweep); otherwise an error names the
    /// violation.
    pub fn from_cores_with_gauge(cores: Vec<Array3<f64>>, gauge: Gauge, tol: f64) -> Result<Self> {
        let mut t = TensorTrain::from_cores(cores)?;
        if let Gauge::Mixed { center } = gauge {
            let d = t.order();
            if center >= d {
                return Err(TtError::Shape(format!(
                    "orthogonality centre {center} out of range for order {d}"
                )));
            }
            let err = t
                .left_orthogonality_error(center)
                .max(t.right_orthogonality_error(center + 1));
            if err.is_nan() || err > tol {
                return Err(TtError::Parameter(format!(
                    "cores are not orthogonal as the stated gauge (centre {center}) requires: orthogonality error {err:e} > {tol:e}"
                )));
            }
        }
        t.gauge = gauge;
        Ok(t)
    }

    /// Build from cores known to be in `gauge` (checked in debug builds only).
    pub(crate) fn from_cores_in_gauge(cores: Vec<Array3<f64>>, gauge: Gauge) -> Self {
        debug_assert!(validate_cores(&cores).is_ok());
        TensorTrain { cores, gauge }
    }

    /// The zero tensor with the given mode sizes and internal ranks `r_1..r_{d-1}`.
    pub fn zeros(mode_sizes: &[usize], ranks: &[usize]) -> Result<Self> {
        check_ranks(mode_sizes, ranks)?;
        let full = full_ranks(ranks);
        let cores = (0..mode_sizes.len())
            .map(|k| Array3::zeros((full[k], mode_sizes[k], full[k + 1])))
            .collect();
        Ok(TensorTrain {
            cores,
            gauge: Gauge::None,
        })
    }

    /// A random TT with the given mode sizes and internal ranks, entries drawn from `dist` with
    /// the caller's (seeded) generator: the same seed gives the same tensor.
    pub fn random<R: Rng + ?Sized>(
        mode_sizes: &[usize],
        ranks: &[usize],
        dist: CoreDistribution,
        rng: &mut R,
    ) -> Result<Self> {
        check_ranks(mode_sizes, ranks)?;
        let full = full_ranks(ranks);
        let mut cores = Vec::with_capacity(mode_sizes.len());
        for k in 0..mode_sizes.len() {
            let shape = (full[k], mode_sizes[k], full[k + 1]);
            let core = match dist {
                CoreDistribution::Normal { std } => {
                    // rand_distr accepts a negative standard deviation; we do not
                    if !(std.is_finite() && std >= 0.0) {
                        return Err(TtError::Parameter(format!(
                            "normal std must be finite and >= 0, got {std}"
                        )));
                    }
                    let nd = Normal::new(0.0, std)
                        .map_err(|e| TtError::Parameter(format!("normal std {std}: {e}")))?;
                    Array3::from_shape_simple_fn(shape, || nd.sample(rng))
                }
                CoreDistribution::ScaledNormal => {
                    let std = 1.0 / ((full[k] * mode_sizes[k]) as f64).sqrt();
                    let nd =
                        Normal::new(0.0, std).map_err(|e| TtError::Parameter(e.to_string()))?;
                    Array3::from_shape_simple_fn(shape, || nd.sample(rng))
                }
                CoreDistribution::Uniform { lo, hi } => {
                    let ud = Uniform::new(lo, hi)
                        .map_err(|e| TtError::Parameter(format!("uniform [{lo}, {hi}): {e}")))?;
                    Array3::from_shape_simple_fn(shape, || ud.sample(rng))
                }
            };
            cores.push(core);
        }
        Ok(TensorTrain {
            cores,
            gauge: Gauge::None,
        })
    }

    /// Number of modes `d`.
    pub fn order(&self) -> usize {
        self.cores.len()
    }

    /// Mode sizes `n_1..n_d`.
    pub fn mode_sizes(&self) -> Vec<usize> {
        self.cores.iter().map(|c| c.shape()[1]).collect()
    }

    /// All ranks `r_0..r_d` (`r_0 = r_d = 1`).
    pub fn ranks(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.cores.iter().map(|c| c.shape()[0]).collect();
        r.push(1);
        r
    }

    /// Internal ranks `r_1..r_{d-1}`.
    pub fn internal_ranks(&self) -> Vec<usize> {
        let r = self.ranks();
        r[1..r.len() - 1].to_vec()
    }

    /// Largest rank `max_k r_k`.
    pub fn max_rank(&self) -> usize {
        self.ranks().into_iter().max().unwrap_or(1)
    }

    /// Number of stored parameters `sum_k r_{k-1} n_k r_k`.
    pub fn num_params(&self) -> usize {
        self.cores.iter().map(|c| c.len()).sum()
    }

    /// Core `k` (0-based).
    pub fn core(&self, k: usize) -> ArrayView3<'_, f64> {
        self.cores[k].view()
    }

    /// All cores.
    pub fn cores(&self) -> &[Array3<f64>] {
        &self.cores
    }

    /// Consume into the cores.
    pub fn into_cores(self) -> Vec<Array3<f64>> {
        self.cores
    }

    /// The gauge the cores are known to be in.
    pub fn gauge(&self) -> Gauge {
        self.gauge
    }

    pub(crate) fn set_gauge(&mut self, g: Gauge) {
        self.gauge = g;
    }

    /// Mutable access to the cores for in-crate kernels that keep the shapes; the caller sets
    /// the gauge afterwards.
    pub(crate) fn cores_mut_raw(&mut self) -> &mut Vec<Array3<f64>> {
        &mut self.cores
    }

    /// Replace core `k`; the shape must match the current one (ranks are fixed). Resets the
    /// gauge.
    pub fn set_core(&mut self, k: usize, core: Array3<f64>) -> Result<()> {
        if k >= self.cores.len() {
            return Err(TtError::Shape(format!(
                "core index {k} out of range for order {}",
                self.order()
            )));
        }
        if core.shape() != self.cores[k].shape() {
            return Err(TtError::CoreShape {
                core: k,
                detail: format!(
                    "new core has shape {:?}, expected {:?}",
                    core.shape(),
                    self.cores[k].shape()
                ),
            });
        }
        if core.iter().any(|x| !x.is_finite()) {
            return Err(TtError::NonFinite {
                what: format!("core {k}"),
            });
        }
        self.cores[k] = standard_layout(core);
        self.gauge = Gauge::None;
        Ok(())
    }

    /// Multiply the tensor by `alpha` (applied to the core at the orthogonality centre, so the
    /// gauge is kept; to the last core otherwise).
    pub fn scale(&mut self, alpha: f64) {
        let k = match self.gauge {
            Gauge::Mixed { center } => center,
            Gauge::None => self.cores.len() - 1,
        };
        self.cores[k].mapv_inplace(|x| alpha * x);
    }

    /// Copy scaled by `alpha`.
    pub fn scaled(&self, alpha: f64) -> Self {
        let mut t = self.clone();
        t.scale(alpha);
        t
    }
}

/// The same core in row-major (C) order: the unfoldings are free reshapes only then.
pub(crate) fn standard_layout(core: Array3<f64>) -> Array3<f64> {
    if core.is_standard_layout() {
        core
    } else {
        core.as_standard_layout().into_owned()
    }
}

fn validate_cores(cores: &[Array3<f64>]) -> Result<()> {
    if cores.is_empty() {
        return Err(TtError::NoCores);
    }
    let d = cores.len();
    for (k, c) in cores.iter().enumerate() {
        let (a, n, b) = c.dim();
        if a == 0 || n == 0 || b == 0 {
            return Err(TtError::CoreShape {
                core: k,
                detail: format!("shape ({a}, {n}, {b}) has a zero dimension"),
            });
        }
        if k == 0 && a != 1 {
            return Err(TtError::CoreShape {
                core: 0,
                detail: format!("first core must have left rank r_0 = 1, got {a}"),
            });
        }
        if k == d - 1 && b != 1 {
            return Err(TtError::CoreShape {
                core: k,
                detail: format!("last core must have right rank r_d = 1, got {b}"),
            });
        }
        if k > 0 {
            let prev = cores[k - 1].shape()[2];
            if prev != a {
                return Err(TtError::CoreShape {
                    core: k,
                    detail: format!(
                        "left rank {a} does not match the right rank {prev} of core {}",
                        k - 1
                    ),
                });
            }
        }
        if c.iter().any(|x| !x.is_finite()) {
            return Err(TtError::NonFinite {
                what: format!("core {k}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn invalid_cores_are_errors() {
        assert!(matches!(
            TensorTrain::from_cores(vec![]),
            Err(TtError::NoCores)
        ));
        let bad_boundary = vec![Array3::zeros((2, 3, 1))];
        assert!(matches!(
            TensorTrain::from_cores(bad_boundary),
            Err(TtError::CoreShape { core: 0, .. })
        ));
        let mismatch = vec![Array3::zeros((1, 3, 2)), Array3::zeros((3, 3, 1))];
        assert!(matches!(
            TensorTrain::from_cores(mismatch),
            Err(TtError::CoreShape { core: 1, .. })
        ));
        let mut nan = vec![Array3::zeros((1, 2, 1))];
        nan[0][[0, 1, 0]] = f64::NAN;
        assert!(matches!(
            TensorTrain::from_cores(nan),
            Err(TtError::NonFinite { .. })
        ));
        let empty = vec![Array3::zeros((1, 0, 1))];
        assert!(TensorTrain::from_cores(empty).is_err());
    }

    #[test]
    fn rank_admissibility() {
        assert!(check_ranks(&[2, 3, 2], &[2, 2]).is_ok());
        // r_1 <= n_1 = 2
        assert!(matches!(
            check_ranks(&[2, 3, 2], &[3, 2]),
            Err(TtError::Rank { bond: 1, .. })
        ));
        // r_2 <= n_3 = 2
        assert!(matches!(
            check_ranks(&[2, 3, 2], &[2, 3]),
            Err(TtError::Rank { bond: 2, .. })
        ));
        assert!(check_ranks(&[2, 3, 2], &[2]).is_err());
        assert!(check_ranks(&[2, 3, 2], &[0, 1]).is_err());
        assert_eq!(clamp_ranks(&[2, 3, 2], &[5, 5]), vec![2, 2]);
        assert_eq!(clamp_ranks(&[4, 4, 4, 4], &[100, 100, 100]), vec![4, 16, 4]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(
            TensorTrain::random(&[2, 2], &[3], CoreDistribution::ScaledNormal, &mut rng).is_err()
        );
        assert!(TensorTrain::random(
            &[2, 2],
            &[2],
            CoreDistribution::Normal { std: -1.0 },
            &mut rng
        )
        .is_err());
    }

    #[test]
    fn set_core_checks_shape_and_resets_gauge() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut t = TensorTrain::random(
            &[3, 3, 3],
            &[2, 2],
            CoreDistribution::ScaledNormal,
            &mut rng,
        )
        .unwrap();
        t.left_orthogonalize().unwrap();
        assert_ne!(t.gauge(), Gauge::None);
        assert!(t.set_core(1, Array3::zeros((2, 3, 3))).is_err());
        t.set_core(1, Array3::zeros((2, 3, 2))).unwrap();
        assert_eq!(t.gauge(), Gauge::None);
        assert_eq!(t.num_params(), 6 + 12 + 6);
    }
}
