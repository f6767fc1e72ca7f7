//! The error type of ttfit: every failure a user can cause names what was wrong and what to do.

use std::path::PathBuf;
use tensor_train::linalg::LinalgError;
use tensor_train::TtError;

/// Errors of ttfit. Messages are written for the person at the terminal: they name the file,
/// row, column or option, say what was wrong and, where possible, what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bad tabular data: a CSV cell, row or column, or an in-memory array.
    #[error("{location}: {message}")]
    Data {
        /// Where: `file.csv, row 12, column "x3"` or `input row 4`.
        location: String,
        /// What was wrong and what to do.
        message: String,
    },
    /// A hyperparameter, option or configuration value out of its range.
    #[error("invalid {name}: {message}")]
    InvalidParameter {
        /// The parameter or option name as the user writes it (`rank`, `--basis`).
        name: String,
        /// What was wrong and what to do.
        message: String,
    },
    /// An input point lies outside the model's domain and the policy is `error`.
    #[error("data row {}, variable {variable} = {value} lies outside the model domain [{lo}, {hi}]; use --outside extrapolate or clamp to predict anyway", .row + 1)]
    OutsideDomain {
        /// Row (0-based in the data given; shown 1-based as "data row").
        row: usize,
        /// Variable name.
        variable: String,
        /// The value.
        value: f64,
        /// Domain lower bound.
        lo: f64,
        /// Domain upper bound.
        hi: f64,
    },
    /// A model file that cannot be used.
    #[error("model file {}: {message}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// An optimizer produced non-finite values or a loss that blew up.
    #[error("the fit diverged at iteration {iteration}: {message}")]
    Diverged {
        /// Iteration at which it was detected.
        iteration: usize,
        /// Details and advice.
        message: String,
    },
    /// TT algebra failed (shapes, ranks).
    #[error(transparent)]
    Tt(#[from] TtError),
    /// A dense factorization failed.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
}

/// Result alias of ttfit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Data`].
    pub fn data(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Data {
            location: location.into(),
            message: message.into(),
        }
    }
}
