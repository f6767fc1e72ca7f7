//! Checkpoints: the full state of a run as one JSON file, written atomically, read back to
//! resume (issue 9 item 4).
//!
//! A checkpoint holds the configuration the run was started with (free-form JSON, the
//! [`crate::fit::FitConfig`] for `ttfit fit`) and the [`TrainerState`]: iteration count,
//! iterate (exact cores and gauge), the optimizer's state ([`crate::optim::Optimizer::state`]),
//! the history so far and the driver's stopping-rule memory. Mini-batches are drawn from a
//! generator seeded by `(seed, iteration)`, so no random state needs saving. Resuming to the
//! same iteration budget therefore replays the uninterrupted run bit for bit (same machine,
//! same thread count; `tests/checkpoint.rs`).
//!
//! Writing goes to `<path>.tmp` in the same directory, is flushed to disk, and renamed over
//! `<path>`: a crash or `SIGKILL` during the write leaves the previous checkpoint intact.

use crate::error::{Error, Result};
use crate::train::TrainerState;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Format tag of checkpoint files.
pub const FORMAT: &str = "ttfit-checkpoint";
/// Current format version.
pub const VERSION: u32 = 1;

/// A checkpoint file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// The ttfit version that wrote it.
    pub ttfit_version: String,
    /// The run's configuration (for `ttfit fit`, the `FitConfig`).
    pub config: serde_json::Value,
    /// The driver's and the optimizer's state.
    pub state: TrainerState,
}

impl Checkpoint {
    /// A checkpoint of `state` for a run configured by `config`.
    pub fn new(config: serde_json::Value, state: TrainerState) -> Self {
        Checkpoint {
            format: FORMAT.into(),
            version: VERSION,
            ttfit_version: env!("CARGO_PKG_VERSION").into(),
            config,
            state,
        }
    }

    /// Write atomically (temporary file in the same directory, flushed, then renamed).
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let json =
            serde_json::to_vec(self).map_err(|e| Error::param("checkpoint", e.to_string()))?;
        let tmp = temporary(path);
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&json).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Read and check the format.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |message: String| Error::ModelFile {
            path: path.to_path_buf(),
            message,
        };
        let ck: Checkpoint = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a ttfit checkpoint ({e})")))?;
        if ck.format != FORMAT {
            return Err(bad(format!(
                "format is '{}', expected '{FORMAT}'",
                ck.format
            )));
        }
        if ck.version != VERSION {
            return Err(bad(format!(
                "checkpoint version {} is not supported (this ttfit reads version {VERSION})",
                ck.version
            )));
        }
        Ok(ck)
    }
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "checkpoint".into());
    name.push(".tmp");
    path.with_file_name(name)
}
