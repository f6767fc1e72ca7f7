//! The extension module `ttfit._ttfit`: thin PyO3 bindings of the `ttfit` and `tensor_train`
//! crates. The Python package `ttfit` (python/ttfit/) wraps it in scikit-learn estimators
//! (regressor, classifier, density).
//!
//! Everything here converts arguments and calls the library: hyperparameters become a
//! `FitConfig` ([`config`]), fits run with the GIL released and report progress through an
//! observer that re-acquires it ([`progress`]), models travel as model-file bytes ([`model`]),
//! and the TT format and geometry are exposed as they are ([`tensor`]).

mod config;
mod errors;
mod model;
mod progress;
mod tensor;

use pyo3::prelude::*;

#[pymodule]
fn _ttfit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MODEL_FORMAT", ttfit::model_file::FORMAT)?;
    m.add("MODEL_VERSION", ttfit::model_file::VERSION)?;
    m.add(
        "HYPERPARAMETERS",
        config::PARAMS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    )?;
    m.add_class::<model::Model>()?;
    m.add_class::<tensor::TensorTrain>()?;
    m.add_class::<tensor::TangentSpace>()?;
    m.add(
        "DENSITY_HYPERPARAMETERS",
        config::DENSITY_PARAMS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>(),
    )?;
    m.add_function(wrap_pyfunction!(model::fit, m)?)?;
    m.add_function(wrap_pyfunction!(model::fit_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(model::fit_density, m)?)?;
    m.add_function(wrap_pyfunction!(model::compare, m)?)?;
    m.add_function(wrap_pyfunction!(model::sample_function, m)?)?;
    m.add_function(wrap_pyfunction!(model::optimizer_names, m)?)?;
    Ok(())
}
