//! Fitting, predicting and the model-file format from Python.
//!
//! [`fit`] and [`compare`] convert numpy arrays and a dict of hyperparameters into a
//! [`Dataset`] and a [`FitConfig`](ttfit::fit::FitConfig) and call the library's `fit` and
//! `compare` with the GIL released. [`Model`] wraps a fitted
//! [`FunctionalTT`] with its training metadata; its bytes are exactly the JSON model file that
//! `ttfit fit` writes and `ttfit predict` reads, which is also how it pickles.

use crate::config::fit_config;
use crate::errors::{fit_error, invalid};
use crate::progress::{history_dict, run_detached, PyObserver};
use crate::tensor::TensorTrain;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use std::path::{Path, PathBuf};
use ttfit::basis::OutsidePolicy;
use ttfit::data::Dataset;
use ttfit::model::FunctionalTT;
use ttfit::model_file::{self, TrainingInfo};
use ttfit::optim::OptimizerConfig;
use ttfit::train::IterationRecord;

/// A fitted functional tensor train `v(x) = A_1(x_1) ... A_d(x_d)` with the metadata of its
/// fit (what `ttfit fit` writes to a model file).
#[pyclass(module = "ttfit._ttfit", name = "Model", frozen)]
pub struct Model {
    model: FunctionalTT,
    info: Option<TrainingInfo>,
}

/// The label used in place of the temporary path in model-file errors from bytes.
const BYTES_LABEL: &str = "<model bytes>";

impl Model {
    fn from_file(path: &Path) -> ttfit::Result<Model> {
        let (model, info) = model_file::load(path)?;
        Ok(Model { model, info })
    }
}

fn os_error(what: impl std::fmt::Display) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(what.to_string())
}

#[pymethods]
impl Model {
    /// Predictions `v(x_i)` for the rows of `x` (`N x d`, any memory layout, read in place) and
    /// the number of rows outside the training domain. `outside`: `"extrapolate"` (default),
    /// `"clamp"` or `"error"`, as `ttfit predict --outside`.
    #[pyo3(signature = (x, outside = "extrapolate"))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        outside: &str,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, usize)> {
        let policy = OutsidePolicy::parse(outside).map_err(fit_error)?;
        let x = x.as_array();
        let d = self.model.features().n_variables();
        if x.ncols() != d {
            return Err(invalid(
                "X",
                format!("{} columns, the model has {d} input variables", x.ncols()),
            ));
        }
        let p = py
            .detach(|| self.model.predict(x, policy))
            .map_err(fit_error)?;
        Ok((p.values.into_pyarray(py), p.outside))
    }

    /// The model file (JSON) as bytes: what `ttfit fit --out` writes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let dir = tempfile::tempdir()
            .map_err(|e| os_error(format!("cannot create a temporary directory: {e}")))?;
        let path = dir.path().join("model.json");
        model_file::save(&self.model, self.info.as_ref(), &path).map_err(fit_error)?;
        let bytes =
            std::fs::read(&path).map_err(|e| os_error(format!("{}: {e}", path.display())))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from the bytes of a model file (validated as `ttfit predict` does); errors name
    /// `<model bytes>` where they would name the file.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Model> {
        let dir = tempfile::tempdir()
            .map_err(|e| os_error(format!("cannot create a temporary directory: {e}")))?;
        let path = dir.path().join("model.json");
        std::fs::write(&path, data).map_err(|e| os_error(format!("{}: {e}", path.display())))?;
        Model::from_file(&path).map_err(|e| {
            let msg = e
                .to_string()
                .replace(&path.display().to_string(), BYTES_LABEL);
            pyo3::exceptions::PyValueError::new_err(msg)
        })
    }

    /// Write the model file to `path` atomically (temporary file + rename).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        model_file::save(&self.model, self.info.as_ref(), path).map_err(fit_error)
    }

    /// Read and validate a model file written by `ttfit fit` or [`Model::save`].
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Model> {
        Model::from_file(&path).map_err(fit_error)
    }

    /// Pickle through the model-file bytes.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let ctor = py.get_type::<Model>().getattr("from_bytes")?;
        let bytes = slf.get().to_bytes(py)?;
        PyTuple::new(py, [ctor.into_any(), PyTuple::new(py, [bytes])?.into_any()])
    }

    /// TT ranks `[1, r_1, ..., r_{d-1}, 1]`.
    #[getter]
    fn ranks(&self) -> Vec<usize> {
        self.model.tt().ranks()
    }

    /// Number of input variables `d`.
    #[getter]
    fn n_features(&self) -> usize {
        self.model.features().n_variables()
    }

    /// Basis functions per variable `n_k`.
    #[getter]
    fn mode_sizes(&self) -> Vec<usize> {
        self.model.features().mode_sizes()
    }

    /// Input variable names (the CSV header names `ttfit predict` matches).
    #[getter]
    fn input_names(&self) -> Vec<String> {
        self.model.input_names()
    }

    /// The coefficient tensor train (a copy).
    #[getter]
    fn tt(&self) -> TensorTrain {
        TensorTrain::from(self.model.tt().clone())
    }

    /// The training metadata as a JSON string (`None` if the file had none).
    #[getter]
    fn training_json(&self) -> PyResult<Option<String>> {
        self.info
            .as_ref()
            .map(|i| {
                serde_json::to_string(i).map_err(|e| {
                    pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialize: {e}"))
                })
            })
            .transpose()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(n_features={}, mode_sizes={:?}, ranks={:?})",
            self.n_features(),
            self.mode_sizes(),
            self.ranks()
        )
    }
}

/// A validated data set `x1..xd -> y` from numpy arrays (copied: the library owns its data).
pub fn dataset(
    x: PyReadonlyArray2<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    w: Option<PyReadonlyArray1<'_, f64>>,
    what: &str,
) -> PyResult<Dataset> {
    let x = x.as_array();
    let y = y.as_array();
    if y.len() != x.nrows() {
        return Err(invalid(
            what,
            format!("X has {} rows but y has {} values", x.nrows(), y.len()),
        ));
    }
    let names = (1..=x.ncols()).map(|k| format!("x{k}")).collect();
    Dataset::new(
        x.to_owned(),
        y.to_owned(),
        w.map(|w| w.as_array().to_owned()),
        names,
        "y",
    )
    .map_err(fit_error)
}

fn test_set(
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<Option<Dataset>> {
    match (x, y) {
        (Some(x), Some(y)) => Ok(Some(dataset(x, y, None, "test data")?)),
        (None, None) => Ok(None),
        _ => Err(invalid(
            "test data",
            "give both X_test and y_test, or neither",
        )),
    }
}

/// Fit a functional TT; returns `(model, history, stop_reason)`. `params` holds the
/// hyperparameters (see `config::PARAMS`), `callback(record)` is called after every iteration
/// (with the GIL), and an exception it raises, or Ctrl-C, stops the fit.
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight = None, params = None, callback = None, x_test = None, y_test = None))]
#[allow(clippy::too_many_arguments)]
pub fn fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    params: Option<&Bound<'py, PyDict>>,
    callback: Option<Py<PyAny>>,
    x_test: Option<PyReadonlyArray2<'py, f64>>,
    y_test: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<(Model, Bound<'py, PyDict>, String)> {
    let (cfg, _) = fit_config(params)?;
    let data = dataset(x, y, sample_weight, "training data")?;
    let test = test_set(x_test, y_test)?;
    let mut observer = PyObserver::new(callback.as_ref());
    let fitted = run_detached(py, &mut observer, |obs| {
        ttfit::fit::fit(&cfg, &data, test.as_ref(), |rec: &IterationRecord| {
            obs.observe(None, rec)
        })
    })?
    .map_err(fit_error)?;
    let history = history_dict(py, &fitted.result.history)?;
    let stop = fitted.result.stop.to_string();
    let model = Model {
        model: fitted.model,
        info: Some(fitted.info),
    };
    Ok((model, history, stop))
}

/// Run several optimizers from the same start on the same data (`ttfit compare`); returns
/// `{name: history}` with the history arrays of [`fit`] plus `"stop"`, or `{"error": message}`
/// for a run that failed (a failing optimizer does not stop the comparison).
#[pyfunction]
#[pyo3(signature = (x, y, optimizers, sample_weight = None, params = None, callback = None, x_test = None, y_test = None))]
#[allow(clippy::too_many_arguments)]
pub fn compare<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    optimizers: Vec<String>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    params: Option<&Bound<'py, PyDict>>,
    callback: Option<Py<PyAny>>,
    x_test: Option<PyReadonlyArray2<'py, f64>>,
    y_test: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    if optimizers.is_empty() {
        return Err(invalid("optimizers", "name at least one optimizer"));
    }
    let (cfg, opts) = fit_config(params)?;
    let configs = optimizers
        .iter()
        .map(|n| {
            let mut oc = OptimizerConfig::from_name(n).map_err(fit_error)?;
            opts.apply(&mut oc, false)?;
            Ok(oc)
        })
        .collect::<PyResult<Vec<_>>>()?;
    let data = dataset(x, y, sample_weight, "training data")?;
    let test = test_set(x_test, y_test)?;
    let mut observer = PyObserver::new(callback.as_ref());
    let runs = run_detached(py, &mut observer, |obs| {
        ttfit::compare::compare(&cfg, &configs, &data, test.as_ref(), |name, rec| {
            obs.observe(Some(name), rec)
        })
    })?
    .map_err(fit_error)?;
    let out = PyDict::new(py);
    for run in runs {
        let entry = match &run.result {
            Ok(r) => {
                let h = history_dict(py, &r.history)?;
                h.set_item("stop", r.stop.to_string())?;
                h
            }
            Err(message) => {
                let h = PyDict::new(py);
                h.set_item("error", message)?;
                h
            }
        };
        out.set_item(run.name, entry)?;
    }
    Ok(out)
}

/// Inputs, targets and input names of a sample.
type Sample<'py> = (
    Bound<'py, numpy::PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    Vec<String>,
);

/// Samples of a built-in test function (`ttfit sample`): `(X, y, input_names)`.
#[pyfunction]
#[pyo3(signature = (function, n, seed = 0))]
pub fn sample_function<'py>(
    py: Python<'py>,
    function: &str,
    n: usize,
    seed: u64,
) -> PyResult<Sample<'py>> {
    if n == 0 {
        return Err(invalid("n", "need at least one sample"));
    }
    let f = ttfit::functions::TestFunction::parse(function).map_err(fit_error)?;
    let data = f.sample(n, seed).map_err(fit_error)?;
    Ok((
        data.x.into_pyarray(py),
        data.y.into_pyarray(py),
        data.input_names,
    ))
}

/// The optimizer names with one line each.
#[pyfunction]
pub fn optimizer_names() -> Vec<(&'static str, &'static str)> {
    ttfit::optim::config::OPTIMIZER_NAMES.to_vec()
}
