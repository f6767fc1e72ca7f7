//! Equality constraints on the iterate, as a hook the Riemannian optimizers call.
//!
//! A loss whose value only makes sense on a submanifold of `M_r` (the density loss of
//! [`crate::density`], scale-invariant and kept on the unit sphere `||X||_F = 1`) returns a
//! [`Constraint`] from [`crate::loss::Loss::constraint`]. The optimizers then
//! - remove the normal directions from every tangent vector they build (gradient, natural
//!   direction, transported momentum): [`Constraint::project`], orthogonally in the metric of
//!   the direction (the identity, or the Gram matrix `G` of the natural step);
//! - map every retracted point back onto the constraint set: [`Constraint::after_retraction`].
//!
//! The hook is called from three places only: [`super::prepare`] (the Riemannian gradient),
//! [`super::ngd`] (natural directions, fixed steps) and [`super::linesearch`] (Armijo trials);
//! [`super::momentum`] projects its transported momentum and normalizes its look-ahead point.

use crate::error::{Error, Result};
use ndarray::Array1;
use tensor_train::tangent::TangentSpace;
use tensor_train::TensorTrain;

/// `G^{-1}` applied to tangent coordinates (the inverse of the metric of a natural step).
pub type InverseMetric<'a> = &'a dyn Fn(&Array1<f64>) -> Result<Array1<f64>>;

/// An equality constraint on the TT iterate (see the module docs).
pub trait Constraint: Send + Sync + std::fmt::Debug {
    /// Remove from the tangent coordinates `c` at `ts` their component normal to the
    /// constraint set, orthogonally in the metric `G` whose inverse is `inv` (`None`: the
    /// identity, i.e. `L^2(mu)`). With normal `n`, the `G`-orthogonal projection is
    /// `c - G^{-1} n (n^T c) / (n^T G^{-1} n)`: applied to the unconstrained minimizer of
    /// `g^T c + c^T G c / 2` it gives the minimizer over `n^T c = 0`.
    fn project(
        &self,
        ts: &TangentSpace,
        c: &mut Array1<f64>,
        inv: Option<InverseMetric<'_>>,
    ) -> Result<()>;
    /// Bring a retracted point back onto the constraint set.
    fn after_retraction(&self, x: TensorTrain) -> Result<TensorTrain>;
}

/// The unit sphere `||X||_F = ||v||_{L^2(mu)} = 1` (MATH.md §1.4, §8 "Density estimation").
///
/// At a point with `||X|| = 1` the radial direction `X` is itself a tangent vector, with
/// coordinates `c_X = (0, .., 0, vec S_d)` (MATH.md §3.1) and `||c_X|| = 1`; the tangent space of
/// `M_r ∩ sphere` is `c_X^⊥`. [`Constraint::after_retraction`] rescales the core at the
/// orthogonality centre by `1 / ||X||`, which keeps the gauge; the retraction's output is
/// left-orthogonal, so `||X||` is the exact norm of the last core.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UnitSphere;

impl Constraint for UnitSphere {
    fn project(
        &self,
        ts: &TangentSpace,
        c: &mut Array1<f64>,
        inv: Option<InverseMetric<'_>>,
    ) -> Result<()> {
        let mut n = ts.to_coords(&ts.point_as_tangent())?;
        let nn = n.dot(&n).sqrt();
        if !(nn.is_finite() && nn > 0.0) {
            return Err(Error::param(
                "sphere constraint",
                "the iterate is zero; start from a non-zero model",
            ));
        }
        n /= nn;
        let nc = n.dot(c);
        match inv {
            None => c.scaled_add(-nc, &n),
            Some(inv) => {
                let b = inv(&n)?;
                let nb = n.dot(&b);
                if !(nb.is_finite() && nb > 0.0) {
                    return Err(Error::param(
                        "sphere constraint",
                        format!("the metric is not positive along the radial direction (n^T G^-1 n = {nb:e}); use a positive rel_shift"),
                    ));
                }
                c.scaled_add(-nc / nb, &b);
                // round-off of the solve: remove what is left along n exactly
                let rest = n.dot(c);
                c.scaled_add(-rest, &n);
            }
        }
        Ok(())
    }

    fn after_retraction(&self, mut x: TensorTrain) -> Result<TensorTrain> {
        let nrm = x.norm()?;
        if !(nrm.is_finite() && nrm > 0.0) {
            return Err(Error::Diverged {
                iteration: 0,
                message: format!("the retracted point has norm {nrm}; it cannot be normalized"),
            });
        }
        x.scale(1.0 / nrm);
        Ok(x)
    }
}
