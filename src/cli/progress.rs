//! Progress bars (indicatif) fed by the training observer.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ttfit::train::IterationRecord;

/// A progress bar over the iteration budget showing the loss and errors; hidden when stderr is
/// not a terminal or when quiet.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(max_iter: usize, prefix: &str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(max_iter as u64),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        let style = ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(prefix.to_string());
        Progress { bar }
    }

    pub fn update(&self, rec: &IterationRecord) {
        self.bar.set_position(rec.iteration as u64);
        let mut msg = format!("loss {:.3e} train {:.2e}", rec.train_loss, rec.train_error);
        if let Some(v) = rec.validation_error {
            msg.push_str(&format!(" valid {v:.2e}"));
        }
        if let Some(t) = rec.test_error {
            msg.push_str(&format!(" test {t:.2e}"));
        }
        self.bar.set_message(msg);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
