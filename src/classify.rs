//! Classification with tensor trains (MATH.md §8): labels, the class mode of the softmax
//! model, probabilities and the reported metrics (accuracy, log-loss).
//!
//! - **Binary** ([`crate::loss::Logistic`]): the TT value is a logit `z = v(x)`,
//!   `P(y = 1 | x) = sigma(z)`; labels are `0` and `1`.
//! - **`C` classes** ([`crate::loss::Softmax`]): the TT gets one more (last) mode of size `C`
//!   whose features are one-hot class indicators, so `v(x, c)` is the logit of class `c` and
//!   every sample gives `C` consecutive rows ([`expand_classes`]); labels are `0..C-1`.

use crate::error::{Error, Result};
use crate::loss::sigmoid;
use crate::samples::SampleSet;
use ndarray::{Array1, Array2, ArrayView1, Axis};

/// Class labels from a target column: every value must be an integer in `0..classes`
/// (`classes = 2` for logistic). The error names the first bad row and value.
pub fn labels_from_targets(y: ArrayView1<'_, f64>, classes: usize) -> Result<Vec<usize>> {
    y.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() == 0.0 && v >= 0.0 && (v as usize) < classes {
                Ok(v as usize)
            } else {
                Err(Error::data(
                    format!("target row {}", i + 1),
                    format!(
                        "label {v} is not a class: classification needs integer labels 0..{} (got {classes} classes); recode the target column",
                        classes - 1
                    ),
                ))
            }
        })
        .collect()
}

/// The number of classes of a label column: `1 + max label` (at least 2).
pub fn count_classes(y: ArrayView1<'_, f64>) -> Result<usize> {
    let mut max = 0usize;
    for (i, &v) in y.iter().enumerate() {
        if !(v.fract() == 0.0 && (0.0..1e6).contains(&v)) {
            return Err(Error::data(
                format!("target row {}", i + 1),
                format!("label {v} is not a non-negative integer class index; recode the target column as 0, 1, 2, ..."),
            ));
        }
        max = max.max(v as usize);
    }
    Ok((max + 1).max(2))
}

/// The softmax sample set: sample `i` becomes rows `i C + c`, `c < C`, with the features of
/// sample `i` for the input modes, the one-hot `e_c` for the extra class mode, target
/// `1[label_i = c]` and the sample's weight.
pub fn expand_classes(
    features: &[Array2<f64>],
    labels: &[usize],
    classes: usize,
    weights: Option<&Array1<f64>>,
) -> Result<SampleSet> {
    let n = labels.len();
    let idx: Vec<usize> = (0..n * classes).map(|r| r / classes).collect();
    let mut feats: Vec<Array2<f64>> = features.iter().map(|f| f.select(Axis(0), &idx)).collect();
    feats.push(Array2::from_shape_fn((n * classes, classes), |(r, c)| {
        (r % classes == c) as u8 as f64
    }));
    let y = Array1::from_shape_fn(n * classes, |r| {
        (labels[r / classes] == r % classes) as u8 as f64
    });
    let w = weights.map(|w| w.select(Axis(0), &idx));
    SampleSet::new(feats, y, w)
}

/// Class probabilities `N x C` from model values: logits of a logistic model (`N` values,
/// `C = 2`, columns `1 - p`, `p`), or `N C` softmax logits.
pub fn probabilities(values: ArrayView1<'_, f64>, classes: usize, softmax: bool) -> Array2<f64> {
    if !softmax {
        return Array2::from_shape_fn((values.len(), 2), |(i, c)| {
            let p = sigmoid(values[i]);
            if c == 1 {
                p
            } else {
                1.0 - p
            }
        });
    }
    let p = crate::loss::Softmax { classes }.probabilities(values);
    p.into_shape_with_order((values.len() / classes, classes))
        .expect("N C values")
}

/// The most probable class of each row of `probs` (ties: the lowest class).
pub fn predicted_labels(probs: &Array2<f64>) -> Vec<usize> {
    probs
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (c, &p)| if p > b.1 { (c, p) } else { b },
                )
                .0
        })
        .collect()
}

/// Share of correct labels.
pub fn accuracy(probs: &Array2<f64>, labels: &[usize]) -> f64 {
    let pred = predicted_labels(probs);
    let ok = pred.iter().zip(labels).filter(|(a, b)| a == b).count();
    ok as f64 / labels.len().max(1) as f64
}

/// Mean log-loss `-(1/N) sum_i log p_i(label_i)`, probabilities floored at `1e-15`.
pub fn log_loss(probs: &Array2<f64>, labels: &[usize]) -> f64 {
    let s: f64 = labels
        .iter()
        .enumerate()
        .map(|(i, &c)| -probs[[i, c]].max(1e-15).ln())
        .sum();
    s / labels.len().max(1) as f64
}
