//! Low-level access to the TT format and the geometry of fixed-rank TTs (`tensor_train`).
//!
//! [`TensorTrain`] is immutable from Python (every operation returns a new tensor), so its
//! cores can be handed out as read-only numpy views of the Rust memory without copies.
//! [`TangentSpace`] represents tangent vectors by their coordinates `c` in the explicit
//! orthonormal basis `E_X` (MATH.md §3), a numpy vector of length `dim`: the Frobenius inner
//! product of tangent vectors is then the dot product of their coordinates.

use crate::errors::{invalid, tt_error};
use numpy::prelude::*;
use numpy::{
    PyArray1, PyArray2, PyArray3, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
    PyReadonlyArrayDyn,
};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use rand::SeedableRng;
use tensor_train::linalg::Par;
use tensor_train::tangent::SampleInterfaces;
use tensor_train::{CoreDistribution, Truncation};

/// A tensor train `X[i_1..i_d] = G_1[i_1] ... G_d[i_d]`, cores `G_k` of shape
/// `(r_{k-1}, n_k, r_k)`, `r_0 = r_d = 1`.
#[pyclass(module = "ttfit._ttfit", name = "TensorTrain", frozen)]
#[derive(Clone)]
pub struct TensorTrain {
    pub(crate) tt: tensor_train::TensorTrain,
}

impl From<tensor_train::TensorTrain> for TensorTrain {
    fn from(tt: tensor_train::TensorTrain) -> Self {
        TensorTrain { tt }
    }
}

/// Truncation from the Python keywords (`rel_tol`, `max_rank`, `ranks`).
fn truncation(
    rel_tol: f64,
    max_rank: Option<usize>,
    ranks: Option<Vec<usize>>,
) -> PyResult<Truncation> {
    if !(rel_tol.is_finite() && rel_tol >= 0.0) {
        return Err(invalid(
            "rel_tol",
            format!("must be finite and >= 0, got {rel_tol}"),
        ));
    }
    Ok(Truncation {
        max_rank,
        bond_ranks: ranks,
        rel_tol,
    })
}

/// Borrowed feature matrices `(N, n_k)`, one per mode.
fn feature_views<'a>(
    features: &'a [PyReadonlyArray2<'_, f64>],
) -> Vec<ndarray::ArrayView2<'a, f64>> {
    features.iter().map(|f| f.as_array()).collect()
}

#[pymethods]
impl TensorTrain {
    /// A TT from its cores: a list of 3-D float arrays `(r_{k-1}, n_k, r_k)` (copied).
    #[new]
    fn new(cores: Vec<PyReadonlyArray3<'_, f64>>) -> PyResult<Self> {
        let cores = cores.iter().map(|c| c.as_array().to_owned()).collect();
        Ok(tensor_train::TensorTrain::from_cores(cores)
            .map_err(tt_error)?
            .into())
    }

    /// The zero TT with mode sizes `n_1..n_d` and internal ranks `r_1..r_{d-1}`.
    #[staticmethod]
    fn zeros(mode_sizes: Vec<usize>, ranks: Vec<usize>) -> PyResult<Self> {
        Ok(tensor_train::TensorTrain::zeros(&mode_sizes, &ranks)
            .map_err(tt_error)?
            .into())
    }

    /// A random TT, entries of core `k` i.i.d. `N(0, 1/(r_{k-1} n_k))`, from a seeded generator.
    #[staticmethod]
    #[pyo3(signature = (mode_sizes, ranks, seed = 0))]
    fn random(mode_sizes: Vec<usize>, ranks: Vec<usize>, seed: u64) -> PyResult<Self> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Ok(tensor_train::TensorTrain::random(
            &mode_sizes,
            &ranks,
            CoreDistribution::ScaledNormal,
            &mut rng,
        )
        .map_err(tt_error)?
        .into())
    }

    /// TT-SVD of a dense tensor (row-major), truncated at `rel_tol ||A||` and the rank caps.
    #[staticmethod]
    #[pyo3(signature = (tensor, rel_tol = 0.0, max_rank = None, ranks = None))]
    fn from_dense(
        tensor: PyReadonlyArrayDyn<'_, f64>,
        rel_tol: f64,
        max_rank: Option<usize>,
        ranks: Option<Vec<usize>>,
    ) -> PyResult<Self> {
        let trunc = truncation(rel_tol, max_rank, ranks)?;
        Ok(
            tensor_train::TensorTrain::from_dense(tensor.as_array(), &trunc)
                .map_err(tt_error)?
                .into(),
        )
    }

    /// The cores as read-only numpy views of this tensor's memory (no copy; `np.array(core)`
    /// copies if you want to modify one).
    #[getter]
    fn cores<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let list = PyList::empty(py);
        for core in slf.get().tt.cores() {
            // SAFETY: the pyclass is frozen, so the cores are never mutated or reallocated while
            // `slf` (the base object of the view) is alive.
            let view = unsafe { PyArray3::borrow_from_array(core, slf.clone().into_any()) };
            view.readwrite().make_nonwriteable();
            list.append(view)?;
        }
        Ok(list)
    }

    /// Order `d`.
    #[getter]
    fn order(&self) -> usize {
        self.tt.order()
    }

    /// Mode sizes `n_1..n_d`.
    #[getter]
    fn mode_sizes(&self) -> Vec<usize> {
        self.tt.mode_sizes()
    }

    /// Ranks `[1, r_1, ..., r_{d-1}, 1]`.
    #[getter]
    fn ranks(&self) -> Vec<usize> {
        self.tt.ranks()
    }

    /// Number of stored values `sum_k r_{k-1} n_k r_k`.
    #[getter]
    fn num_params(&self) -> usize {
        self.tt.num_params()
    }

    /// Entries at multi-indices: `indices` is `(N, d)` (non-negative integers) or one index of
    /// length `d` (returns a float).
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        indices: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let np = py.import("numpy")?;
        let arr = np.call_method1("asarray", (indices,))?;
        let ndim: usize = arr.getattr("ndim")?.extract()?;
        let single = ndim == 1;
        let arr = if single {
            np.call_method1("atleast_2d", (arr,))?
        } else {
            arr
        };
        let arr: PyReadonlyArray2<'_, i64> = arr
            .call_method1("astype", ("int64",))?
            .extract()
            .map_err(|_| invalid("indices", "give an (N, d) array of non-negative integers"))?;
        let view = arr.as_array();
        if view.iter().any(|&i| i < 0) {
            return Err(invalid("indices", "multi-indices must be non-negative"));
        }
        let idx = view.mapv(|i| i as usize);
        let values = py
            .detach(|| self.tt.entries(idx.view()))
            .map_err(tt_error)?;
        if single {
            Ok(values[0].into_pyobject(py)?.into_any())
        } else {
            Ok(values.into_pyarray(py).into_any())
        }
    }

    /// `sum_{i_1..i_d} X[i] prod_k Phi_k[s, i_k]` for every sample `s`: the contraction with
    /// feature matrices `Phi_k` of shape `(N, n_k)` (read in place), `O(N d n r^2)`.
    fn evaluate_features<'py>(
        &self,
        py: Python<'py>,
        features: Vec<PyReadonlyArray2<'py, f64>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let views = feature_views(&features);
        let v = py
            .detach(|| self.tt.eval_features(&views, Par::Rayon(0)))
            .map_err(tt_error)?;
        Ok(v.into_pyarray(py))
    }

    /// The dense tensor (small sizes only).
    fn full<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        Ok(self.tt.to_dense().map_err(tt_error)?.into_pyarray(py))
    }

    /// TT rounding: the quasi-optimal truncation to relative Frobenius error `rel_tol` and/or
    /// rank caps (`max_rank` for every bond, `ranks` bond by bond); left-orthogonal result.
    #[pyo3(signature = (rel_tol = 0.0, max_rank = None, ranks = None))]
    fn round(
        &self,
        py: Python<'_>,
        rel_tol: f64,
        max_rank: Option<usize>,
        ranks: Option<Vec<usize>>,
    ) -> PyResult<Self> {
        let trunc = truncation(rel_tol, max_rank, ranks)?;
        Ok(py
            .detach(|| self.tt.round(&trunc))
            .map_err(tt_error)?
            .tt
            .into())
    }

    /// Frobenius norm.
    fn norm(&self) -> PyResult<f64> {
        self.tt.norm().map_err(tt_error)
    }

    /// Frobenius inner product `<X, Y>`.
    fn dot(&self, other: &TensorTrain) -> PyResult<f64> {
        self.tt.dot(&other.tt).map_err(tt_error)
    }

    /// The same tensor in left-orthogonal (`side="left"`) or right-orthogonal form.
    #[pyo3(signature = (side = "left"))]
    fn orthogonalize(&self, side: &str) -> PyResult<Self> {
        let t = match side {
            "left" => self.tt.to_left_orthogonal(),
            "right" => self.tt.to_right_orthogonal(),
            other => return Err(invalid("side", format!("'{other}'; use 'left' or 'right'"))),
        };
        Ok(t.map_err(tt_error)?.into())
    }

    /// `X + Y` (ranks add).
    fn __add__(&self, other: &TensorTrain) -> PyResult<Self> {
        Ok(self.tt.add(&other.tt).map_err(tt_error)?.into())
    }

    /// `X - Y` (ranks add).
    fn __sub__(&self, other: &TensorTrain) -> PyResult<Self> {
        Ok(self
            .tt
            .axpby(1.0, &other.tt, -1.0)
            .map_err(tt_error)?
            .into())
    }

    /// `alpha X`.
    fn __mul__(&self, alpha: f64) -> Self {
        self.tt.scaled(alpha).into()
    }

    /// `alpha X`.
    fn __rmul__(&self, alpha: f64) -> Self {
        self.tt.scaled(alpha).into()
    }

    /// `-X`.
    fn __neg__(&self) -> Self {
        self.tt.scaled(-1.0).into()
    }

    /// Pickle through the cores.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let cores = PyList::empty(py);
        for c in slf.get().tt.cores() {
            cores.append(c.to_pyarray(py))?;
        }
        let args = PyTuple::new(py, [cores])?;
        PyTuple::new(
            py,
            [py.get_type::<TensorTrain>().into_any(), args.into_any()],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "TensorTrain(mode_sizes={:?}, ranks={:?})",
            self.tt.mode_sizes(),
            self.tt.ranks()
        )
    }
}

/// The tangent space `T_X M_r` of the manifold of TTs with the ranks of `X`, with its explicit
/// orthonormal basis. Tangent vectors are coordinate vectors of length `dim`.
#[pyclass(module = "ttfit._ttfit", name = "TangentSpace", frozen)]
pub struct TangentSpace {
    ts: tensor_train::tangent::TangentSpace,
}

impl TangentSpace {
    fn vector(
        &self,
        coords: &PyReadonlyArray1<'_, f64>,
    ) -> PyResult<tensor_train::tangent::TangentVector> {
        self.ts.from_coords(coords.as_array()).map_err(tt_error)
    }
}

#[pymethods]
impl TangentSpace {
    /// The tangent space at `x` (its internal ranks must be admissible).
    #[new]
    fn new(py: Python<'_>, x: &TensorTrain) -> PyResult<Self> {
        let ts = py
            .detach(|| tensor_train::tangent::TangentSpace::new(&x.tt))
            .map_err(tt_error)?;
        Ok(TangentSpace { ts })
    }

    /// Dimension `D = sum_k r_{k-1} n_k r_k - sum_{k<d} r_k^2` of the manifold.
    #[getter]
    fn dim(&self) -> usize {
        self.ts.dim()
    }

    /// The point `X` (left-orthogonal form).
    #[getter]
    fn point(&self) -> TensorTrain {
        self.ts.point().clone().into()
    }

    /// Coordinates of the orthogonal projection `P_X Z` of a TT `Z` of any ranks.
    fn project<'py>(
        &self,
        py: Python<'py>,
        z: &TensorTrain,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let c = py
            .detach(|| {
                self.ts
                    .project_tt(&z.tt)
                    .and_then(|v| self.ts.to_coords(&v))
            })
            .map_err(tt_error)?;
        Ok(c.into_pyarray(py))
    }

    /// The retraction `R_X(t xi) = H_r(X + t xi)` (TT rounding back to the ranks of `X`) of the
    /// tangent vector with coordinates `coords`.
    #[pyo3(signature = (coords, t = 1.0))]
    fn retract(
        &self,
        py: Python<'_>,
        coords: PyReadonlyArray1<'_, f64>,
        t: f64,
    ) -> PyResult<TensorTrain> {
        let xi = self.vector(&coords)?;
        Ok(py
            .detach(|| self.ts.retract(t, &xi))
            .map_err(tt_error)?
            .into())
    }

    /// The tangent vector with coordinates `coords` as a TT of ranks `2r`.
    fn to_tt(&self, coords: PyReadonlyArray1<'_, f64>) -> PyResult<TensorTrain> {
        let xi = self.vector(&coords)?;
        Ok(self.ts.to_tt(&xi).map_err(tt_error)?.into())
    }

    /// Vector transport by projection: the coordinates here of `P_X xi` for a tangent vector
    /// `xi` given by its coordinates in the space `source`.
    fn transport<'py>(
        &self,
        py: Python<'py>,
        source: &TangentSpace,
        coords: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let xi = source.vector(&coords)?;
        let c = self
            .ts
            .transport(&source.ts, &xi)
            .and_then(|v| self.ts.to_coords(&v))
            .map_err(tt_error)?;
        Ok(c.into_pyarray(py))
    }

    /// The sample Jacobian `J[s, j] = <E_X e_j, prod_k Phi_k[s, :]>` (`N x D`) for feature
    /// matrices `Phi_k` of shape `(N, n_k)`.
    fn jacobian<'py>(
        &self,
        py: Python<'py>,
        features: Vec<PyReadonlyArray2<'py, f64>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let views = feature_views(&features);
        let j = py
            .detach(|| {
                let si = SampleInterfaces::new(&self.ts, &views, Par::Rayon(0))?;
                self.ts.jacobian(&si, &views, Par::Rayon(0))
            })
            .map_err(tt_error)?;
        Ok(j.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!(
            "TangentSpace(dim={}, mode_sizes={:?}, ranks={:?})",
            self.ts.dim(),
            self.ts.point().mode_sizes(),
            self.ts.point().ranks()
        )
    }
}
