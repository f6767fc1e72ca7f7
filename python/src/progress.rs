//! Progress while the GIL is released: every iteration record re-acquires the GIL, checks for
//! signals (Ctrl-C raises `KeyboardInterrupt`) and calls the optional Python callback with a
//! dict of the record. An exception there aborts the fit: the observer stores it and unwinds
//! with [`Abort`] (through `resume_unwind`, so no panic message is printed), and
//! [`run_detached`] turns that back into the stored exception.

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use ttfit::density::DensityRecord;
use ttfit::train::IterationRecord;

/// The unwind payload of an aborted fit.
struct Abort;

/// Calls back into Python from a fit running without the GIL.
pub struct PyObserver<'a> {
    callback: Option<&'a Py<PyAny>>,
    error: Option<PyErr>,
}

impl<'a> PyObserver<'a> {
    /// An observer calling `callback(record)` (if given) after every iteration.
    pub fn new(callback: Option<&'a Py<PyAny>>) -> Self {
        PyObserver {
            callback,
            error: None,
        }
    }

    /// Handle one record of the run of `optimizer` (`None` in a single fit).
    pub fn observe(&mut self, optimizer: Option<&str>, rec: &IterationRecord) {
        self.observe_with(|py| {
            let d = record_dict(py, rec)?;
            if let Some(name) = optimizer {
                d.set_item("optimizer", name)?;
            }
            Ok(d)
        });
    }

    /// Handle one record that `record` turns into a dict (built only when there is a
    /// callback): signals are checked, the callback called, and an exception unwinds.
    pub fn observe_with(&mut self, record: impl FnOnce(Python<'_>) -> PyResult<Bound<'_, PyDict>>) {
        let result = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = self.callback {
                cb.call1(py, (record(py)?,))?;
            }
            Ok(())
        });
        if let Err(e) = result {
            self.error = Some(e);
            resume_unwind(Box::new(Abort));
        }
    }
}

/// Run `work` without the GIL; an exception raised in an observer (see [`PyObserver`]) comes
/// back as `Err`, other panics propagate (PyO3 turns them into `PanicException`).
pub fn run_detached<T: Send>(
    py: Python<'_>,
    observer: &mut PyObserver<'_>,
    work: impl FnOnce(&mut PyObserver<'_>) -> T + Send,
) -> PyResult<T> {
    let out = py.detach(|| catch_unwind(AssertUnwindSafe(|| work(observer))));
    match out {
        Ok(v) => Ok(v),
        Err(payload) if payload.is::<Abort>() => Err(observer
            .error
            .take()
            .unwrap_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the fit was aborted"))),
        Err(payload) => resume_unwind(payload),
    }
}

fn opt(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// One record as a dict of floats (`nan` for errors that are not tracked).
pub fn record_dict<'py>(py: Python<'py>, rec: &IterationRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("iteration", rec.iteration)?;
    d.set_item("seconds", rec.seconds)?;
    d.set_item("train_loss", rec.train_loss)?;
    d.set_item("train_error", rec.train_error)?;
    d.set_item("validation_error", opt(rec.validation_error))?;
    d.set_item("test_error", opt(rec.test_error))?;
    d.set_item("step_size", rec.step.step_size)?;
    Ok(d)
}

/// A history as a dict of equally long numpy arrays (`nan` where an error is not tracked).
pub fn history_dict<'py>(
    py: Python<'py>,
    hist: &[IterationRecord],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let iteration: Vec<i64> = hist.iter().map(|r| r.iteration as i64).collect();
    d.set_item("iteration", iteration.into_pyarray(py))?;
    let column = |f: &dyn Fn(&IterationRecord) -> f64| -> Vec<f64> { hist.iter().map(f).collect() };
    d.set_item("seconds", column(&|r| r.seconds).into_pyarray(py))?;
    d.set_item("train_loss", column(&|r| r.train_loss).into_pyarray(py))?;
    d.set_item("train_error", column(&|r| r.train_error).into_pyarray(py))?;
    d.set_item(
        "validation_error",
        column(&|r| opt(r.validation_error)).into_pyarray(py),
    )?;
    d.set_item(
        "test_error",
        column(&|r| opt(r.test_error)).into_pyarray(py),
    )?;
    d.set_item("step_size", column(&|r| r.step.step_size).into_pyarray(py))?;
    d.set_item(
        "restarted",
        hist.iter()
            .map(|r| r.step.restarted)
            .collect::<Vec<bool>>()
            .into_pyarray(py),
    )?;
    Ok(d)
}

/// One density-fit record as a dict (`validation_nll` is `nan` without a validation split).
pub fn density_record_dict<'py>(
    py: Python<'py>,
    rec: &DensityRecord,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("iteration", rec.iteration)?;
    d.set_item("seconds", rec.seconds)?;
    d.set_item("train_nll", rec.train_nll)?;
    d.set_item("validation_nll", opt(rec.validation_nll))?;
    d.set_item("norm_error", rec.norm_error)?;
    d.set_item("step_size", rec.step.step_size)?;
    Ok(d)
}

/// A density-fit history as a dict of equally long numpy arrays (the keys of
/// [`density_record_dict`]).
pub fn density_history_dict<'py>(
    py: Python<'py>,
    hist: &[DensityRecord],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let iteration: Vec<i64> = hist.iter().map(|r| r.iteration as i64).collect();
    d.set_item("iteration", iteration.into_pyarray(py))?;
    let column = |f: &dyn Fn(&DensityRecord) -> f64| -> Vec<f64> { hist.iter().map(f).collect() };
    d.set_item("seconds", column(&|r| r.seconds).into_pyarray(py))?;
    d.set_item("train_nll", column(&|r| r.train_nll).into_pyarray(py))?;
    d.set_item(
        "validation_nll",
        column(&|r| opt(r.validation_nll)).into_pyarray(py),
    )?;
    d.set_item("norm_error", column(&|r| r.norm_error).into_pyarray(py))?;
    d.set_item("step_size", column(&|r| r.step.step_size).into_pyarray(py))?;
    Ok(d)
}
