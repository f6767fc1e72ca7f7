//! # tensor_train
//!
//! The algebra and the Riemannian geometry of the tensor-train (TT) format, and nothing about
//! data. A TT of order `d` stores a tensor `X[i_1, ..., i_d] = G_1[i_1] G_2[i_2] ... G_d[i_d]` by
//! its cores `G_k` of shape `(r_{k-1}, n_k, r_k)` with `r_0 = r_d = 1` (row-major, MATH.md §0).
//!
//! - [`TensorTrain`]: validated cores, constructors (zeros, seeded random, TT-SVD of a dense
//!   tensor), evaluation of entries and of feature-contracted batches, algebra.
//! - [`gauge`]: left/right orthogonalization and the orthogonality centre, recorded in the
//!   type so that no sweep is recomputed.
//! - [`rounding`]: TT-SVD truncation with the quasi-optimality bound of Oseledets (2011).
//! - [`tangent`]: the tangent space of the fixed-rank manifold with an explicit orthonormal
//!   basis from the gauge, projection, transport, retraction and the sample Jacobian.
//! - [`linalg`]: the dense kernels, on faer by default or LAPACK with feature `lapack`.
//! - [`reduce`]: the one deterministic sum over samples (fixed chunks, fixed order).
//!
//! ```
//! use tensor_train::{TensorTrain, CoreDistribution, Truncation};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let x = TensorTrain::random(&[4, 4, 4, 4], &[3, 3, 3], CoreDistribution::ScaledNormal, &mut rng)?;
//! let y = x.add(&x)?;                                  // ranks 6
//! let z = y.round(&Truncation::relative(1e-12))?.tt;  // back to ranks 3
//! assert!(z.ranks() == vec![1, 3, 3, 3, 1]);
//! assert!((z.norm()? - 2.0 * x.norm()?).abs() < 1e-10 * x.norm()?);
//! # Ok::<(), tensor_train::TtError>(())
//! ```

#![warn(missing_docs)]

pub mod algebra;
pub mod error;
pub mod eval;
pub mod gauge;
pub mod interfaces;
pub mod linalg;
pub mod operator;
pub mod reduce;
pub mod rounding;
pub mod tangent;
pub mod tt;

pub use error::{Result, TtError};
pub use gauge::Gauge;
pub use rounding::{Rounded, Truncation};
pub use tt::{check_ranks, clamp_ranks, CoreDistribution, TensorTrain};
