//! Symmetric eigendecomposition of small matrices (the `2r x 2r` Gram matrices of a TT
//! truncation sweep), written for that size.
//!
//! faer's `self_adjoint_evd` and `svd` spend most of their time in per-column dispatch and
//! blocking logic at `n = 32` (about 100 us on the measured machines for ~0.3 MFLOP). This is
//! the classical two-phase method, backward stable (`W^T A W = diag(lambda) + E`,
//! `||E|| = O(n u ||A||)`, Wilkinson; Golub & Van Loan §8.3):
//! 1. Householder tridiagonalization with the transformation accumulated explicitly (EISPACK
//!    `tred2`);
//! 2. the implicit QL iteration with Wilkinson shifts (EISPACK `tql2`), the rotations applied to
//!    the rows of `W^T`, which are contiguous, so the inner loops vectorize.

#![allow(clippy::needless_range_loop)] // EISPACK's index recurrences, kept recognizable

use super::LinalgError;

/// Iteration cap per eigenvalue of the QL sweep (EISPACK uses 30; convergence is cubic, two or
/// three iterations per eigenvalue are typical).
const MAX_QL_ITERATIONS: usize = 30;

/// Eigenvalues (descending) and eigenvectors of the symmetric `n x n` matrix `a` (row-major,
/// only the lower triangle is read): returns `(lambda, wt)` with `wt` row-major `n x n`, row `i`
/// the unit eigenvector of `lambda[i]`.
///
/// Compiled for AVX-512F or AVX2 when the CPU has them (the crate is built for baseline x86-64,
/// whose 2-wide SSE2 code made the QL rotations a quarter of a retraction's time). No fused
/// multiply-add is enabled and no sum is reassociated, so every variant performs the same
/// IEEE operations in the same order as the baseline build (test
/// `dispatch_is_bitwise_the_baseline` compares the variant the CPU picks with it bit for bit).
pub(crate) fn eigh_descending(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>), LinalgError> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            #[target_feature(enable = "avx512f,avx2")]
            fn avx512(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>), LinalgError> {
                eigh_kernel(a, n)
            }
            // SAFETY: the CPU supports AVX-512F and AVX2 (checked above)
            return unsafe { avx512(a, n) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            #[target_feature(enable = "avx2")]
            fn avx2(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>), LinalgError> {
                eigh_kernel(a, n)
            }
            // SAFETY: the CPU supports AVX2 (checked above)
            return unsafe { avx2(a, n) };
        }
    }
    eigh_kernel(a, n)
}

/// The body of [`eigh_descending`], inlined into each of its instruction-set variants.
#[inline(always)]
fn eigh_kernel(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>), LinalgError> {
    debug_assert_eq!(a.len(), n * n);
    // scale to max |a_ij| = 1: the rotations below then use sqrt(f^2 + g^2) without overflow,
    // and an underflow there concerns entries below 1e-150 ||A||, far below the backward error
    let amax = (0..n)
        .flat_map(|i| (0..=i).map(move |j| (i, j)))
        .fold(0.0f64, |m, (i, j)| m.max(a[i * n + j].abs()));
    if amax == 0.0 {
        let mut wt = vec![0.0; n * n];
        for i in 0..n {
            wt[i * n + i] = 1.0;
        }
        return Ok((vec![0.0; n], wt));
    }
    let mut z = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            z[i * n + j] = a[i * n + j] / amax;
        }
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tridiagonalize(&mut z, n, &mut d, &mut e);
    // z holds Q with A = Q T Q^T; the QL rotations act on its columns: work on the transpose
    let mut wt = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            wt[i * n + k] = z[k * n + i];
        }
    }
    ql_implicit(&mut d, &mut e, &mut wt, n)?;
    for x in d.iter_mut() {
        *x *= amax;
    }
    // sort descending (selection sort: n is small)
    for i in 0..n {
        let mut best = i;
        for j in i + 1..n {
            if d[j] > d[best] {
                best = j;
            }
        }
        if best != i {
            d.swap(i, best);
            for k in 0..n {
                wt.swap(i * n + k, best * n + k);
            }
        }
    }
    Ok((d, wt))
}

/// Householder reduction `A = Q T Q^T` (EISPACK `tred2`, as in Numerical Recipes §11.2): on
/// return `z` is `Q` (row-major), `d` the diagonal of `T`, `e[1..]` its sub-diagonal (`e[0] = 0`).
#[inline(always)]
fn tridiagonalize(z: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64]) {
    let at = |i: usize, j: usize| i * n + j;
    for i in (1..n).rev() {
        let l = i - 1;
        let mut h = 0.0;
        if l > 0 {
            let scale: f64 = (0..=l).map(|k| z[at(i, k)].abs()).sum();
            if scale == 0.0 {
                e[i] = z[at(i, l)];
            } else {
                for k in 0..=l {
                    z[at(i, k)] /= scale;
                    h += z[at(i, k)] * z[at(i, k)];
                }
                let f = z[at(i, l)];
                let g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
                e[i] = scale * g;
                h -= f * g;
                z[at(i, l)] = f - g;
                let mut f = 0.0;
                for j in 0..=l {
                    z[at(j, i)] = z[at(i, j)] / h;
                    let mut g = 0.0;
                    for k in 0..=j {
                        g += z[at(j, k)] * z[at(i, k)];
                    }
                    for k in j + 1..=l {
                        g += z[at(k, j)] * z[at(i, k)];
                    }
                    e[j] = g / h;
                    f += e[j] * z[at(i, j)];
                }
                let hh = f / (h + h);
                for j in 0..=l {
                    let f = z[at(i, j)];
                    let g = e[j] - hh * f;
                    e[j] = g;
                    for k in 0..=j {
                        z[at(j, k)] -= f * e[k] + g * z[at(i, k)];
                    }
                }
            }
        } else {
            e[i] = z[at(i, l)];
        }
        d[i] = h;
    }
    d[0] = 0.0;
    e[0] = 0.0;
    // accumulate the transformations: g_j = sum_{k < i} z[i, k] z[k, j], then
    // z[k, j] -= g_j z[k, i], for j < i. Row by row (contiguous, so it vectorizes), each g_j
    // still summed in the order k = 0, 1, ...; the update reads row i and column i, which it
    // does not write, so forming all g_j first is the same arithmetic as EISPACK's loop.
    let mut g = vec![0.0; n];
    for i in 0..n {
        if d[i] != 0.0 {
            let gs = &mut g[..i];
            gs.fill(0.0);
            for k in 0..i {
                let zik = z[at(i, k)];
                for (gj, &zkj) in gs.iter_mut().zip(&z[k * n..k * n + i]) {
                    *gj += zik * zkj;
                }
            }
            for k in 0..i {
                let zki = z[at(k, i)];
                for (zkj, &gj) in z[k * n..k * n + i].iter_mut().zip(gs.iter()) {
                    *zkj -= gj * zki;
                }
            }
        }
        d[i] = z[at(i, i)];
        z[at(i, i)] = 1.0;
        for j in 0..i {
            z[at(j, i)] = 0.0;
            z[at(i, j)] = 0.0;
        }
    }
}

/// Implicit QL with Wilkinson shifts on the tridiagonal `(d, e)` (`e[1..]` the sub-diagonal),
/// rotating the rows of `wt` (EISPACK `tql2` / Numerical Recipes `tqli`). On return `d` holds the
/// eigenvalues and row `i` of `wt` the eigenvector of `d[i]`.
#[inline(always)]
fn ql_implicit(d: &mut [f64], e: &mut [f64], wt: &mut [f64], n: usize) -> Result<(), LinalgError> {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    for l in 0..n {
        let mut iter = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() + dd == dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iter += 1;
            if iter > MAX_QL_ITERATIONS {
                return Err(LinalgError::NoConvergence {
                    op: "small eigendecomposition",
                });
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            // g^2 may overflow to infinity when e[l] is tiny; the shift is then d[m] - d[l],
            // which is also what e[l] / (g + r) -> 0 gives
            let mut r = (g * g + 1.0).sqrt();
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            let mut i = m;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                // |f|, |g| <= O(n) after the scaling: no overflow, and no libm hypot (it was
                // a tenth of the retraction's time)
                r = (f * f + g * g).sqrt();
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                // rows i and i + 1 of W^T
                let (lo, hi) = wt.split_at_mut((i + 1) * n);
                let zi = &mut lo[i * n..];
                let zi1 = &mut hi[..n];
                for (a, b) in zi.iter_mut().zip(zi1.iter_mut()) {
                    let f = *b;
                    *b = s * *a + c * f;
                    *a = c * *a - s * f;
                }
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    if d.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence {
            op: "small eigendecomposition",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform draws in `[-0.5, 0.5)` from a 64-bit LCG (the tests need no `rand`).
    fn uniform(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64) / (1u64 << 53) as f64 - 0.5
        }
    }

    /// The instruction-set variants of [`eigh_descending`] give bitwise the results of the
    /// baseline build of the same code (no FMA, no reassociation): compared on random Gram
    /// matrices of the truncation sizes.
    #[test]
    fn dispatch_is_bitwise_the_baseline() {
        let mut rnd = uniform(3);
        for &n in &[3usize, 8, 17, 32, 64] {
            let b: Vec<f64> = (0..2 * n * n).map(|_| rnd()).collect();
            let a: Vec<f64> = (0..n * n)
                .map(|ij| {
                    let (i, j) = (ij / n, ij % n);
                    (0..2 * n).map(|k| b[k * n + i] * b[k * n + j]).sum()
                })
                .collect();
            let dispatched = eigh_descending(&a, n).unwrap();
            let baseline = eigh_kernel(&a, n).unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&dispatched.0), bits(&baseline.0), "n={n}: eigenvalues");
            assert_eq!(
                bits(&dispatched.1),
                bits(&baseline.1),
                "n={n}: eigenvectors"
            );
        }
    }

    /// `W^T A W = diag(lambda)` and `W^T W = I` to `O(n u ||A||)` for random symmetric matrices
    /// (with clustered and repeated eigenvalues too), eigenvalues descending and equal to faer's.
    #[test]
    fn eigh_descending_diagonalizes() {
        let mut rnd = uniform(7);
        for &n in &[1usize, 2, 3, 5, 16, 32, 40] {
            for kind in 0..3 {
                let b: Vec<f64> = (0..n * n).map(|_| rnd()).collect();
                // kind 0: B + B^T; 1: B^T B (PSD, a Gram); 2: low rank + identity (repeated)
                let a: Vec<f64> = (0..n * n)
                    .map(|ij| {
                        let (i, j) = (ij / n, ij % n);
                        match kind {
                            0 => b[i * n + j] + b[j * n + i],
                            1 => (0..n).map(|k| b[k * n + i] * b[k * n + j]).sum(),
                            _ => b[i] * b[j] + f64::from(i == j),
                        }
                    })
                    .collect();
                let (lam, wt) = eigh_descending(&a, n).unwrap();
                let anorm = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1.0);
                for i in 0..n {
                    if i + 1 < n {
                        assert!(lam[i] >= lam[i + 1]);
                    }
                    for j in 0..n {
                        let wtw: f64 = (0..n).map(|k| wt[i * n + k] * wt[j * n + k]).sum();
                        let waw: f64 = (0..n)
                            .map(|k| {
                                (0..n)
                                    .map(|m| wt[i * n + k] * a[k * n + m] * wt[j * n + m])
                                    .sum::<f64>()
                            })
                            .sum();
                        let id = f64::from(i == j);
                        assert!((wtw - id).abs() <= 1e-13, "n={n} kind={kind}: W^T W");
                        assert!(
                            (waw - id * lam[i]).abs() <= 1e-13 * anorm,
                            "n={n} kind={kind}: W^T A W"
                        );
                    }
                }
            }
        }
    }
}
