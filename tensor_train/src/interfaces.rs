//! Batched contraction of a TT with per-mode feature vectors: interfaces (MATH.md §1.3).
//!
//! For `N` samples with feature matrices `Phi_k` (`N x n_k`, row `i` is `phi_k(x_k^i)`), the
//! core evaluated at a sample is `A_k(x) = sum_j phi_{k,j}(x_k) G_k[j]`, and
//! - left interfaces: `ell_0 = 1`, `ell_k = ell_{k-1} A_k` (rows of `left[k]`, `N x r_k`);
//! - right interfaces: `rho_d = 1`, `rho_k = A_k rho_{k+1}` (rows of `right[k]`, `N x r_k`,
//!   storing `rho^T`);
//! - values `v(x^i) = ell_k(x^i) rho_k(x^i)` for every `k`.
//!
//! One left step is `(L_{k-1} (.) Phi_k) G_k^L`, cost `O(N n r^2)`: a fused kernel for the
//! usual output widths (the face split is never stored, see `fused`), otherwise the face split
//! followed by one GEMM. Samples are processed in row chunks that fit
//! in cache, in parallel over chunks when asked ([`Par::Rayon`]); each chunk's GEMM is
//! sequential.

use crate::error::{Result, TtError};
use crate::gauge::{left_unfolding, right_unfolding};
use crate::linalg::{self, Par};
use crate::tt::TensorTrain;
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows per chunk: `CHUNK x n r` doubles of scratch stay in L2 for the sizes of interest.
pub const CHUNK: usize = 512;

/// Check that `features` has one `N x n_k` matrix per mode with the TT's mode sizes, and
/// return `N`.
pub fn check_features(tt: &TensorTrain, features: &[ArrayView2<'_, f64>]) -> Result<usize> {
    if features.len() != tt.order() {
        return Err(TtError::Shape(format!(
            "{} feature matrices for a TT of order {}",
            features.len(),
            tt.order()
        )));
    }
    let n_samples = features[0].nrows();
    for (k, (f, n)) in features.iter().zip(tt.mode_sizes()).enumerate() {
        if f.nrows() != n_samples {
            return Err(TtError::Shape(format!(
                "feature matrix {k} has {} rows, matrix 0 has {n_samples}",
                f.nrows()
            )));
        }
        if f.ncols() != n {
            return Err(TtError::Shape(format!(
                "feature matrix {k} has {} columns, mode size is {n}",
                f.ncols()
            )));
        }
    }
    Ok(n_samples)
}

/// Row-wise Kronecker product into a C-order scratch slice: row `i` of the `rows x (p q)`
/// result is `a[i, :] (x) b[i, :]`.
pub fn face_split_into(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, out: &mut [f64]) {
    let (rows, p) = a.dim();
    let q = b.ncols();
    assert_eq!(b.nrows(), rows, "face split: row counts differ");
    assert_eq!(
        out.len(),
        rows * p * q,
        "face split: output has the wrong length"
    );
    if rows == 0 || p * q == 0 {
        return;
    }
    match (a.as_slice(), b.as_slice()) {
        (Some(as_), Some(bs)) => face_split_slices(as_, bs, p, q, out),
        _ => {
            let a = a.as_standard_layout();
            let b = b.as_standard_layout();
            face_split_slices(
                a.as_slice().expect("C-order"),
                b.as_slice().expect("C-order"),
                p,
                q,
                out,
            )
        }
    }
}

#[inline(always)]
fn face_split_kernel(a: &[f64], b: &[f64], p: usize, q: usize, out: &mut [f64]) {
    // a compile-time inner length for the feature sizes in use: the generic loop below does
    // not vectorize for q = 6 or 7 and was 40 % of a matrix-free NGD profile
    match q {
        4 => face_split_fixed::<4>(a, b, p, out),
        5 => face_split_fixed::<5>(a, b, p, out),
        6 => face_split_fixed::<6>(a, b, p, out),
        7 => face_split_fixed::<7>(a, b, p, out),
        8 => face_split_fixed::<8>(a, b, p, out),
        _ => face_split_generic(a, b, p, q, out),
    }
}

#[inline(always)]
fn face_split_fixed<const Q: usize>(a: &[f64], b: &[f64], p: usize, out: &mut [f64]) {
    for ((orow, arow), brow) in out
        .chunks_exact_mut(p * Q)
        .zip(a.chunks_exact(p))
        .zip(b.chunks_exact(Q))
    {
        let mut bb = [0.0; Q];
        bb.copy_from_slice(brow);
        for (seg, &x) in orow.chunks_exact_mut(Q).zip(arow) {
            for j in 0..Q {
                seg[j] = x * bb[j];
            }
        }
    }
}

#[inline(always)]
fn face_split_generic(a: &[f64], b: &[f64], p: usize, q: usize, out: &mut [f64]) {
    for ((orow, arow), brow) in out
        .chunks_exact_mut(p * q)
        .zip(a.chunks_exact(p))
        .zip(b.chunks_exact(q))
    {
        for (seg, &x) in orow.chunks_exact_mut(q).zip(arow) {
            for (o, &y) in seg.iter_mut().zip(brow) {
                *o = x * y;
            }
        }
    }
}

/// The face split on C-order slices, compiled for AVX2 when the CPU has it (the crate is
/// built for baseline x86-64, whose 2-wide SSE2 code makes this loop as slow as the GEMM that
/// follows it).
fn face_split_slices(a: &[f64], b: &[f64], p: usize, q: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            #[target_feature(enable = "avx2")]
            fn avx2(a: &[f64], b: &[f64], p: usize, q: usize, out: &mut [f64]) {
                face_split_kernel(a, b, p, q, out)
            }
            // SAFETY: the CPU supports AVX2 (checked above)
            return unsafe { avx2(a, b, p, q, out) };
        }
    }
    face_split_kernel(a, b, p, q, out)
}

/// Fused left steps for small output ranks: the face split is never stored.
///
/// Row `i` of `out = (L (.) Phi) G^L` is `sum_a l[i, a] (sum_j phi[i, j] G[a, j, :])`: for a
/// compile-time output width `RB` the inner sums are `RB`-wide vector FMAs against the rows of
/// the core (which stay in L1), with no `rows x (r n)` scratch written and read back. Each
/// row's arithmetic is fixed (same order of operations for any chunking), so results do not
/// depend on how rows are split over threads. Used only where the CPU has AVX2 and FMA; the
/// GEMM path serves everything else.
mod fused {
    use ndarray::{Array3, ArrayView2, ArrayViewMut2};

    /// `true` when the fused kernel handled the step (C-contiguous operands, supported width,
    /// AVX2 + FMA available).
    pub(super) fn left_step(
        l: ArrayView2<'_, f64>,
        core: &Array3<f64>,
        phi: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if !(std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"))
            {
                return false;
            }
            let (ra, n, rb) = core.dim();
            let (Some(ls), Some(ps), Some(gs)) = (l.as_slice(), phi.as_slice(), core.as_slice())
            else {
                return false;
            };
            let Some(os) = out.as_slice_mut() else {
                return false;
            };
            let avx512 = std::arch::is_x86_feature_detected!("avx512f");
            // SAFETY: AVX2 and FMA are available (checked above), AVX-512F where `avx512`
            unsafe {
                match rb {
                    1 if n <= 16 => last_core_avx2(ls, ps, gs, ra, n, os),
                    4 if avx512 => kernel_avx512::<4>(ls, ps, gs, ra, n, os),
                    6 if avx512 => kernel_avx512::<6>(ls, ps, gs, ra, n, os),
                    8 if avx512 => kernel_avx512_blocked::<8, 4, 4>(ls, ps, gs, ra, n, os),
                    16 if avx512 => kernel_avx512_blocked::<16, 2, 4>(ls, ps, gs, ra, n, os),
                    2 => kernel_avx2::<2>(ls, ps, gs, ra, n, os),
                    3 => kernel_avx2::<3>(ls, ps, gs, ra, n, os),
                    4 => kernel_avx2::<4>(ls, ps, gs, ra, n, os),
                    5 => kernel_avx2::<5>(ls, ps, gs, ra, n, os),
                    6 => kernel_avx2::<6>(ls, ps, gs, ra, n, os),
                    7 => kernel_avx2::<7>(ls, ps, gs, ra, n, os),
                    8 => kernel_avx2::<8>(ls, ps, gs, ra, n, os),
                    12 => kernel_avx2::<12>(ls, ps, gs, ra, n, os),
                    16 => kernel_avx2::<16>(ls, ps, gs, ra, n, os),
                    _ => return false,
                }
            }
            true
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (l, core, phi, out);
            false
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn kernel_avx2<const RB: usize>(
        l: &[f64],
        phi: &[f64],
        g: &[f64],
        ra: usize,
        n: usize,
        out: &mut [f64],
    ) {
        kernel::<RB, 4>(l, phi, g, ra, n, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn kernel_avx512<const RB: usize>(
        l: &[f64],
        phi: &[f64],
        g: &[f64],
        ra: usize,
        n: usize,
        out: &mut [f64],
    ) {
        kernel::<RB, 8>(l, phi, g, ra, n, out)
    }

    /// [`kernel_avx512`] with the sums over `j` of `A` consecutive `a` interleaved (see
    /// [`block_interleaved`]): the same operation order per row, so bitwise the same result.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn kernel_avx512_blocked<const RB: usize, const R: usize, const A: usize>(
        l: &[f64],
        phi: &[f64],
        g: &[f64],
        ra: usize,
        n: usize,
        out: &mut [f64],
    ) {
        let rows = out.len() / RB;
        // the one bounds check: every access of `block_interleaved` is inside these lengths
        assert!(
            l.len() >= rows * ra && phi.len() >= rows * n && g.len() >= ra * n * RB,
            "fused left step: operand lengths"
        );
        let full = rows / R * R;
        let (lp, pp, gp, op) = (l.as_ptr(), phi.as_ptr(), g.as_ptr(), out.as_mut_ptr());
        // SAFETY: rows `i0..i0 + R` (or `i`) of `l`, `phi`, `out` and all of `g` are in bounds
        // (checked above); the blocks of `out` are disjoint.
        unsafe {
            for i0 in (0..full).step_by(R) {
                prefetch_rows(pp, n, i0 + PREFETCH_ROWS, R);
                block_interleaved::<RB, R, A>(
                    lp.add(i0 * ra),
                    pp.add(i0 * n),
                    gp,
                    ra,
                    n,
                    op.add(i0 * RB),
                );
            }
            for i in full..rows {
                block_interleaved::<RB, 1, A>(
                    lp.add(i * ra),
                    pp.add(i * n),
                    gp,
                    ra,
                    n,
                    op.add(i * RB),
                );
            }
        }
    }

    /// Rows ahead of the current block whose features are prefetched: the features (64 MB
    /// per evaluation at N = 1e5, d = 10, n = 8) are streamed from memory, one cache line per
    /// row and core, and without the prefetch the first broadcast of each row took 18 % of
    /// the kernel's samples (`perf record`, the L2 streamer restarts at every 4 KiB page).
    /// 32 rows are 8 blocks of 4, ~1200 cycles of work at d = 10: more than a memory latency
    /// (16 rows ran 3-8 % slower in alternating runs, `examples/kernel_cpu_rates.rs`).
    #[cfg(target_arch = "x86_64")]
    const PREFETCH_ROWS: usize = 32;

    /// Prefetch (into L1) the cache lines of rows `i..i + rows` of the `n`-column C-order
    /// matrix at `p`. Addresses past the end are only prefetched, never read (a prefetch does
    /// not fault), and are formed with `wrapping_add`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn prefetch_rows(p: *const f64, n: usize, i: usize, rows: usize) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = p.wrapping_add(i * n) as *const i8;
        let bytes = rows * n * 8;
        for off in (0..bytes).step_by(64) {
            // SAFETY: prefetch has no architectural effect and never faults
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(off)) };
        }
    }

    /// [`block`] with the loop over `j` outside a group of `A` consecutive `a`: each broadcast
    /// `phi[i, j]` then serves `A` vector FMAs instead of one, which halves the loads per FMA
    /// (the limit of [`block`] at `RB = 8`: one broadcast per FMA). Every row still computes
    /// `tmp_a = sum_j phi[i, j] G[a, j, :]` in index order and `acc = sum_a l[i, a] tmp_a` in
    /// index order, exactly as [`block`] does.
    ///
    /// Raw pointers, no bounds checks: with checked slices the index arithmetic and the
    /// checks (about 40 integer instructions per 16 FMAs, operands reloaded from the stack)
    /// bound the loop, not the FMAs.
    ///
    /// # Safety
    /// `l` holds `R x ra`, `phi` `R x n`, `g` `ra x n x RB` and `out` `R x RB` values
    /// (C order); `out` does not alias the others.
    #[inline(always)]
    unsafe fn block_interleaved<const RB: usize, const R: usize, const A: usize>(
        l: *const f64,
        phi: *const f64,
        g: *const f64,
        ra: usize,
        n: usize,
        out: *mut f64,
    ) {
        let mut acc = [[0.0f64; RB]; R];
        let stride = n * RB;
        let full = ra / A * A;
        for a0 in (0..full).step_by(A) {
            let mut tmp = [[[0.0f64; RB]; R]; A];
            let ga = g.add(a0 * stride);
            for j in 0..n {
                let mut p = [0.0f64; R];
                for (r, pr) in p.iter_mut().enumerate() {
                    *pr = *phi.add(r * n + j);
                }
                for (aa, ta) in tmp.iter_mut().enumerate() {
                    let gj = ga.add(aa * stride + j * RB);
                    for (tr, &pr) in ta.iter_mut().zip(&p) {
                        for (b, t) in tr.iter_mut().enumerate() {
                            *t = pr.mul_add(*gj.add(b), *t);
                        }
                    }
                }
            }
            for (aa, ta) in tmp.iter().enumerate() {
                for (r, (accr, tr)) in acc.iter_mut().zip(ta).enumerate() {
                    let la = *l.add(r * ra + a0 + aa);
                    for (c, &t) in accr.iter_mut().zip(tr) {
                        *c = la.mul_add(t, *c);
                    }
                }
            }
        }
        for a in full..ra {
            let mut tmp = [[0.0f64; RB]; R];
            let ga = g.add(a * stride);
            for j in 0..n {
                let gj = ga.add(j * RB);
                for (r, tr) in tmp.iter_mut().enumerate() {
                    let p = *phi.add(r * n + j);
                    for (b, t) in tr.iter_mut().enumerate() {
                        *t = p.mul_add(*gj.add(b), *t);
                    }
                }
            }
            for (r, (accr, tr)) in acc.iter_mut().zip(&tmp).enumerate() {
                let la = *l.add(r * ra + a);
                for (c, &t) in accr.iter_mut().zip(tr) {
                    *c = la.mul_add(t, *c);
                }
            }
        }
        for (r, accr) in acc.iter().enumerate() {
            std::ptr::copy_nonoverlapping(accr.as_ptr(), out.add(r * RB), RB);
        }
    }

    /// The interleaved block gives bitwise the results of the plain one (same operation
    /// order per row), with a remainder in `a` (`ra = 6`, `A = 4`) and in the rows.
    #[cfg(all(test, target_arch = "x86_64"))]
    #[test]
    fn interleaved_block_is_bitwise_the_plain_block() {
        if !(std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma"))
        {
            return;
        }
        for &(ra, n, rb) in &[(6usize, 8usize, 8usize), (8, 8, 8), (5, 10, 16), (1, 7, 8)] {
            let rows = 29;
            let l: Vec<f64> = (0..rows * ra).map(|i| (i as f64 * 0.37).sin()).collect();
            let phi: Vec<f64> = (0..rows * n).map(|i| (i as f64 * 0.91).cos()).collect();
            let g: Vec<f64> = (0..ra * n * rb).map(|i| (i as f64 * 0.13).sin()).collect();
            let mut plain = vec![0.0; rows * rb];
            let mut inter = vec![0.0; rows * rb];
            // SAFETY: AVX-512F and FMA checked above
            unsafe {
                if rb == 8 {
                    kernel_avx512::<8>(&l, &phi, &g, ra, n, &mut plain);
                    kernel_avx512_blocked::<8, 4, 4>(&l, &phi, &g, ra, n, &mut inter);
                } else {
                    kernel_avx512::<16>(&l, &phi, &g, ra, n, &mut plain);
                    kernel_avx512_blocked::<16, 2, 4>(&l, &phi, &g, ra, n, &mut inter);
                }
            }
            assert_eq!(plain, inter, "({ra},{n},{rb})");
        }
    }

    /// Output width 1 (the last core): `out[i] = sum_j phi[i, j] (sum_a l[i, a] G[a, j])`,
    /// vectorized over `j` (`n <= 16`), the final sum over `j` in index order. For
    /// `n = 4, 6, 8, 10` ([`last_core_rows`]) eight rows are interleaved: one row alone is two serial chains of
    /// `ra` and `n` FMAs (latency-bound, 15 % of a batch evaluation at d = 10 in a `perf`
    /// profile); the operation order of every row is unchanged.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn last_core_avx2(l: &[f64], phi: &[f64], g: &[f64], ra: usize, n: usize, out: &mut [f64]) {
        let rows = out.len();
        assert!(
            l.len() >= rows * ra && phi.len() >= rows * n && g.len() >= ra * n,
            "fused last core: operand lengths"
        );
        const R: usize = 8;
        let done = if matches!(n, 4 | 6 | 8 | 10) {
            rows / R * R
        } else {
            0
        };
        for i0 in (0..done).step_by(R) {
            let (lp, pp, gp) = (l.as_ptr(), phi.as_ptr(), g.as_ptr());
            // SAFETY: rows `i0..i0 + R` are in bounds (checked above). A `match` rather than a
            // function pointer, so that the kernel is inlined with this function's features.
            unsafe {
                let (li, pi, oi) = (lp.add(i0 * ra), pp.add(i0 * n), out.as_mut_ptr().add(i0));
                match n {
                    4 => last_core_rows::<4, R>(li, pi, gp, ra, oi),
                    6 => last_core_rows::<6, R>(li, pi, gp, ra, oi),
                    8 => last_core_rows::<8, R>(li, pi, gp, ra, oi),
                    _ => last_core_rows::<10, R>(li, pi, gp, ra, oi),
                }
            }
        }
        for ((o, lrow), prow) in out[done..]
            .iter_mut()
            .zip(l[done * ra..].chunks_exact(ra))
            .zip(phi[done * n..].chunks_exact(n))
        {
            let mut t = [0.0f64; 16];
            for (ga, &la) in g.chunks_exact(n).zip(lrow) {
                for (tj, &gj) in t.iter_mut().zip(ga) {
                    *tj = la.mul_add(gj, *tj);
                }
            }
            let mut v = 0.0;
            for (tj, &p) in t.iter().zip(prow) {
                v = p.mul_add(*tj, v);
            }
            *o = v;
        }
    }

    /// `R` rows of the last core with a compile-time `n = N`: per row `t = sum_a l[i, a]
    /// G[a, :]` (in `a` order) and `out[i] = sum_j phi[i, j] t_j` (in `j` order), exactly the
    /// operations of the row loop of [`last_core_avx2`].
    ///
    /// # Safety
    /// `l` holds `R x ra`, `phi` `R x N`, `g` `ra x N`, `out` `R` values.
    #[inline(always)]
    unsafe fn last_core_rows<const N: usize, const R: usize>(
        l: *const f64,
        phi: *const f64,
        g: *const f64,
        ra: usize,
        out: *mut f64,
    ) {
        let mut t = [[0.0f64; N]; R];
        for a in 0..ra {
            let ga = g.add(a * N);
            for (r, tr) in t.iter_mut().enumerate() {
                let la = *l.add(r * ra + a);
                for (j, tj) in tr.iter_mut().enumerate() {
                    *tj = la.mul_add(*ga.add(j), *tj);
                }
            }
        }
        let mut v = [0.0f64; R];
        for j in 0..N {
            for (r, (vr, tr)) in v.iter_mut().zip(&t).enumerate() {
                *vr = (*phi.add(r * N + j)).mul_add(tr[j], *vr);
            }
        }
        std::ptr::copy_nonoverlapping(v.as_ptr(), out, R);
    }

    /// Rows are taken `ROWS` at a time so that `ROWS x RB / lanes` independent FMA chains hide
    /// the FMA latency and every load of a core row serves `ROWS` samples. One length check,
    /// then raw pointers (see [`block_interleaved`] for why), and the feature rows are
    /// prefetched [`PREFETCH_ROWS`] ahead.
    #[inline(always)]
    fn kernel<const RB: usize, const ROWS: usize>(
        l: &[f64],
        phi: &[f64],
        g: &[f64],
        ra: usize,
        n: usize,
        out: &mut [f64],
    ) {
        let rows = out.len() / RB;
        assert!(
            l.len() >= rows * ra && phi.len() >= rows * n && g.len() >= ra * n * RB,
            "fused left step: operand lengths"
        );
        let full = rows / ROWS * ROWS;
        let (lp, pp, gp, op) = (l.as_ptr(), phi.as_ptr(), g.as_ptr(), out.as_mut_ptr());
        // SAFETY: rows `i0..i0 + ROWS` (or `i`) of `l`, `phi`, `out` and all of `g` are in
        // bounds (checked above); the blocks of `out` are disjoint.
        unsafe {
            for i0 in (0..full).step_by(ROWS) {
                #[cfg(target_arch = "x86_64")]
                prefetch_rows(pp, n, i0 + PREFETCH_ROWS, ROWS);
                block::<RB, ROWS>(lp.add(i0 * ra), pp.add(i0 * n), gp, ra, n, op.add(i0 * RB));
            }
            for i in full..rows {
                block::<RB, 1>(lp.add(i * ra), pp.add(i * n), gp, ra, n, op.add(i * RB));
            }
        }
    }

    /// `R` rows: `out[i, :] = sum_a l[i, a] sum_j phi[i, j] G[a, j, :]`, the same operation
    /// order for every row whatever `R` is.
    ///
    /// # Safety
    /// `l` holds `R x ra`, `phi` `R x n`, `g` `ra x n x RB` and `out` `R x RB` values
    /// (C order); `out` does not alias the others.
    #[inline(always)]
    unsafe fn block<const RB: usize, const R: usize>(
        l: *const f64,
        phi: *const f64,
        g: *const f64,
        ra: usize,
        n: usize,
        out: *mut f64,
    ) {
        let mut acc = [[0.0f64; RB]; R];
        for a in 0..ra {
            let ga = g.add(a * n * RB);
            let mut tmp = [[0.0f64; RB]; R];
            for j in 0..n {
                let gj = ga.add(j * RB);
                for (r, tr) in tmp.iter_mut().enumerate() {
                    let p = *phi.add(r * n + j);
                    for (b, t) in tr.iter_mut().enumerate() {
                        *t = p.mul_add(*gj.add(b), *t);
                    }
                }
            }
            for (r, (accr, tr)) in acc.iter_mut().zip(&tmp).enumerate() {
                let la = *l.add(r * ra + a);
                for (c, &t) in accr.iter_mut().zip(tr) {
                    *c = la.mul_add(t, *c);
                }
            }
        }
        for (r, accr) in acc.iter().enumerate() {
            std::ptr::copy_nonoverlapping(accr.as_ptr(), out.add(r * RB), RB);
        }
    }
}

/// One left step for a block of rows: `out[i, b] = sum_{a,j} l[i, a] phi[i, j] G[a, j, b]`,
/// computed as `(L (.) Phi) G^L`: the face-splitting product (`rows x r_{k-1} n_k`, in `work`)
/// times the left unfolding, one GEMM with inner dimension `r_{k-1} n_k`. `work` is scratch,
/// grown to `rows x (r_{k-1} n_k)` entries.
pub fn left_step_into(
    l_prev: ArrayView2<'_, f64>,
    core: &Array3<f64>,
    phi: ArrayView2<'_, f64>,
    out: ArrayViewMut2<'_, f64>,
    work: &mut Vec<f64>,
) -> Result<()> {
    let (ra, n, rk) = core.dim();
    let rows = l_prev.nrows();
    if l_prev.ncols() != ra || phi.dim() != (rows, n) || out.dim() != (rows, rk) {
        return Err(TtError::Shape(format!(
            "left step: interfaces {:?}, core {:?}, features {:?}, output {:?}",
            l_prev.dim(),
            core.dim(),
            phi.dim(),
            out.dim()
        )));
    }
    let mut out = out;
    if fused::left_step(l_prev, core, phi, out.view_mut()) {
        return Ok(());
    }
    let len = rows * ra * n;
    if work.len() < len {
        work.resize(len, 0.0);
    }
    let w = &mut work[..len];
    face_split_into(l_prev, phi, w);
    let wv = ArrayView2::from_shape((rows, ra * n), &*w).expect("scratch sized above");
    linalg::gemm(1.0, wv, left_unfolding(core), 0.0, out, Par::Seq)?;
    Ok(())
}

/// One right step for a block of rows: `out[i, a] = sum_{j,b} G[a, j, b] phi[i, j] r[i, b]`,
/// computed as `(Phi (.) R) (G^R)^T` (one GEMM with inner dimension `n_k r_k`).
pub fn right_step_into(
    core: &Array3<f64>,
    phi: ArrayView2<'_, f64>,
    r_next: ArrayView2<'_, f64>,
    out: ArrayViewMut2<'_, f64>,
    work: &mut Vec<f64>,
) -> Result<()> {
    let (ra, n, rb) = core.dim();
    let rows = r_next.nrows();
    if r_next.ncols() != rb || phi.dim() != (rows, n) || out.dim() != (rows, ra) {
        return Err(TtError::Shape(format!(
            "right step: interfaces {:?}, core {:?}, features {:?}, output {:?}",
            r_next.dim(),
            core.dim(),
            phi.dim(),
            out.dim()
        )));
    }
    let len = rows * n * rb;
    if work.len() < len {
        work.resize(len, 0.0);
    }
    let w = &mut work[..len];
    face_split_into(phi, r_next, w);
    let wv = ArrayView2::from_shape((rows, n * rb), &*w).expect("scratch sized above");
    linalg::gemm(1.0, wv, right_unfolding(core).t(), 0.0, out, Par::Seq)?;
    Ok(())
}

/// Run `f(row_range, chunk_index)` over row chunks of `n_rows`, in parallel if asked.
fn for_chunks<F>(n_rows: usize, par: Par, f: F) -> Result<()>
where
    F: Fn(std::ops::Range<usize>) -> Result<()> + Sync + Send,
{
    let starts: Vec<usize> = (0..n_rows).step_by(CHUNK).collect();
    let run = |&s0: &usize| f(s0..(s0 + CHUNK).min(n_rows));
    match par {
        Par::Seq => starts.iter().try_for_each(run),
        Par::Rayon(_) => starts.par_iter().try_for_each(run),
    }
}

/// A raw pointer wrapper so disjoint row blocks of one output can be written from several
/// threads.
#[derive(Clone, Copy)]
struct SharedOut {
    ptr: *mut f64,
    ncols: usize,
}
// SAFETY: only used by `for_chunks`, whose chunks are disjoint row ranges of a C-order array.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    fn new(a: &mut Array2<f64>) -> Self {
        assert!(a.is_standard_layout());
        SharedOut {
            ptr: a.as_mut_ptr(),
            ncols: a.ncols(),
        }
    }
    /// SAFETY: callers must use disjoint `rows` from different threads, inside the array.
    unsafe fn rows(&self, rows: std::ops::Range<usize>) -> ArrayViewMut2<'_, f64> {
        let len = rows.len() * self.ncols;
        let slice = std::slice::from_raw_parts_mut(self.ptr.add(rows.start * self.ncols), len);
        ArrayViewMut2::from_shape((rows.len(), self.ncols), slice)
            .expect("row block of a C-order array")
    }
}

/// Values `v(x^i) = A_1(x_1^i) ... A_d(x_d^i)` at `N` samples, `O(N d n r^2)` at GEMM rate.
pub fn values(tt: &TensorTrain, features: &[ArrayView2<'_, f64>], par: Par) -> Result<Array1<f64>> {
    let n_samples = check_features(tt, features)?;
    let mut out = Array2::zeros((n_samples, 1));
    let shared = SharedOut::new(&mut out);
    let cores = tt.cores();
    let rmax = tt.max_rank();
    for_chunks(n_samples, par, |rows| {
        let len = rows.len();
        let mut cur_buf = vec![1.0; len * rmax];
        let mut next_buf = vec![0.0; len * rmax];
        let mut work = Vec::new();
        let mut r_prev = 1;
        for (k, core) in cores.iter().enumerate() {
            let rk = core.shape()[2];
            let phi = features[k].slice(s![rows.clone(), ..]);
            let cur =
                ArrayView2::from_shape((len, r_prev), &cur_buf[..len * r_prev]).expect("sized");
            let next =
                ArrayViewMut2::from_shape((len, rk), &mut next_buf[..len * rk]).expect("sized");
            left_step_into(cur, core, phi, next, &mut work)?;
            std::mem::swap(&mut cur_buf, &mut next_buf);
            r_prev = rk;
        }
        let cur = ArrayView2::from_shape((len, 1), &cur_buf[..len]).expect("sized");
        // SAFETY: chunks are disjoint row ranges
        let mut o = unsafe { shared.rows(rows) };
        o.assign(&cur);
        Ok(())
    })?;
    Ok(out.index_axis_move(Axis(1), 0))
}

/// All left interfaces `left[k]` (`N x r_k`, `k = 0..=d`; `left[0]` is ones, `left[d]` the
/// values). Memory `O(N d r)`.
pub fn left_interfaces(
    tt: &TensorTrain,
    features: &[ArrayView2<'_, f64>],
    par: Par,
) -> Result<Vec<Array2<f64>>> {
    let n_samples = check_features(tt, features)?;
    let ranks = tt.ranks();
    let mut out: Vec<Array2<f64>> = ranks
        .iter()
        .map(|&r| Array2::zeros((n_samples, r)))
        .collect();
    out[0].fill(1.0);
    let shared: Vec<SharedOut> = out.iter_mut().map(SharedOut::new).collect();
    let cores = tt.cores();
    for_chunks(n_samples, par, |rows| {
        let mut work = Vec::new();
        for (k, core) in cores.iter().enumerate() {
            // SAFETY: disjoint row ranges per chunk; left[k] was completed for these rows in
            // the previous iteration of this same chunk
            let prev = unsafe { shared[k].rows(rows.clone()) };
            let next = unsafe { shared[k + 1].rows(rows.clone()) };
            let phi = features[k].slice(s![rows.clone(), ..]);
            left_step_into(prev.view(), core, phi, next, &mut work)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// All right interfaces `right[k]` (`N x r_k`, row `i` is `rho_k(x^i)^T` = product of cores
/// `k..d`; `right[d]` is ones, `right[0]` the values).
pub fn right_interfaces(
    tt: &TensorTrain,
    features: &[ArrayView2<'_, f64>],
    par: Par,
) -> Result<Vec<Array2<f64>>> {
    let n_samples = check_features(tt, features)?;
    let d = tt.order();
    let ranks = tt.ranks();
    let mut out: Vec<Array2<f64>> = ranks
        .iter()
        .map(|&r| Array2::zeros((n_samples, r)))
        .collect();
    out[d].fill(1.0);
    let shared: Vec<SharedOut> = out.iter_mut().map(SharedOut::new).collect();
    let cores = tt.cores();
    for_chunks(n_samples, par, |rows| {
        let mut work = Vec::new();
        for k in (0..d).rev() {
            // SAFETY: disjoint row ranges per chunk
            let next = unsafe { shared[k + 1].rows(rows.clone()) };
            let cur = unsafe { shared[k].rows(rows.clone()) };
            let phi = features[k].slice(s![rows.clone(), ..]);
            right_step_into(&cores[k], phi, next.view(), cur, &mut work)?;
        }
        Ok(())
    })?;
    Ok(out)
}

impl TensorTrain {
    /// Values at `N` samples given the per-mode feature matrices; see [`values`].
    pub fn eval_features(&self, features: &[ArrayView2<'_, f64>], par: Par) -> Result<Array1<f64>> {
        values(self, features, par)
    }
}

#[cfg(test)]
mod face_split_tests {
    use super::face_split_into;
    use ndarray::Array2;

    /// Every specialized inner length (4..=8) and the generic path agree with the definition
    /// `out[i, a q + j] = A[i, a] B[i, j]` exactly (one product per entry, no rounding choice).
    #[test]
    fn face_split_matches_the_definition_for_every_width() {
        for q in 1..=10 {
            for p in [1usize, 3, 8] {
                let rows = 7;
                let a = Array2::from_shape_fn((rows, p), |(i, j)| (i * 31 + j) as f64 * 0.37 - 2.0);
                let b =
                    Array2::from_shape_fn((rows, q), |(i, j)| (i * 17 + j * 5) as f64 * 0.11 - 1.0);
                let mut out = vec![0.0; rows * p * q];
                face_split_into(a.view(), b.view(), &mut out);
                for i in 0..rows {
                    for x in 0..p {
                        for y in 0..q {
                            assert_eq!(out[(i * p + x) * q + y], a[[i, x]] * b[[i, y]]);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod fused_tests {
    use super::{face_split_into, fused};
    use crate::gauge::left_unfolding;
    use ndarray::{s, Array2, Array3, ArrayView2};

    /// The fused left step equals the face split followed by the GEMM with the left unfolding
    /// (a different summation order, so to a few ulps of the absolute sum: 1e-13 for O(1)
    /// data with at most 16 x 16 terms), for every specialized output width and for widths
    /// it declines; and a row's result does not depend on the block of rows it is computed
    /// in (bitwise), which is what makes evaluation independent of the thread count.
    #[test]
    fn fused_left_step_matches_face_split_and_is_independent_of_row_blocks() {
        for &(ra, n, rb) in &[
            (1, 8, 8),
            (8, 8, 8),
            (8, 8, 1),
            (3, 5, 2),
            (4, 6, 3),
            (6, 6, 4),
            (5, 7, 5),
            (4, 6, 6),
            (6, 4, 7),
            (7, 3, 12),
            (16, 10, 16),
            (16, 10, 1),
            (4, 20, 1),
            (4, 6, 1),
            (6, 4, 1),
            (5, 10, 1),
            (3, 4, 9),
            (6, 8, 8),
            (5, 10, 16),
        ] {
            let rows = 37; // not a multiple of the row block
            let l = Array2::from_shape_fn((rows, ra), |(i, a)| {
                ((i * 7 + a * 3) % 11) as f64 * 0.2 - 1.0
            });
            let phi = Array2::from_shape_fn((rows, n), |(i, j)| {
                ((i * 5 + j * 13) % 7) as f64 * 0.3 - 0.9
            });
            let core = Array3::from_shape_fn((ra, n, rb), |(a, j, b)| {
                ((a * 31 + j * 17 + b * 7) % 19) as f64 * 0.1 - 0.95
            });
            let mut w = vec![0.0; rows * ra * n];
            face_split_into(l.view(), phi.view(), &mut w);
            let wv = ArrayView2::from_shape((rows, ra * n), &w).unwrap();
            let reference = wv.dot(&left_unfolding(&core));
            let mut out = Array2::zeros((rows, rb));
            if !fused::left_step(l.view(), &core, phi.view(), out.view_mut()) {
                continue;
            }
            for (x, y) in out.iter().zip(reference.iter()) {
                assert!((x - y).abs() <= 1e-13, "({ra},{n},{rb}): {x} vs {y}");
            }
            // rows 5..23 alone give the same bits as inside the whole block
            let mut part = Array2::zeros((18, rb));
            assert!(fused::left_step(
                l.slice(s![5..23, ..]),
                &core,
                phi.slice(s![5..23, ..]),
                part.view_mut()
            ));
            assert_eq!(part, out.slice(s![5..23, ..]));
        }
    }
}
