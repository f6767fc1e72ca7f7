//! Rust errors as Python exceptions, keeping the library's message.
//!
//! Bad input (data, hyperparameters, model files, shapes) is a `ValueError`; a file that cannot
//! be read or written an `OSError`; a fit that diverged or a factorization that failed a
//! `RuntimeError`.

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;
use tensor_train::TtError;

/// The Python exception for a ttfit error.
pub fn fit_error(e: ttfit::Error) -> PyErr {
    let msg = e.to_string();
    match e {
        ttfit::Error::Io { .. } => PyOSError::new_err(msg),
        ttfit::Error::Diverged { .. } | ttfit::Error::Linalg(_) => PyRuntimeError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// The Python exception for a tensor-train error.
pub fn tt_error(e: TtError) -> PyErr {
    let msg = e.to_string();
    match e {
        TtError::Linalg(_) => PyRuntimeError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// A `ValueError` naming a parameter.
pub fn invalid(name: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("invalid {name}: {message}"))
}
