//! TT algebra: sums, inner products, norms (MATH.md §3.5).

use crate::error::{Result, TtError};
use crate::gauge::{left_unfolding, Gauge};
use crate::linalg;
use crate::tt::TensorTrain;
use ndarray::{s, Array2, Array3};

impl TensorTrain {
    /// `self + other` with ranks `r_k + s_k` (block-diagonal cores; no rounding).
    pub fn add(&self, other: &TensorTrain) -> Result<TensorTrain> {
        self.check_same_modes(other)?;
        let d = self.order();
        if d == 1 {
            let c = &self.cores()[0] + &other.cores()[0];
            return TensorTrain::from_cores(vec![c]);
        }
        let mut cores = Vec::with_capacity(d);
        for k in 0..d {
            let (a1, n, b1) = self.cores()[k].dim();
            let (a2, _, b2) = other.cores()[k].dim();
            let c = if k == 0 {
                let mut c = Array3::zeros((1, n, b1 + b2));
                c.slice_mut(s![.., .., ..b1]).assign(&self.cores()[k]);
                c.slice_mut(s![.., .., b1..]).assign(&other.cores()[k]);
                c
            } else if k == d - 1 {
                let mut c = Array3::zeros((a1 + a2, n, 1));
                c.slice_mut(s![..a1, .., ..]).assign(&self.cores()[k]);
                c.slice_mut(s![a1.., .., ..]).assign(&other.cores()[k]);
                c
            } else {
                let mut c = Array3::zeros((a1 + a2, n, b1 + b2));
                c.slice_mut(s![..a1, .., ..b1]).assign(&self.cores()[k]);
                c.slice_mut(s![a1.., .., b1..]).assign(&other.cores()[k]);
                c
            };
            cores.push(c);
        }
        TensorTrain::from_cores(cores)
    }

    /// `alpha self + beta other` (ranks add).
    pub fn axpby(&self, alpha: f64, other: &TensorTrain, beta: f64) -> Result<TensorTrain> {
        self.scaled(alpha).add(&other.scaled(beta))
    }

    /// Frobenius inner product `<X, Y>_F` by the environment recursion
    /// `Theta_k = sum_j G_k[j]^T Theta_{k-1} H_k[j]`, `O(d n r s (r + s))`. With orthonormal
    /// features this is the `L^2(mu)` inner product of the two functions (MATH.md §1.4).
    pub fn dot(&self, other: &TensorTrain) -> Result<f64> {
        self.check_same_modes(other)?;
        let mut theta = Array2::ones((1, 1));
        for (g, h) in self.cores().iter().zip(other.cores()) {
            theta = environment_step(&theta, g, h)?;
        }
        Ok(theta[[0, 0]])
    }

    /// Frobenius norm. In mixed canonical form it is the norm of the centre core (exact
    /// orthogonality, no cancellation); otherwise it is computed from an orthogonalized copy.
    pub fn norm(&self) -> Result<f64> {
        match self.gauge() {
            Gauge::Mixed { center } => Ok(self.cores()[center]
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()),
            Gauge::None => self.to_left_orthogonal()?.norm(),
        }
    }

    pub(crate) fn check_same_modes(&self, other: &TensorTrain) -> Result<()> {
        if self.mode_sizes() != other.mode_sizes() {
            return Err(TtError::Shape(format!(
                "mode sizes differ: {:?} vs {:?}",
                self.mode_sizes(),
                other.mode_sizes()
            )));
        }
        Ok(())
    }
}

/// One step of the left environment recursion: `sum_j G[j]^T Theta H[j]` (`r_k x s_k`) for
/// cores `G` (`r_{k-1}, n, r_k`) and `H` (`s_{k-1}, n, s_k`), `Theta` `r_{k-1} x s_{k-1}`.
pub fn environment_step(
    theta: &Array2<f64>,
    g: &Array3<f64>,
    h: &Array3<f64>,
) -> Result<Array2<f64>> {
    let (_, n, sk) = h.dim();
    let ra = g.shape()[0];
    // T = Theta H  as  r_{k-1} x (n s_k), then reshape to (r_{k-1} n) x s_k and contract with G^L
    let t = linalg::matmul(theta.view(), crate::gauge::right_unfolding(h))?;
    let t = t.into_shape_with_order((ra * n, sk)).expect("C-order");
    Ok(linalg::matmul(left_unfolding(g).t(), t.view())?)
}
