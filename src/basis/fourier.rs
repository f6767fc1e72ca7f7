//! Real Fourier features for periodic data on `[-1, 1)` with the uniform measure `dx/2`
//! (MATH.md §1.1): `φ_0 = 1`, `φ_{2m-1} = sqrt(2) cos(π m x)`, `φ_{2m} = sqrt(2) sin(π m x)`,
//! `m = 1..M`, so `n = 2M + 1` features in the interleaved order `1, cos, sin, cos, sin, ...`.
//!
//! Derivatives in closed form: `d/dx cos(πmx) = -πm sin(πmx)`, `d/dx sin(πmx) = πm cos(πmx)`,
//! second derivative `-(πm)^2` times the feature.

use std::f64::consts::{PI, SQRT_2};

/// Writes the `n = out.len()` Fourier features (or their `order`-th derivative, `order` 0..=2)
/// at `x`. `out.len()` must be odd (`2M + 1`); a trailing even slot is filled with the next
/// cosine.
///
/// `cos(πmx), sin(πmx)` are produced by the angle-addition recurrence from one `sin_cos` call;
/// its rounding error grows like `m · ε`, negligible for the frequencies used in practice.
#[inline]
pub fn fourier_into(x: f64, order: usize, out: &mut [f64]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    debug_assert!(
        order <= 2,
        "Fourier derivatives of order {order} are not implemented"
    );
    out[0] = if order == 0 { 1.0 } else { 0.0 };
    let (s1, c1) = (PI * x).sin_cos();
    let (mut c, mut s) = (c1, s1);
    let mut m = 1usize;
    while 2 * m - 1 < n {
        // Refresh exactly every 32 steps to bound the recurrence drift.
        if m % 32 == 0 {
            let (sm, cm) = (PI * m as f64 * x).sin_cos();
            s = sm;
            c = cm;
        }
        let w = PI * m as f64;
        let (vc, vs) = match order {
            0 => (c, s),
            1 => (-w * s, w * c),
            2 => (-w * w * c, -w * w * s),
            _ => (0.0, 0.0),
        };
        out[2 * m - 1] = SQRT_2 * vc;
        if 2 * m < n {
            out[2 * m] = SQRT_2 * vs;
        }
        let c_next = c * c1 - s * s1;
        let s_next = s * c1 + c * s1;
        c = c_next;
        s = s_next;
        m += 1;
    }
}
