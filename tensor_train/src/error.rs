//! The error type of the tensor_train crate.

use crate::linalg::LinalgError;

/// Everything that can go wrong in TT algebra: invalid shapes or ranks given by a caller, and
/// failures of the dense kernels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TtError {
    /// A TT needs at least one core.
    #[error("a tensor train needs at least one core (got none)")]
    NoCores,
    /// A core's shape does not fit its neighbours or the boundary ranks.
    #[error("core {core}: {detail}")]
    CoreShape {
        /// Index of the core (0-based).
        core: usize,
        /// What was wrong.
        detail: String,
    },
    /// A value is NaN or infinite.
    #[error("{what} holds a non-finite value (NaN or infinity)")]
    NonFinite {
        /// Where the value was found.
        what: String,
    },
    /// Ranks that no tensor of these mode sizes can have.
    #[error("rank r_{bond} = {rank} is not admissible: it must satisfy r_k <= r_(k-1) n_k and r_(k-1) <= n_k r_k (here at most {max}); use `clamp_ranks` to get the largest admissible ranks")]
    Rank {
        /// Bond index k (1-based, between cores k and k+1).
        bond: usize,
        /// The requested rank.
        rank: usize,
        /// The largest admissible value at this bond given its neighbours.
        max: usize,
    },
    /// Wrong number of ranks, mode sizes or feature matrices, or mismatching sizes.
    #[error("{0}")]
    Shape(String),
    /// A tolerance or other parameter out of its range.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// A dense kernel failed.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
}

/// Result alias of this crate.
pub type Result<T, E = TtError> = std::result::Result<T, E>;
