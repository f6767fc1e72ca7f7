//! Versioned JSON model files, written atomically and read with validation.
//!
//! Layout (version 1):
//! ```json
//! { "format": "ttfit-model", "version": 1,
//!   "features": [ {"name": "x1", "basis": {"family": "legendre", "n": 8},
//!                  "map": {"kind": "interval", "lo": 0, "hi": 1}}, ... ],
//!   "ranks": [1, 4, ..., 1],
//!   "cores": [ [..row-major r_{k-1} x n_k x r_k values..], ... ],
//!   "training": { ... optional metadata ... } }
//! ```

use crate::basis::{FeatureMap, VariableFeatures};
use crate::error::{Error, Result};
use crate::model::FunctionalTT;
use ndarray::Array3;
use std::path::Path;
use tensor_train::TensorTrain;

/// The format tag of every model file.
pub const FORMAT: &str = "ttfit-model";
/// The version this build writes and the newest it reads.
pub const VERSION: u32 = 1;

/// What was done to produce a model (informational; not needed to predict).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingInfo {
    /// ttfit version that wrote the file.
    pub ttfit_version: String,
    /// Optimizer name.
    pub optimizer: String,
    /// Full optimizer configuration.
    pub optimizer_config: Option<serde_json::Value>,
    /// Iterations run.
    pub iterations: usize,
    /// Optimizer seconds.
    pub seconds: f64,
    /// Why training stopped.
    pub stop_reason: String,
    /// Training samples.
    pub n_train: usize,
    /// Relative L2 error on the training set.
    pub train_error: f64,
    /// Relative L2 error on the validation set.
    pub validation_error: Option<f64>,
    /// Relative L2 error on the test set.
    pub test_error: Option<f64>,
    /// Seed of the run.
    pub seed: u64,
    /// Target column name.
    pub target: String,
    /// Where the training data came from.
    pub data_source: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileV1 {
    format: String,
    version: u32,
    features: Vec<VariableFeatures>,
    ranks: Vec<usize>,
    cores: Vec<Vec<f64>>,
    #[serde(default)]
    training: Option<TrainingInfo>,
}

/// Write `model` (and optional metadata) to `path` atomically: a temporary file in the same
/// directory is renamed over `path` only once completely written.
pub fn save(
    model: &FunctionalTT,
    training: Option<&TrainingInfo>,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let tt = model.tt();
    let file = FileV1 {
        format: FORMAT.into(),
        version: VERSION,
        features: model.features().variables().to_vec(),
        ranks: tt.ranks(),
        cores: tt
            .cores()
            .iter()
            .map(|c| c.iter().cloned().collect())
            .collect(),
        training: training.cloned(),
    };
    crate::data::csv::write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &file).map_err(|e| Error::ModelFile {
            path: path.to_path_buf(),
            message: format!("cannot serialize: {e}"),
        })?;
        use std::io::Write;
        w.write_all(b"\n").map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// Read and validate a model file.
pub fn load(path: impl AsRef<Path>) -> Result<(FunctionalTT, Option<TrainingInfo>)> {
    let path = path.as_ref();
    let bad = |message: String| Error::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    // check the header first so a wrong version gets its own message
    let head: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        if e.is_eof() {
            bad(format!(
                "the file ends early at line {} (truncated?); write it again with `ttfit fit`",
                e.line()
            ))
        } else {
            bad(format!("not valid JSON ({e})"))
        }
    })?;
    match head.get("format").and_then(|v| v.as_str()) {
        Some(FORMAT) => {}
        Some(other) => return Err(bad(format!("format is \"{other}\", expected \"{FORMAT}\""))),
        None => {
            return Err(bad(format!(
                "no \"format\": \"{FORMAT}\" field; this is not a ttfit model file"
            )))
        }
    }
    let version = head
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| bad("no \"version\" field".into()))?;
    if version as u32 != VERSION || version > u32::MAX as u64 {
        return Err(bad(format!(
            "format version {version} is not supported: this ttfit ({}) reads version {VERSION}{}",
            env!("CARGO_PKG_VERSION"),
            if version > VERSION as u64 {
                "; upgrade ttfit"
            } else {
                ""
            }
        )));
    }
    let file: FileV1 =
        serde_json::from_value(head).map_err(|e| bad(format!("invalid content: {e}")))?;
    let features =
        FeatureMap::new(file.features).map_err(|e| bad(format!("invalid features: {e}")))?;
    let sizes = features.mode_sizes();
    let d = sizes.len();
    if file.ranks.len() != d + 1 {
        return Err(bad(format!(
            "{} ranks for {d} variables; expected d + 1 = {}",
            file.ranks.len(),
            d + 1
        )));
    }
    if file.cores.len() != d {
        return Err(bad(format!("{} cores for {d} variables", file.cores.len())));
    }
    let mut cores = Vec::with_capacity(d);
    for (k, data) in file.cores.into_iter().enumerate() {
        let shape = (file.ranks[k], sizes[k], file.ranks[k + 1]);
        let expected = shape.0 * shape.1 * shape.2;
        if data.len() != expected {
            return Err(bad(format!(
                "core {k} has {} values; ranks {} and {} with {} features need {expected}",
                data.len(),
                shape.0,
                shape.2,
                shape.1
            )));
        }
        cores.push(Array3::from_shape_vec(shape, data).map_err(|e| bad(format!("core {k}: {e}")))?);
    }
    let tt = TensorTrain::from_cores(cores).map_err(|e| bad(format!("invalid cores: {e}")))?;
    let model = FunctionalTT::new(features, tt).map_err(|e| bad(e.to_string()))?;
    Ok((model, file.training))
}
