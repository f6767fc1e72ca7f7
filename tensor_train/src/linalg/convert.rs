//! Zero-copy views between `ndarray` and `faer` (any strides, C- or F-order).

use ndarray::{ArrayView2, ArrayViewMut2};

/// A faer view of an ndarray view, sharing its memory and strides.
pub fn faer_ref<'a>(a: &ArrayView2<'a, f64>) -> faer::MatRef<'a, f64> {
    let (m, n) = a.dim();
    let s = a.strides();
    // SAFETY: ptr, shape and strides come from a live ndarray view with lifetime 'a;
    // ndarray guarantees every (i, j) with i < m, j < n addresses an element of that view.
    unsafe { faer::MatRef::from_raw_parts(a.as_ptr(), m, n, s[0], s[1]) }
}

/// A mutable faer view of a mutable ndarray view, sharing its memory and strides.
pub fn faer_mut<'a>(a: &'a mut ArrayViewMut2<'_, f64>) -> faer::MatMut<'a, f64> {
    let (m, n) = a.dim();
    let s = [a.strides()[0], a.strides()[1]];
    // SAFETY: as in `faer_ref`; the exclusive borrow of the view prevents aliasing.
    unsafe { faer::MatMut::from_raw_parts_mut(a.as_mut_ptr(), m, n, s[0], s[1]) }
}
