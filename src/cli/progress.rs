//! Progress reports fed by the training observer: an indicatif bar on a terminal, plain lines
//! in logs and CI (`--progress auto|bar|lines|none`).
//!
//! Lines mode writes one line when the first record arrives, then at least every
//! [`LINE_INTERVAL`] from a ticker thread (so a long iteration or a long preparation still
//! shows up), and a last line when the run ends. Each line has the elapsed wall time since the
//! run started and, when an iteration or time limit is known, an estimate of the time left.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use ttfit::train::IterationRecord;

/// Longest time between two progress lines.
pub const LINE_INTERVAL: Duration = Duration::from_secs(4);

/// How to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, lines otherwise.
    Auto,
    /// An interactive bar (on stderr).
    Bar,
    /// Plain lines on stderr, at least one every 4 s.
    Lines,
    /// Nothing.
    None,
}

impl ProgressMode {
    /// `Auto` resolved against stderr.
    fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            m => m,
        }
    }
}

/// What a progress line reports.
struct State {
    label: String,
    started: Instant,
    max_iter: Option<usize>,
    time_limit: Option<Duration>,
    last: Option<IterationRecord>,
    first_at: Option<Instant>,
    done: bool,
}

impl State {
    fn line(&self) -> String {
        let elapsed = self.started.elapsed();
        let mut s = format!("[{}] {:>7.1} s", self.label, elapsed.as_secs_f64());
        match &self.last {
            None => s.push_str("  preparing (features, start point)"),
            Some(r) => {
                match self.max_iter {
                    Some(m) => s.push_str(&format!("  iter {}/{m}", r.iteration)),
                    None => s.push_str(&format!("  iter {}", r.iteration)),
                }
                s.push_str(&format!(
                    "  loss {:.3e}  train {:.2e}",
                    r.train_loss, r.train_error
                ));
                if let Some(v) = r.validation_error {
                    s.push_str(&format!("  valid {v:.2e}"));
                }
                if let Some(t) = r.test_error {
                    s.push_str(&format!("  test {t:.2e}"));
                }
            }
        }
        let over = self.time_limit.is_some_and(|t| self.started.elapsed() >= t);
        if self.done {
            s.push_str("  done");
        } else if over {
            s.push_str("  time limit reached: finishing the current iteration");
        } else if let Some(eta) = self.eta() {
            s.push_str(&format!("  ETA {:.0} s", eta.as_secs_f64().ceil()));
        }
        s
    }

    /// Time left: the smaller of the time limit's rest and the iteration rate's estimate.
    fn eta(&self) -> Option<Duration> {
        let by_time = self
            .time_limit
            .map(|t| t.saturating_sub(self.started.elapsed()));
        let by_iter = match (self.max_iter, &self.last, self.first_at) {
            (Some(m), Some(r), Some(t0)) if r.iteration > 0 => {
                let per = t0.elapsed().as_secs_f64() / r.iteration as f64;
                Some(Duration::from_secs_f64(
                    (per * m.saturating_sub(r.iteration) as f64).min(1e9),
                ))
            }
            _ => None,
        };
        match (by_time, by_iter) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

type Shared = Arc<(Mutex<State>, Condvar)>;

enum Sink {
    Bar(ProgressBar),
    Lines(Shared, Option<JoinHandle<()>>),
    Hidden,
}

/// One run's progress report.
pub struct Progress {
    sink: Sink,
}

fn print_line(shared: &Shared) {
    let text = match shared.0.lock() {
        Ok(s) => s.line(),
        Err(_) => return,
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

impl Progress {
    /// Start reporting a run named `label`. `max_iter` and `time_limit` are the limits known
    /// in advance (for the bar length and the ETA); `started` is when the run began.
    pub fn new(
        mode: ProgressMode,
        label: &str,
        max_iter: Option<usize>,
        time_limit: Option<Duration>,
        started: Instant,
    ) -> Self {
        let sink = match mode.resolve() {
            ProgressMode::None => Sink::Hidden,
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(
                    max_iter.map(|m| m as u64),
                    ProgressDrawTarget::stderr(),
                );
                let template = if max_iter.is_some() {
                    "{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} (ETA {eta}) {msg}"
                } else {
                    "{prefix:>14} {spinner} iter {pos} {elapsed_precise} {msg}"
                };
                let style = ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(500));
                Sink::Bar(bar)
            }
            ProgressMode::Lines | ProgressMode::Auto => {
                let shared: Shared = Arc::new((
                    Mutex::new(State {
                        label: label.to_string(),
                        started,
                        max_iter,
                        time_limit,
                        last: None,
                        first_at: None,
                        done: false,
                    }),
                    Condvar::new(),
                ));
                let ticker = {
                    let shared = shared.clone();
                    std::thread::spawn(move || loop {
                        let Ok(guard) = shared.0.lock() else { return };
                        let Ok((guard, timeout)) = shared.1.wait_timeout(guard, LINE_INTERVAL)
                        else {
                            return;
                        };
                        if guard.done {
                            return;
                        }
                        drop(guard);
                        if timeout.timed_out() {
                            print_line(&shared);
                        }
                    })
                };
                Sink::Lines(shared, Some(ticker))
            }
        };
        Progress { sink }
    }

    /// Record an iteration.
    pub fn update(&self, rec: &IterationRecord) {
        match &self.sink {
            Sink::Hidden => {}
            Sink::Bar(bar) => {
                bar.set_position(rec.iteration as u64);
                let mut msg = format!("loss {:.3e} train {:.2e}", rec.train_loss, rec.train_error);
                if let Some(v) = rec.validation_error {
                    msg.push_str(&format!(" valid {v:.2e}"));
                }
                if let Some(t) = rec.test_error {
                    msg.push_str(&format!(" test {t:.2e}"));
                }
                bar.set_message(msg);
            }
            Sink::Lines(shared, _) => {
                let first = match shared.0.lock() {
                    Ok(mut s) => {
                        let first = s.last.is_none();
                        if rec.iteration == 0 || s.first_at.is_none() {
                            s.first_at = Some(Instant::now());
                        }
                        s.last = Some(rec.clone());
                        first
                    }
                    Err(_) => false,
                };
                if first {
                    print_line(shared);
                }
            }
        }
    }

    /// End the report (a last line in lines mode; the bar is cleared).
    pub fn finish(&mut self) {
        match &mut self.sink {
            Sink::Hidden => {}
            Sink::Bar(bar) => bar.finish_and_clear(),
            Sink::Lines(shared, ticker) => {
                if let Some(t) = ticker.take() {
                    if let Ok(mut s) = shared.0.lock() {
                        s.done = true;
                    }
                    shared.1.notify_all();
                    let _ = t.join();
                    print_line(shared);
                }
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // an error path also stops the ticker (without the final line)
        if let Sink::Lines(shared, ticker) = &mut self.sink {
            if let Some(t) = ticker.take() {
                if let Ok(mut s) = shared.0.lock() {
                    s.done = true;
                }
                shared.1.notify_all();
                let _ = t.join();
            }
        }
    }
}
