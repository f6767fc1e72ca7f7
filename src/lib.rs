//! # ttfit
//!
//! Learn tensor-train surrogates of high-dimensional functions from samples.

#![warn(missing_docs)]

pub mod error;

pub use error::{Error, Result};
pub use tensor_train;
