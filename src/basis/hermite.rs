//! Orthonormal (probabilists') Hermite polynomials for the standard normal measure `N(0, 1)`
//! (MATH.md §1.1): `h_j = He_j / sqrt(j!)`.
//!
//! - `h_0 = 1`, `h_1 = x`, `h_{j+1} = (x h_j - sqrt(j) h_{j-1}) / sqrt(j+1)`;
//! - `h_j' = sqrt(j) h_{j-1}`, hence `h_j'' = sqrt(j (j-1)) h_{j-2}`.

/// Writes `out[j] = d^order/dx^order h_j(x)` for `j = 0..out.len()` (`order` 0, 1 or 2).
///
/// Derivatives use `h_j^{(m)} = sqrt(j (j-1) ... (j-m+1)) h_{j-m}` (zero for `j < m`).
#[inline]
pub fn hermite_into(x: f64, order: usize, out: &mut [f64]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    debug_assert!(
        order <= 2,
        "Hermite derivatives of order {order} are not implemented"
    );
    // First write values h_0..h_{n-1-order} shifted by `order`, then scale.
    let m = order.min(n);
    for o in out.iter_mut().take(m) {
        *o = 0.0;
    }
    let (mut h_prev, mut h) = (0.0_f64, 1.0_f64);
    for j in 0..n - m {
        let jf = j as f64;
        // Value h_j goes to index j + order, times sqrt((j+order)!/j!).
        let idx = j + order;
        let factor = match order {
            0 => 1.0,
            1 => (idx as f64).sqrt(),
            2 => (idx as f64 * (idx as f64 - 1.0)).sqrt(),
            _ => 0.0,
        };
        out[idx] = factor * h;
        let h_next = (x * h - jf.sqrt() * h_prev) / (jf + 1.0).sqrt();
        h_prev = h;
        h = h_next;
    }
}
