//! Piecewise polynomials of degree `p` on `K` equal cells of `[-1, 1]`, orthonormal for the
//! uniform measure `dx/2` (MATH.md §1.1):
//!
//! `φ_{c(p+1)+q}(x) = sqrt(K (2q+1)) P_q(t_c(x)) 1_c(x)`, `q = 0..p`, `c = 0..K-1`,
//!
//! where cell `c` is `[-1 + 2c/K, -1 + 2(c+1)/K)` and `t_c(x) = K (x + 1) - (2c + 1)` maps it
//! onto `[-1, 1]`. Each derivative inside a cell picks up the factor `K = dt_c/dx`; across cell
//! boundaries the functions jump, so derivatives are those of the cell containing `x`.
//! The right end point `x = 1` belongs to the last cell; points outside `[-1, 1]` are assigned to
//! the nearest end cell and its polynomials are extrapolated.

use super::legendre::legendre_into;

/// Cell index of `x` among `cells` equal cells of `[-1, 1]` (end cells extend to infinity).
#[inline]
pub fn cell_of(x: f64, cells: usize) -> usize {
    let k = cells as f64;
    let c = ((x + 1.0) * 0.5 * k).floor();
    if c.is_nan() || c < 0.0 {
        0
    } else if c >= k {
        cells - 1
    } else {
        c as usize
    }
}

/// Writes the `K (p+1)` piecewise-polynomial features (or their `order`-th derivative inside the
/// cell, `order` 0..=2) at `x` into `out` (length `cells * (degree + 1)`): zeros except the
/// `p + 1` entries of the cell of `x`.
#[inline]
pub fn piecewise_into(x: f64, degree: usize, cells: usize, order: usize, out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    if cells == 0 {
        return;
    }
    let width = degree + 1;
    let c = cell_of(x, cells);
    let k = cells as f64;
    let t = k * (x + 1.0) - (2.0 * c as f64 + 1.0);
    let block = &mut out[c * width..(c + 1) * width];
    legendre_into(t, order, block);
    let scale = k.sqrt() * k.powi(order as i32);
    block.iter_mut().for_each(|v| *v *= scale);
}
