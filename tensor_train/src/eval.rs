//! Evaluation of entries and conversion to a dense tensor (small sizes, tests).

use crate::error::{Result, TtError};
use crate::tt::TensorTrain;
use ndarray::{Array1, Array2, ArrayD, ArrayView2, IxDyn};

/// Largest number of entries [`TensorTrain::to_dense`] will allocate.
pub const MAX_DENSE_ENTRIES: usize = 1 << 26;

impl TensorTrain {
    /// One entry `X[i_1, ..., i_d] = G_1[i_1] ... G_d[i_d]`, `O(d r^2)`.
    pub fn entry(&self, index: &[usize]) -> Result<f64> {
        self.check_index(index)?;
        let mut v = Array2::ones((1, 1));
        for (k, &i) in index.iter().enumerate() {
            let slice = self.core(k);
            let slice = slice.index_axis(ndarray::Axis(1), i);
            v = v.dot(&slice);
        }
        Ok(v[[0, 0]])
    }

    /// Entries at a batch of multi-indices (one per row of `indices`, `N x d`).
    pub fn entries(&self, indices: ArrayView2<'_, usize>) -> Result<Array1<f64>> {
        if indices.ncols() != self.order() {
            return Err(TtError::Shape(format!(
                "multi-indices have {} columns, the TT has order {}",
                indices.ncols(),
                self.order()
            )));
        }
        indices
            .rows()
            .into_iter()
            .map(|row| self.entry(&row.to_vec()))
            .collect::<Result<Vec<_>>>()
            .map(Array1::from)
    }

    fn check_index(&self, index: &[usize]) -> Result<()> {
        if index.len() != self.order() {
            return Err(TtError::Shape(format!(
                "index has {} entries, the TT has order {}",
                index.len(),
                self.order()
            )));
        }
        for (k, (&i, n)) in index.iter().zip(self.mode_sizes()).enumerate() {
            if i >= n {
                return Err(TtError::Shape(format!(
                    "index {i} out of range for mode {k} of size {n}"
                )));
            }
        }
        Ok(())
    }

    /// The full tensor, row-major in `(i_1, ..., i_d)`. Refuses more than
    /// [`MAX_DENSE_ENTRIES`] entries.
    pub fn to_dense(&self) -> Result<ArrayD<f64>> {
        let sizes = self.mode_sizes();
        let total = sizes.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
        match total {
            Some(t) if t <= MAX_DENSE_ENTRIES => {}
            _ => {
                return Err(TtError::Shape(format!(
                    "dense tensor of shape {sizes:?} is larger than {MAX_DENSE_ENTRIES} entries"
                )))
            }
        }
        // running product as a (n_1...n_k) x r_k matrix
        let mut acc = Array2::ones((1, 1));
        for c in self.cores() {
            let (a, n, b) = c.dim();
            let unf = c
                .view()
                .into_shape_with_order((a, n * b))
                .expect("C-order core");
            let prod = acc.dot(&unf);
            let rows = prod.nrows() * n;
            acc = prod
                .into_shape_with_order((rows, b))
                .expect("C-order product");
        }
        Ok(acc
            .into_shape_with_order(IxDyn(&sizes))
            .expect("sizes multiply to the row count"))
    }
}
