//! CPU time of the calling thread (Linux `/proc/thread-self/schedstat`), and the median CPU
//! seconds per call of a kernel: the one timing mechanism of the CPU-time rate examples
//! (`tensor_train/examples/kernel_cpu_rates.rs`, `examples/gram_cpu_rate.rs`). On a machine
//! shared with other jobs wall time mostly measures the other jobs; thread CPU time does not
//! (interference through caches and memory bandwidth remains: pin with `taskset` and compare
//! medians against a GEMM timed the same way in the same run).

#![allow(dead_code)]

/// CPU time of this thread in seconds (wall time since `start` where schedstat is
/// unavailable).
pub fn cpu_seconds(start: &std::time::Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map(|ns| ns * 1e-9)
        .unwrap_or_else(|| start.elapsed().as_secs_f64())
}

/// CPU seconds per call of `f`: one warm-up call, then `repeats` repeats, each running `f`
/// until it has used >= `min_s` CPU seconds; returns `(median, min, max)` over the repeats.
pub fn per_call_stats(repeats: usize, min_s: f64, mut f: impl FnMut()) -> (f64, f64, f64) {
    let repeats = repeats.max(1);
    let clock = std::time::Instant::now();
    f(); // warm-up
    let mut samples: Vec<f64> = (0..repeats)
        .map(|_| {
            let t0 = cpu_seconds(&clock);
            let mut calls = 0usize;
            let mut t = t0;
            while t - t0 < min_s {
                f();
                calls += 1;
                t = cpu_seconds(&clock);
            }
            (t - t0) / calls as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    (samples[repeats / 2], samples[0], samples[repeats - 1])
}

/// Median CPU seconds per call over `repeats` repeats of >= 0.5 s each.
pub fn per_call(repeats: usize, f: impl FnMut()) -> f64 {
    per_call_stats(repeats, 0.5, f).0
}
