//! Orthonormal Legendre polynomials `φ_j = sqrt(2j+1) P_j` for the uniform measure `dx/2` on
//! `[-1, 1]` (MATH.md §1.1), and their first and second derivatives.
//!
//! Recurrences (all evaluated with rolling scalars, no allocation):
//!
//! - `(j+1) P_{j+1} = (2j+1) x P_j - j P_{j-1}`, `P_0 = 1`, `P_1 = x`;
//! - `P'_{j+1} = P'_{j-1} + (2j+1) P_j` with `P'_{-1} = P'_0 = 0`;
//! - `P''_{j+1} = P''_{j-1} + (2j+1) P'_j` with `P''_{-1} = P''_0 = 0`.
//!
//! The derivative recurrences avoid the `1/(1-x^2)` of the classical formula, so they are
//! stable at `x = ±1` (where `P'_j(±1) = (±1)^{j+1} j(j+1)/2`).

/// Writes `out[j] = d^order/dx^order [sqrt(2j+1) P_j(x)]` for `j = 0..out.len()`.
///
/// `order` must be 0, 1 or 2 (callers check; other orders write zeros after a debug assertion).
/// Outside `[-1, 1]` the polynomials are simply evaluated (extrapolation).
#[inline]
pub fn legendre_into(x: f64, order: usize, out: &mut [f64]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    debug_assert!(
        order <= 2,
        "Legendre derivatives of order {order} are not implemented"
    );
    // Rolling P_{j-1}, P_j; P'_{j-1}, P'_j; P''_{j-1}, P''_j.
    let (mut p_prev, mut p) = (0.0_f64, 1.0_f64);
    let (mut d_prev, mut d) = (0.0_f64, 0.0_f64);
    let (mut s_prev, mut s) = (0.0_f64, 0.0_f64);
    for (j, o) in out.iter_mut().enumerate() {
        let jf = j as f64;
        let v = match order {
            0 => p,
            1 => d,
            2 => s,
            _ => 0.0,
        };
        *o = (2.0 * jf + 1.0).sqrt() * v;
        if j + 1 == n {
            break;
        }
        let c = 2.0 * jf + 1.0;
        let p_next = (c * x * p - jf * p_prev) / (jf + 1.0);
        let d_next = d_prev + c * p;
        let s_next = s_prev + c * d;
        p_prev = p;
        p = p_next;
        d_prev = d;
        d = d_next;
        s_prev = s;
        s = s_next;
    }
}
