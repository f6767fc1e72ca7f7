//! Fitting, predicting and the model-file format from Python.
//!
//! [`fit`] and [`compare`] convert numpy arrays and a dict of hyperparameters into a
//! [`Dataset`] and a [`FitConfig`](ttfit::fit::FitConfig) and call the library's `fit` and
//! `compare` with the GIL released. [`Model`] wraps a fitted
//! [`FunctionalTT`] with its training metadata; its bytes are exactly the JSON model file that
//! `ttfit fit` writes and `ttfit predict` reads, which is also how it pickles.

use crate::config::{density_settings, fit_config};
use crate::errors::{fit_error, invalid};
use crate::progress::{
    density_history_dict, density_record_dict, history_dict, run_detached, PyObserver,
};
use crate::tensor::TensorTrain;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use ttfit::basis::OutsidePolicy;
use ttfit::data::Dataset;
use ttfit::density::SquaredTt;
use ttfit::fit::LossKind;
use ttfit::model::FunctionalTT;
use ttfit::model_file::{self, ModelKind, TrainingInfo};
use ttfit::optim::OptimizerConfig;
use ttfit::train::IterationRecord;

/// A fitted functional tensor train `v(x) = A_1(x_1) ... A_d(x_d)` with the metadata of its
/// fit (what `ttfit fit` writes to a model file).
///
/// Three kinds share the format, as on the command line: a regression model (`v` is the
/// prediction), a classifier (the training metadata records the loss and the number of
/// classes `C`; `v` is the logit, or for `C > 2` classes `v(x, c)` the logit of class `c`
/// with the class as the model's last input) and a density (`p = ψ^2 ρ_μ`, `||Ψ||_F = 1`;
/// the file says `"model": "density"`).
#[pyclass(module = "ttfit._ttfit", name = "Model", frozen)]
pub struct Model {
    model: FunctionalTT,
    info: Option<TrainingInfo>,
    kind: ModelKind,
}

/// The label used in place of a path in model-file errors from bytes.
const BYTES_LABEL: &str = "<model bytes>";

/// Densities, log-densities and the number of rows outside the domain.
type DensityArrays<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, usize);

/// A classifier's number of classes and whether it is a softmax model.
#[derive(Debug, Clone, Copy)]
struct Classes {
    count: usize,
    softmax: bool,
}

impl Model {
    fn from_file(path: &Path) -> ttfit::Result<Model> {
        let (model, info, kind) = model_file::load_kind(path)?;
        Ok(Model { model, info, kind })
    }

    fn classes(&self) -> Option<Classes> {
        let c = self.info.as_ref()?.classification.as_ref()?;
        Some(Classes {
            count: c.classes,
            softmax: c.loss == "softmax",
        })
    }

    fn kind_name(&self) -> &'static str {
        match (self.kind, self.classes()) {
            (ModelKind::Density, _) => "density",
            (_, Some(_)) => "classifier",
            _ => "regression",
        }
    }

    /// Error unless the model is of kind `want`, naming what to call instead.
    fn require(&self, want: &str, method: &str) -> PyResult<()> {
        let have = self.kind_name();
        if have == want {
            return Ok(());
        }
        let hint = match have {
            "density" => "use density() or sample()",
            "classifier" => "use predict_proba() or decision_function()",
            _ => "use predict()",
        };
        Err(invalid(
            "model",
            format!("{method}() needs a {want} model, this is a {have} model: {hint}"),
        ))
    }

    /// The number of data columns: the model's inputs, less the class input of a softmax
    /// model.
    fn data_columns(&self) -> usize {
        let d = self.model.features().n_variables();
        match self.classes() {
            Some(c) if c.softmax => d - 1,
            _ => d,
        }
    }

    fn check_columns(&self, x: &ndarray::ArrayView2<'_, f64>) -> PyResult<()> {
        let d = self.data_columns();
        if x.ncols() != d {
            return Err(invalid(
                "X",
                format!("{} columns, the model has {d} input variables", x.ncols()),
            ));
        }
        Ok(())
    }

    /// Logits of a classifier: `N` values (binary) or `N C` (softmax, row `i C + c` the
    /// logit of class `c` for data row `i`), as `ttfit predict` computes them.
    fn logits(
        &self,
        py: Python<'_>,
        x: ndarray::ArrayView2<'_, f64>,
        policy: OutsidePolicy,
        classes: Classes,
    ) -> PyResult<(ndarray::Array1<f64>, usize)> {
        let xm = if classes.softmax {
            let (n, d) = x.dim();
            let c = classes.count;
            ndarray::Array2::from_shape_fn((n * c, d + 1), |(r, k)| {
                if k < d {
                    x[[r / c, k]]
                } else {
                    (r % c) as f64
                }
            })
        } else {
            x.to_owned()
        };
        let p = py
            .detach(|| self.model.predict(xm.view(), policy))
            .map_err(fit_error)?;
        let outside = if classes.softmax {
            // every data row is C model rows
            p.outside / classes.count
        } else {
            p.outside
        };
        Ok((p.values, outside))
    }
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
        self.require("regression", "predict")?;
        let policy = OutsidePolicy::parse(outside).map_err(fit_error)?;
        let x = x.as_array();
        self.check_columns(&x)?;
        let p = py
            .detach(|| self.model.predict(x, policy))
            .map_err(fit_error)?;
        Ok((p.values.into_pyarray(py), p.outside))
    }

    /// The model file (JSON) as bytes: what `ttfit fit --out` (or `ttfit density --out`)
    /// writes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let text = model_file::to_string_kind(&self.model, self.info.as_ref(), self.kind)
            .map_err(fit_error)?;
        Ok(PyBytes::new(py, text.as_bytes()))
    }

    /// A model from the bytes of a model file (validated as `ttfit predict` does); errors name
    /// `<model bytes>` where they would name the file.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Model> {
        let (model, info, kind) =
            model_file::parse_kind(data, Path::new(BYTES_LABEL)).map_err(fit_error)?;
        Ok(Model { model, info, kind })
    }

    /// Write the model file to `path` atomically (temporary file + rename).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        model_file::save_kind(&self.model, self.info.as_ref(), self.kind, path).map_err(fit_error)
    }

    /// Read and validate a model file written by `ttfit fit`, `ttfit density` or
    /// [`Model::save`].
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Model> {
        Model::from_file(&path).map_err(fit_error)
    }

    /// What the model is: `"regression"`, `"classifier"` or `"density"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind_name()
    }

    /// A classifier's number of classes `C` (`None` for other models).
    #[getter]
    fn n_classes(&self) -> Option<usize> {
        self.classes().map(|c| c.count)
    }

    /// Class probabilities `N x C` of a classifier (columns: classes `0..C-1`; binary:
    /// `1 - σ(z)`, `σ(z)`; softmax: `softmax_c v(x, c)`), the values `ttfit predict` writes,
    /// and the number of rows outside the training domain. `outside` as in [`Model::predict`].
    #[pyo3(signature = (x, outside = "extrapolate"))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        outside: &str,
    ) -> PyResult<(Bound<'py, PyArray2<f64>>, usize)> {
        self.require("classifier", "predict_proba")?;
        let classes = self
            .classes()
            .ok_or_else(|| invalid("model", "no classes"))?;
        let policy = OutsidePolicy::parse(outside).map_err(fit_error)?;
        let x = x.as_array();
        self.check_columns(&x)?;
        let (z, out) = self.logits(py, x, policy, classes)?;
        let p = ttfit::classify::probabilities(z.view(), classes.count, classes.softmax);
        Ok((p.into_pyarray(py), out))
    }

    /// Logits of a classifier: `N` values `z = v(x)` (binary: `P(y = 1) = σ(z)`) or `N x C`
    /// values `v(x, c)` (softmax), and the number of rows outside the training domain.
    #[pyo3(signature = (x, outside = "extrapolate"))]
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        outside: &str,
    ) -> PyResult<(Bound<'py, PyAny>, usize)> {
        self.require("classifier", "decision_function")?;
        let classes = self
            .classes()
            .ok_or_else(|| invalid("model", "no classes"))?;
        let policy = OutsidePolicy::parse(outside).map_err(fit_error)?;
        let x = x.as_array();
        self.check_columns(&x)?;
        let n = x.nrows();
        let (z, out) = self.logits(py, x, policy, classes)?;
        if classes.softmax {
            let z = z
                .into_shape_with_order((n, classes.count))
                .map_err(|e| invalid("model", e))?;
            Ok((z.into_pyarray(py).into_any(), out))
        } else {
            Ok((z.into_pyarray(py).into_any(), out))
        }
    }

    /// Densities `p(x)` and log-densities `log p(x)` (Lebesgue, user coordinates) of a
    /// density model, exactly normalized, as `ttfit predict` writes them, and the number of
    /// rows outside the domain box (density 0, log-density `-inf`). `outside`: `"clamp"`
    /// (default; any policy but `"error"` gives 0 outside) or `"error"`.
    #[pyo3(signature = (x, outside = "clamp"))]
    fn density<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        outside: &str,
    ) -> PyResult<DensityArrays<'py>> {
        self.require("density", "density")?;
        let policy = OutsidePolicy::parse(outside).map_err(fit_error)?;
        let x = x.as_array();
        self.check_columns(&x)?;
        let v = py
            .detach(|| SquaredTt::new(self.model.clone())?.evaluate(x, policy))
            .map_err(fit_error)?;
        Ok((
            v.density.into_pyarray(py),
            v.log_density.into_pyarray(py),
            v.outside,
        ))
    }

    /// `n` exact draws (`n x d`) from a density model by conditional sampling, seeded as
    /// `ttfit sample --model M --n N --seed SEED` (the same draws).
    #[pyo3(signature = (n, seed = 0))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.require("density", "sample")?;
        if n == 0 {
            return Err(invalid("n", "need at least one sample"));
        }
        let x = py
            .detach(|| {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                ttfit::density::sample(&self.model, n, &mut rng)
            })
            .map_err(fit_error)?;
        Ok(x.into_pyarray(py))
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
            "Model(kind={:?}, n_features={}, mode_sizes={:?}, ranks={:?})",
            self.kind_name(),
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
        kind: ModelKind::Regression,
    };
    Ok((model, history, stop))
}

/// Fit a classifier (`ttfit fit --loss logistic|softmax`); returns `(model, history,
/// stop_reason)` as [`fit`]. `y` holds class indices `0..n_classes-1` (the Python estimator
/// maps its labels to them); `n_classes = 2` fits the logistic model, more the softmax model.
/// `params` as in [`fit`] (without a validation split: classifiers stop on the training loss).
#[pyfunction]
#[pyo3(signature = (x, y, n_classes, sample_weight = None, params = None, callback = None))]
pub fn fit_classifier<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    n_classes: usize,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    params: Option<&Bound<'py, PyDict>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<(Model, Bound<'py, PyDict>, String)> {
    let (mut cfg, _) = fit_config(params)?;
    if n_classes < 2 {
        return Err(invalid(
            "y",
            format!("a classifier needs at least two classes, got {n_classes}"),
        ));
    }
    let data = dataset(x, y, sample_weight, "training data")?;
    // every index must be a class, and the largest must be n_classes - 1 (the softmax model
    // takes its number of classes from the labels, as on the command line)
    let labels =
        ttfit::classify::labels_from_targets(data.y.view(), n_classes).map_err(fit_error)?;
    if !labels.contains(&(n_classes - 1)) {
        return Err(invalid(
            "y",
            format!("no sample has the last class index {}", n_classes - 1),
        ));
    }
    cfg.loss = if n_classes == 2 {
        LossKind::Logistic
    } else {
        LossKind::Softmax
    };
    let mut observer = PyObserver::new(callback.as_ref());
    let fitted = run_detached(py, &mut observer, |obs| {
        ttfit::fit::fit(&cfg, &data, None, |rec: &IterationRecord| {
            obs.observe(None, rec)
        })
    })?
    .map_err(fit_error)?;
    let history = history_dict(py, &fitted.result.history)?;
    let stop = fitted.result.stop.to_string();
    let model = Model {
        model: fitted.model,
        info: Some(fitted.info),
        kind: ModelKind::Regression,
    };
    Ok((model, history, stop))
}

/// Fit a squared-TT density to the samples `x` (`ttfit density`, the same computation);
/// returns `(model, history, stop_reason)`, the history with `iteration`, `seconds`,
/// `train_nll`, `validation_nll`, `norm_error`, `step_size`. `params`: see
/// `config::DENSITY_PARAMS`; `callback(record)` as in [`fit`].
#[pyfunction]
#[pyo3(signature = (x, params = None, callback = None))]
pub fn fit_density<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    params: Option<&Bound<'py, PyDict>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<(Model, Bound<'py, PyDict>, String)> {
    let x = x.as_array();
    let settings = density_settings(params, x.ncols())?;
    let mut observer = PyObserver::new(callback.as_ref());
    let fitted = run_detached(py, &mut observer, |obs| {
        ttfit::density::estimate(
            &settings,
            x,
            tensor_train::linalg::Par::Rayon(0),
            &mut |rec, _| {
                obs.observe_with(|py| density_record_dict(py, rec));
                true
            },
        )
    })?
    .map_err(|e| match e {
        ttfit::Error::OutsideDomain {
            row,
            variable,
            value,
            lo,
            hi,
        } => invalid(
            "X",
            format!("row {}: {variable} = {value} lies outside the domain [{lo}, {hi}]; widen domain (or leave it None to infer it from the samples)", row + 1),
        ),
        other => fit_error(other),
    })?;
    let history = density_history_dict(py, &fitted.fit.history)?;
    let stop = fitted.info.stop_reason.clone();
    // the model as its file holds it: the fitted TT may carry orthogonality that the file
    // does not, and the norm (hence the normalization of every density) would be computed
    // by another route, an ulp or so away from what `ttfit predict` gives for the file
    let text =
        model_file::to_string_kind(fitted.model.psi(), Some(&fitted.info), ModelKind::Density)
            .map_err(fit_error)?;
    let model = Model::from_bytes(text.as_bytes())?;
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
