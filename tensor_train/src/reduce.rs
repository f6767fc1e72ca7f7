//! The one sample reduction of the workspace: sums over samples with fixed chunking and a fixed
//! summation order, so that results are bitwise identical for any number of threads.
//!
//! Every reduction over samples (Gram and ALS normal equations, `J^T w`, the additive start,
//! gradients on the cores) goes through [`fold_chunks`]:
//! - the rows `0..n` are cut into chunks of `chunk` rows, and consecutive chunks into
//!   `leaves(n)` leaves; both depend on the problem size only, never on the thread count;
//! - each leaf folds its chunks in order into one accumulator (so an accumulator can be updated
//!   in place, e.g. by a GEMM with `beta = 1`);
//! - the leaves are merged along a fixed binary tree (midpoint splits). With [`Par::Rayon`] the
//!   two halves of each split run under `rayon::join`; with [`Par::Seq`] they run one after the
//!   other. The arithmetic is the same either way, so is the result.
//!
//! Memory: at most about `threads * log2(leaves)` accumulators are alive at once.
//! This is also the place where a distributed mode would sum partial results over processes, in
//! a fixed order of ranks.

use crate::linalg::Par;
use ndarray::{ArrayViewMut, Axis, RemoveAxis};
use rayon::prelude::*;
use std::ops::Range;

/// Rows per chunk of the sample kernels (the same as [`crate::interfaces::CHUNK`]).
pub const CHUNK: usize = crate::interfaces::CHUNK;

/// Default cap on the number of leaves: enough to keep 64 threads busy, few enough that the
/// extra merges (one accumulator addition per leaf) are negligible against the chunk work.
pub const MAX_LEAVES: usize = 64;

/// How the rows of a reduction are cut. Depends on sizes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Rows per chunk.
    pub chunk: usize,
    /// Chunks per leaf.
    pub chunks_per_leaf: usize,
}

impl Plan {
    /// `chunk` rows per chunk and at most `max_leaves` leaves for `n_rows` rows.
    pub fn new(n_rows: usize, chunk: usize, max_leaves: usize) -> Self {
        let chunk = chunk.max(1);
        let n_chunks = n_rows.div_ceil(chunk).max(1);
        Plan {
            chunk,
            chunks_per_leaf: n_chunks.div_ceil(max_leaves.max(1)),
        }
    }

    /// The default plan: [`CHUNK`] rows per chunk, at most [`MAX_LEAVES`] leaves.
    pub fn default_for(n_rows: usize) -> Self {
        Plan::new(n_rows, CHUNK, MAX_LEAVES)
    }

    fn leaf_rows(&self, n_rows: usize, leaf: usize) -> Range<usize> {
        let per = self.chunk * self.chunks_per_leaf;
        (leaf * per).min(n_rows)..((leaf + 1) * per).min(n_rows)
    }

    /// Number of leaves for `n_rows` rows (at least 1).
    pub fn n_leaves(&self, n_rows: usize) -> usize {
        n_rows.div_ceil(self.chunk * self.chunks_per_leaf).max(1)
    }
}

/// Deterministic reduction over rows `0..n_rows` (see the module docs): every leaf starts from
/// `init()`, folds its chunks in order with `body(acc, rows)`, and the leaves are merged with
/// `merge(left, right)` (left holds the lower rows) along a fixed binary tree. The result does
/// not depend on `par` or on the thread schedule. The first error of a leaf is returned.
pub fn fold_chunks<T, I, B, M, E>(
    n_rows: usize,
    plan: Plan,
    par: Par,
    init: I,
    body: B,
    merge: M,
) -> Result<T, E>
where
    T: Send,
    E: Send,
    I: Fn() -> T + Sync,
    B: Fn(&mut T, Range<usize>) -> Result<(), E> + Sync,
    M: Fn(&mut T, T) + Sync,
{
    let leaves = plan.n_leaves(n_rows);
    let ctx = Ctx {
        n_rows,
        plan,
        parallel: matches!(par, Par::Rayon(_)),
        init: &init,
        body: &body,
        merge: &merge,
    };
    ctx.tree(0, leaves)
}

struct Ctx<'a, I, B, M> {
    n_rows: usize,
    plan: Plan,
    parallel: bool,
    init: &'a I,
    body: &'a B,
    merge: &'a M,
}

impl<I, B, M> Ctx<'_, I, B, M> {
    fn tree<T, E>(&self, lo: usize, hi: usize) -> Result<T, E>
    where
        T: Send,
        E: Send,
        I: Fn() -> T + Sync,
        B: Fn(&mut T, Range<usize>) -> Result<(), E> + Sync,
        M: Fn(&mut T, T) + Sync,
    {
        if hi - lo == 1 {
            return self.leaf(lo);
        }
        let mid = lo + (hi - lo) / 2;
        let (a, b) = if self.parallel {
            rayon::join(|| self.tree(lo, mid), || self.tree(mid, hi))
        } else {
            (self.tree(lo, mid), self.tree(mid, hi))
        };
        let mut a = a?;
        (self.merge)(&mut a, b?);
        Ok(a)
    }

    fn leaf<T, E>(&self, leaf: usize) -> Result<T, E>
    where
        I: Fn() -> T,
        B: Fn(&mut T, Range<usize>) -> Result<(), E>,
    {
        let mut acc = (self.init)();
        let rows = self.plan.leaf_rows(self.n_rows, leaf);
        let mut r0 = rows.start;
        while r0 < rows.end {
            let r1 = (r0 + self.plan.chunk).min(rows.end);
            (self.body)(&mut acc, r0..r1)?;
            r0 = r1;
        }
        Ok(acc)
    }
}

/// `sum_i f(i)` over `0..n` in the fixed order of [`fold_chunks`] (a convenience for scalar
/// sums over samples, e.g. losses).
pub fn sum_rows<F>(n: usize, par: Par, f: F) -> f64
where
    F: Fn(usize) -> f64 + Sync,
{
    let r: Result<f64, ()> = fold_chunks(
        n,
        Plan::default_for(n),
        par,
        || 0.0,
        |acc, rows| {
            for i in rows {
                *acc += f(i);
            }
            Ok(())
        },
        |a, b| *a += b,
    );
    r.unwrap_or(0.0)
}

/// Run `fill(rows, piece)` on the consecutive `chunk`-row pieces of `out` (`piece` holds the
/// rows `rows` of `out`), in parallel under [`Par::Rayon`]. The companion of [`fold_chunks`]
/// for row-wise outputs: every piece is written by exactly one call and nothing is summed
/// across pieces, so the result does not depend on the thread count. Stops at the first error.
pub fn for_row_chunks<A, D, E, F>(
    mut out: ArrayViewMut<'_, A, D>,
    chunk: usize,
    par: Par,
    fill: F,
) -> Result<(), E>
where
    A: Send + Sync,
    D: RemoveAxis,
    E: Send,
    F: Fn(Range<usize>, ArrayViewMut<'_, A, D>) -> Result<(), E> + Sync + Send,
{
    let chunk = chunk.max(1);
    let run = |(ci, piece): (usize, ArrayViewMut<'_, A, D>)| {
        let r0 = ci * chunk;
        let rows = r0..r0 + piece.len_of(Axis(0));
        fill(rows, piece)
    };
    match par {
        Par::Seq => out
            .axis_chunks_iter_mut(Axis(0), chunk)
            .enumerate()
            .try_for_each(run),
        Par::Rayon(_) => out
            .axis_chunks_iter_mut(Axis(0), chunk)
            .into_par_iter()
            .enumerate()
            .try_for_each(run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floating-point sums whose value depends on the order: the result must still be the same
    /// bits for sequential and parallel runs in pools of 1, 2 and 3 threads.
    #[test]
    fn same_bits_for_any_thread_count() {
        let n = 100_003;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i as f64) * 0.618_033_988_7).sin() * 10f64.powi((i % 17) as i32 - 8))
            .collect();
        let run = |par: Par| sum_rows(n, par, |i| x[i]);
        let reference = run(Par::Seq);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| run(Par::Rayon(0)));
            assert_eq!(got.to_bits(), reference.to_bits(), "{threads} threads");
        }
        // and the sum is right to rounding: |error| <= n u sum |x_i|
        let exact: f64 = x.iter().sum();
        let abs: f64 = x.iter().map(|v| v.abs()).sum();
        assert!((reference - exact).abs() <= n as f64 * f64::EPSILON * abs);
    }

    #[test]
    fn every_row_is_visited_once_in_order_within_a_leaf() {
        for n in [0usize, 1, 511, 512, 513, 70_000] {
            let plan = Plan::new(n, 100, 7);
            let rows: Result<Vec<usize>, ()> = fold_chunks(
                n,
                plan,
                Par::Rayon(0),
                Vec::new,
                |acc: &mut Vec<usize>, r| {
                    acc.extend(r);
                    Ok(())
                },
                |a, b| a.extend(b),
            );
            assert_eq!(rows.unwrap(), (0..n).collect::<Vec<_>>(), "n = {n}");
            assert!(plan.n_leaves(n) <= 7);
        }
    }

    #[test]
    fn errors_propagate() {
        let r: Result<(), String> = fold_chunks(
            10_000,
            Plan::default_for(10_000),
            Par::Rayon(0),
            || (),
            |_, rows| {
                if rows.contains(&7_000) {
                    Err("bad row".to_string())
                } else {
                    Ok(())
                }
            },
            |_, _| {},
        );
        assert_eq!(r.unwrap_err(), "bad row");
    }

    /// Row pieces cover every row once, with the row range of their place in the output, for
    /// 1-D and 2-D outputs, sequentially and in parallel; an error stops the run.
    #[test]
    fn row_chunks_cover_every_row_once() {
        for par in [Par::Seq, Par::Rayon(0)] {
            let mut v = ndarray::Array1::<f64>::zeros(1001);
            let r: Result<(), ()> = for_row_chunks(v.view_mut(), 64, par, |rows, mut o| {
                assert_eq!(rows.len(), o.len());
                for (i, x) in rows.zip(o.iter_mut()) {
                    *x += i as f64;
                }
                Ok(())
            });
            assert!(r.is_ok());
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64));
            let mut m = ndarray::Array2::<f64>::zeros((130, 3));
            let r: Result<(), ()> = for_row_chunks(m.view_mut(), 7, par, |rows, mut o| {
                for (i, mut row) in rows.zip(o.rows_mut()) {
                    row.fill(i as f64);
                }
                Ok(())
            });
            assert!(r.is_ok());
            assert!(m
                .rows()
                .into_iter()
                .enumerate()
                .all(|(i, r)| r.iter().all(|&x| x == i as f64)));
            let e: Result<(), usize> = for_row_chunks(v.view_mut(), 64, par, |rows, _| {
                if rows.contains(&700) {
                    Err(rows.start)
                } else {
                    Ok(())
                }
            });
            assert_eq!(e, Err(640));
        }
    }
}
