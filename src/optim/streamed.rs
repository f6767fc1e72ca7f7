//! The streamed sample linearization: the [`LinearizedModel`] of the sample Jacobian
//! (MATH.md §6.1) at memory `O(N d)` instead of `O(N d (n + 2r))` (issue 11, item 6).
//!
//! [`super::linearized::SampleLinearization`] holds the feature matrices (`N x n_k` each) and
//! both interface families (`N x r_k` each) of all `N` samples. At `N = 10^6`, `d = 50`,
//! `n = r = 8` these are 3.2 GB and 6.5 GB. [`StreamedLinearization`] holds only the raw inputs
//! (`N x d`) and the [`FeatureMap`]; every product recomputes, chunk by chunk of
//! [`STREAM_CHUNK`] rows, the chunk's features and interfaces, and then does the chunk's part
//! of `J c`, `J^T w` or of the Jacobian rows with the same `tensor_train` kernels as the
//! in-memory model. Cost: each product pays the interfaces again (`O(N d n r^2)`, the same
//! order as the product itself); memory per thread: one chunk's features and interfaces.
//!
//! Determinism: the chunking depends on `N` only; `J c` writes every chunk's rows alone, and
//! `J^T w` sums the chunks' coordinate vectors through [`tensor_train::reduce::fold_chunks`]
//! (fixed leaves, fixed merge tree). Results are therefore bitwise the same for any thread
//! count (`tests/streamed.rs`). They equal the in-memory model's to rounding: the sum over
//! samples is grouped by streamed chunk instead of by kernel chunk, and `J^T w` is projected
//! onto the gauge per chunk (a linear map, so the same up to rounding).
//!
//! [`StreamedLinearization::select_rows`] materializes the selected rows (features and
//! interfaces of `m` rows, `O(m d (n + 2r))`): this is what PCG's sub-sampled operator and
//! preconditioner use, so that its `O(N D^2 / d)` preconditioner and its `J v`, `J^T w` cost
//! `m` rows while the right-hand side sees all `N` (see [`super::gram::GramSolver::Pcg`]).

use super::linearized::{LinearizedModel, SelectedRows};
use crate::basis::{FeatureMap, OutsidePolicy};
use crate::error::{Error, Result};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use std::ops::Range;
use std::sync::OnceLock;
use tensor_train::linalg::Par;
use tensor_train::reduce::{self, Plan};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::TensorTrain;

/// Rows per streamed chunk: large enough that the per-chunk overhead (gauge projection and
/// coordinates of a chunk's `J^T w`, `O(d n r^3)`) is small against the chunk's
/// `O(rows d n r^2)` work; small enough that a chunk's features and interfaces
/// (`rows (d n + 2 sum_k r_k)` values, 40 MB at `d = 50`, `n = r = 8`) stay cheap per thread.
pub const STREAM_CHUNK: usize = 4096;

/// Samples given by their raw inputs (`N x d`) and the feature map, with features computed on
/// the fly chunk by chunk: the training set of a streamed fit. Memory: the inputs only.
#[derive(Debug, Clone, Copy)]
pub struct StreamedSamples<'a> {
    features: &'a FeatureMap,
    x: ArrayView2<'a, f64>,
    policy: OutsidePolicy,
    chunk: usize,
}

impl<'a> StreamedSamples<'a> {
    /// The samples with inputs `x` (`N x d`, one row per sample) under `features`, outside
    /// points handled by `policy`, in chunks of [`STREAM_CHUNK`] rows. Errors: no rows, or a
    /// column count that differs from the feature map's variables.
    pub fn new(
        features: &'a FeatureMap,
        x: ArrayView2<'a, f64>,
        policy: OutsidePolicy,
    ) -> Result<Self> {
        if x.nrows() == 0 {
            return Err(Error::data(
                "samples",
                "no samples: at least one row is needed",
            ));
        }
        if x.ncols() != features.n_variables() {
            return Err(Error::data(
                "input",
                format!(
                    "has {} columns but the feature map has {} variables",
                    x.ncols(),
                    features.n_variables()
                ),
            ));
        }
        Ok(StreamedSamples {
            features,
            x,
            policy,
            chunk: STREAM_CHUNK,
        })
    }

    /// The same samples in chunks of `chunk` rows (at least 1). The chunking fixes the
    /// summation order, so results depend on it (to rounding) but never on the thread count.
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        self.chunk = chunk.max(1);
        self
    }

    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        self.x.nrows()
    }

    /// Always false (at least one sample, checked by [`StreamedSamples::new`]).
    pub fn is_empty(&self) -> bool {
        self.x.nrows() == 0
    }

    /// Rows per chunk.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Feature matrices of the rows `rows` (`rows.len() x n_k` each).
    pub fn features_of(&self, rows: Range<usize>) -> Result<Vec<Array2<f64>>> {
        self.features
            .features(self.x.slice(s![rows, ..]), self.policy)
    }

    /// Values of `tt` at all samples, `f(x^i) = <tt, Phi(x^i)>`, chunk by chunk (`N` values;
    /// each row is computed alone, so the result does not depend on `par`).
    pub fn values(&self, tt: &TensorTrain, par: Par) -> Result<Array1<f64>> {
        let mut out = Array1::zeros(self.len());
        let fill = |rows: Range<usize>, mut o: ndarray::ArrayViewMut1<'_, f64>| -> Result<()> {
            let f = self.features_of(rows)?;
            o.assign(&tt.eval_features(&views(&f), Par::Seq)?);
            Ok(())
        };
        reduce::for_row_chunks(out.view_mut(), self.chunk, par, fill)?;
        Ok(out)
    }

    /// The streamed linearization at the tangent space `ts` (whose point must have the feature
    /// map's mode sizes). `par` is used where the model materializes rows
    /// ([`LinearizedModel::select_rows`]); the products take their own.
    pub fn linearization<'b>(
        self,
        ts: &'b TangentSpace,
        par: Par,
    ) -> Result<StreamedLinearization<'b>>
    where
        'a: 'b,
    {
        let modes = self.features.mode_sizes();
        if ts.point().mode_sizes() != modes {
            return Err(Error::param(
                "streamed linearization",
                format!(
                    "the tangent space has mode sizes {:?}, the feature map {modes:?}",
                    ts.point().mode_sizes()
                ),
            ));
        }
        Ok(StreamedLinearization {
            samples: StreamedSamples {
                features: self.features,
                x: self.x.reborrow(),
                policy: self.policy,
                chunk: self.chunk,
            },
            ts,
            par,
            selected: OnceLock::new(),
        })
    }
}

/// The sample Jacobian `J` of [`super::linearized::SampleLinearization`] (row `i` is
/// `E_X^T Phi(x^i)`), computed from [`StreamedSamples`] chunk by chunk: never holds more than
/// one chunk's features and interfaces per thread. See the module docs for cost and
/// determinism.
pub struct StreamedLinearization<'a> {
    samples: StreamedSamples<'a>,
    ts: &'a TangentSpace,
    par: Par,
    /// The first materialized row selection, kept: PCG asks for the same rows when it builds
    /// the preconditioner and again for every solve.
    selected: OnceLock<(Vec<usize>, SelectedRows<'a>)>,
}

/// One chunk's features and interfaces.
struct Chunk {
    feats: Vec<Array2<f64>>,
    si: SampleInterfaces,
}

impl Chunk {
    fn views(&self) -> Vec<ArrayView2<'_, f64>> {
        views(&self.feats)
    }
}

fn views(f: &[Array2<f64>]) -> Vec<ArrayView2<'_, f64>> {
    f.iter().map(|a| a.view()).collect()
}

impl<'a> StreamedLinearization<'a> {
    /// The tangent space.
    pub fn tangent_space(&self) -> &'a TangentSpace {
        self.ts
    }

    /// The samples.
    pub fn samples(&self) -> &StreamedSamples<'a> {
        &self.samples
    }

    /// Features and interfaces of the rows `rows` (sequential: callers parallelize over
    /// chunks).
    fn chunk(&self, rows: Range<usize>) -> Result<Chunk> {
        let feats = self.samples.features_of(rows)?;
        let si = SampleInterfaces::new(self.ts, &views(&feats), Par::Seq)?;
        Ok(Chunk { feats, si })
    }

    fn check_rows(
        &self,
        rows: &Range<usize>,
        out: &ArrayViewMut2<'_, f64>,
        width: usize,
    ) -> Result<()> {
        if rows.end > self.n_rows() || out.dim() != (rows.len(), width) {
            return Err(Error::param(
                "jacobian rows",
                format!(
                    "rows {rows:?} of {} into an output of shape {:?} (expected ({}, {width}))",
                    self.n_rows(),
                    out.dim(),
                    rows.len()
                ),
            ));
        }
        Ok(())
    }
}

impl<'a> LinearizedModel for StreamedLinearization<'a> {
    fn n_rows(&self) -> usize {
        self.samples.len()
    }
    fn dim(&self) -> usize {
        self.ts.dim()
    }
    fn block_offsets(&self) -> &[usize] {
        self.ts.block_offsets()
    }
    fn jvp(&self, c: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        let xi = self.ts.from_coords(c)?;
        let mut out = Array1::zeros(self.n_rows());
        let step = self.samples.chunk;
        let fill = |rows: Range<usize>, mut o: ndarray::ArrayViewMut1<'_, f64>| -> Result<()> {
            let ch = self.chunk(rows)?;
            o.assign(&self.ts.tangent_values(&ch.si, &ch.views(), &xi, Par::Seq)?);
            Ok(())
        };
        reduce::for_row_chunks(out.view_mut(), step, par, fill)?;
        Ok(out)
    }
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        let n = self.n_rows();
        if w.len() != n {
            return Err(Error::param(
                "vjp weights",
                format!("{} values for {n} rows", w.len()),
            ));
        }
        let dim = self.dim();
        reduce::fold_chunks(
            n,
            Plan::new(n, self.samples.chunk, reduce::MAX_LEAVES),
            par,
            || Array1::zeros(dim),
            |acc: &mut Array1<f64>, rows: Range<usize>| -> Result<()> {
                let ch = self.chunk(rows.clone())?;
                *acc += &self
                    .ts
                    .vjp(&ch.si, &ch.views(), w.slice(s![rows]), Par::Seq)?;
                Ok(())
            },
            |a: &mut Array1<f64>, b: Array1<f64>| *a += &b,
        )
    }
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        self.check_rows(&rows, &out, self.dim())?;
        let ch = self.chunk(rows.clone())?;
        Ok(self
            .ts
            .jacobian_rows(&ch.si, &ch.views(), 0..rows.len(), out)?)
    }
    fn jacobian_block_rows_into(
        &self,
        k: usize,
        rows: Range<usize>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let off = self.block_offsets();
        if k + 1 >= off.len() {
            return Err(Error::param(
                "jacobian block",
                format!("block {k} of a model with {} blocks", off.len() - 1),
            ));
        }
        self.check_rows(&rows, &out, off[k + 1] - off[k])?;
        let ch = self.chunk(rows.clone())?;
        Ok(self
            .ts
            .jacobian_block_rows(&ch.si, &ch.views(), k, 0..rows.len(), out)?)
    }
    /// Materializes the selected rows (module docs): `O(m d (n + 2r))` memory for `m` rows.
    /// The first selection is kept and returned again when the same rows are asked for.
    fn select_rows(&self, rows: &[usize]) -> Option<Box<dyn LinearizedModel + '_>> {
        let materialize = || -> Result<SelectedRows<'a>> {
            let x = self.samples.x.select(Axis(0), rows);
            let feats = self
                .samples
                .features
                .features(x.view(), self.samples.policy)?;
            let si = SampleInterfaces::new(self.ts, &views(&feats), self.par)?;
            Ok(SelectedRows::new(self.ts, si, feats))
        };
        if self.selected.get().is_none() {
            // a failure here (an input the full model reads as well) resurfaces in the products
            let m = materialize().ok()?;
            let _ = self.selected.set((rows.to_vec(), m));
        }
        match self.selected.get() {
            Some((kept, m)) if kept.as_slice() == rows => Some(Box::new(m)),
            _ => materialize()
                .ok()
                .map(|m| Box::new(m) as Box<dyn LinearizedModel + '_>),
        }
    }
}
