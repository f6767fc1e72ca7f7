//! # ttfit
//!
//! Learn tensor-train surrogates of high-dimensional functions from samples.

#![warn(missing_docs)]

pub mod basis;
pub mod checkpoint;
pub mod classify;
pub mod data;
pub mod density;
pub mod error;
pub mod functions;

pub use error::{Error, Result};
pub use tensor_train;
pub mod compare;
pub mod config;
pub mod fit;
pub mod init;
pub mod learn;
pub mod loss;
pub mod model;
pub mod model_file;
pub mod optim;
pub mod pde;
pub mod report;
pub mod samples;
pub mod train;
