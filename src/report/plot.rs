//! Convergence plots (PNG and SVG) with `plotters`, text drawn with an embedded DejaVu Sans
//! font (`fonts/DejaVuSans.ttf`, licence in `fonts/LICENSE-DejaVu.txt`) so that no system font
//! library is needed.

use super::{ErrorColumn, RunRecord};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

/// Size of every plot in pixels (width, height).
pub const PLOT_SIZE: (u32, u32) = (900, 600);

/// Errors below this (including exact zeros) are drawn at this value on the log axis.
const ERROR_FLOOR: f64 = 1e-16;

/// Runs with at most this many points also get a marker at every point.
const MARKER_MAX_POINTS: usize = 60;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

static FONT_INIT: Once = Once::new();
static FONT_OK: AtomicBool = AtomicBool::new(false);
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Distinct colours (Tableau 10), one per run in order, repeating after ten runs.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),  // blue
    RGBColor(255, 127, 14),  // orange
    RGBColor(44, 160, 44),   // green
    RGBColor(214, 39, 40),   // red
    RGBColor(148, 103, 189), // purple
    RGBColor(140, 86, 75),   // brown
    RGBColor(227, 119, 194), // pink
    RGBColor(127, 127, 127), // grey
    RGBColor(188, 189, 34),  // olive
    RGBColor(23, 190, 207),  // cyan
];

/// Register the embedded font with plotters, once per process, before any text is drawn.
fn ensure_font() -> Result<()> {
    FONT_INIT.call_once(|| {
        let ok = ["sans-serif", "serif", "monospace"]
            .iter()
            .all(|family| register_font(family, FontStyle::Normal, FONT).is_ok());
        FONT_OK.store(ok, Ordering::Release);
    });
    if FONT_OK.load(Ordering::Acquire) {
        Ok(())
    } else {
        Err(Error::data(
            "embedded font DejaVuSans.ttf",
            "could not be parsed; the plots cannot be drawn (the table and CSV are unaffected)",
        ))
    }
}

/// The horizontal axis of a plot.
#[derive(Clone, Copy)]
enum XAxis {
    Iteration,
    Seconds,
}

impl XAxis {
    fn stem(self) -> &'static str {
        match self {
            XAxis::Iteration => "error_vs_iteration",
            XAxis::Seconds => "error_vs_seconds",
        }
    }

    fn label(self) -> &'static str {
        match self {
            XAxis::Iteration => "iteration",
            XAxis::Seconds => "optimizer time [s]",
        }
    }
}

/// One curve: optimizer name, colour and points `(x, log10(error))`.
type Series = (String, RGBColor, Vec<(f64, f64)>);

/// Everything one plot draws.
struct PlotSpec {
    caption: String,
    x_label: String,
    y_label: String,
    x_range: (f64, f64),
    /// Whole decades: the axis spans `10^lo ..= 10^hi`.
    y_decades: (i32, i32),
    /// Number of x tick labels to aim for.
    x_labels: usize,
    /// (name, colour, points as `(x, log10(error))`) per run with at least one point.
    series: Vec<Series>,
    /// The returned (selected) iterate of each run that records one: colour and point.
    marks: Vec<(RGBColor, (f64, f64))>,
}

impl PlotSpec {
    fn new(runs: &[RunRecord], column: ErrorColumn, axis: XAxis, title: &str) -> PlotSpec {
        let series: Vec<Series> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, run)| {
                let points: Vec<(f64, f64)> = run
                    .history
                    .iter()
                    .filter_map(|r| {
                        let e = column.value(r)?;
                        if !e.is_finite() {
                            return None;
                        }
                        let x = match axis {
                            XAxis::Iteration => r.iteration as f64,
                            XAxis::Seconds => r.seconds,
                        };
                        x.is_finite().then_some((x, e.max(ERROR_FLOOR).log10()))
                    })
                    .collect();
                (!points.is_empty()).then(|| (run.name.clone(), PALETTE[i % PALETTE.len()], points))
            })
            .collect();
        let marks: Vec<(RGBColor, (f64, f64))> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, run)| {
                let it = run.selected?;
                let r = run.history.iter().find(|r| r.iteration == it)?;
                let e = column.value(r).filter(|e| e.is_finite())?;
                let x = match axis {
                    XAxis::Iteration => r.iteration as f64,
                    XAxis::Seconds => r.seconds,
                };
                Some((PALETTE[i % PALETTE.len()], (x, e.max(ERROR_FLOOR).log10())))
            })
            .collect();
        let all = || series.iter().flat_map(|s| s.2.iter());
        let x_max = all().map(|p| p.0).fold(0.0, f64::max);
        let x_range = match axis {
            XAxis::Iteration => (0.0, x_max.max(1.0)),
            XAxis::Seconds if x_max > 0.0 => (0.0, x_max * 1.02),
            XAxis::Seconds => (0.0, 1.0),
        };
        let y_min = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let y_max = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let y_decades = if y_min.is_finite() && y_max.is_finite() {
            // small tolerance so that 1e-6 computed as 10^-5.9999999 stays in its decade
            let lo = (y_min + 1e-9).floor() as i32;
            let hi = (y_max - 1e-9).ceil() as i32;
            (lo, hi.max(lo + 1))
        } else {
            (-3, 0)
        };
        // whole-number ticks on the iteration axis
        let x_labels = match axis {
            XAxis::Iteration => (x_range.1 as usize + 1).clamp(2, 10),
            XAxis::Seconds => 10,
        };
        let caption = if title.is_empty() && !marks.is_empty() {
            format!(
                "relative {column} error vs {} (circle: returned iterate)",
                axis.label()
            )
        } else if title.is_empty() {
            format!("relative {column} error vs {}", axis.label())
        } else if !marks.is_empty() {
            format!("{title} (circle: returned iterate)")
        } else {
            title.to_string()
        };
        PlotSpec {
            caption,
            x_label: axis.label().to_string(),
            y_label: format!("relative {column} error (log scale)"),
            x_range,
            y_decades,
            x_labels,
            series,
            marks,
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        // The y coordinate is log10(error) on a linear axis labelled with powers of ten, so that
        // every decade gets a label down to the 1e-16 floor (plotters' own log axis drops ticks
        // below f64::EPSILON).
        let (lo, hi) = self.y_decades;
        let decades = (hi - lo) as usize;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.caption, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(self.x_range.0..self.x_range.1, f64::from(lo)..f64::from(hi))?;
        let x_fmt = |v: &f64| tick_label(*v);
        let y_fmt = |v: &f64| power_label(*v);
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(self.x_labels)
            .y_labels(decades.clamp(2, 10) + 1)
            .y_max_light_lines(0)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .axis_desc_style(("sans-serif", 18))
            .label_style(("sans-serif", 15))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(200, 200, 200))
            .draw()?;
        // classic log-axis minor grid at 2..9 x 10^k, when the decades are not too crowded
        if decades <= 8 {
            let (x0, x1) = self.x_range;
            let minor =
                (lo..hi).flat_map(|k| (2..10).map(move |m| f64::from(k) + f64::from(m).log10()));
            chart.draw_series(
                minor.map(|y| PathElement::new(vec![(x0, y), (x1, y)], RGBColor(238, 238, 238))),
            )?;
        }
        for (name, colour, points) in &self.series {
            let colour = *colour;
            let style = colour.stroke_width(2);
            let mut line = LineSeries::new(points.iter().copied(), style);
            if points.len() <= MARKER_MAX_POINTS {
                line = line.point_size(3);
            }
            chart
                .draw_series(line)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
        // the returned (best-validation) iterate of each run: a hollow circle
        chart.draw_series(
            self.marks
                .iter()
                .map(|&(c, p)| Circle::new(p, 8, c.stroke_width(2))),
        )?;
        if !self.series.is_empty() {
            chart
                .configure_series_labels()
                .position(self.legend_position())
                .margin(12)
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(120, 120, 120))
                .draw()?;
        }
        root.present()
    }
}

impl PlotSpec {
    /// The corner of the plot where the legend hides the fewest curve samples (ties go to the
    /// first of upper right, lower left, lower right, upper left). Sizes are estimates in
    /// pixels for [`PLOT_SIZE`] and the fonts used in [`PlotSpec::draw`].
    fn legend_position(&self) -> SeriesLabelPosition {
        // plot area: width minus margins and y labels, height minus margins, caption, x labels
        let (w, h) = (
            f64::from(PLOT_SIZE.0) - 112.0,
            f64::from(PLOT_SIZE.1) - 115.0,
        );
        let longest = self
            .series
            .iter()
            .map(|s| s.0.chars().count())
            .max()
            .unwrap_or(0);
        let box_w = (60.0 + 9.5 * longest as f64 + 12.0) / w;
        let box_h = (22.0 * self.series.len() as f64 + 18.0 + 12.0) / h;
        let (x0, x1) = self.x_range;
        let (lo, hi) = (f64::from(self.y_decades.0), f64::from(self.y_decades.1));
        let norm = |(x, y): (f64, f64)| ((x - x0) / (x1 - x0), (y - lo) / (hi - lo));
        // points along every segment, so that lines crossing a corner count too
        let mut samples = Vec::new();
        for (_, _, pts) in &self.series {
            samples.extend(pts.iter().map(|&p| norm(p)));
            for pair in pts.windows(2) {
                let (a, b) = (norm(pair[0]), norm(pair[1]));
                for i in 1..8 {
                    let t = f64::from(i) / 8.0;
                    samples.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
        }
        let corners = [
            (SeriesLabelPosition::UpperRight, true, true),
            (SeriesLabelPosition::LowerLeft, false, false),
            (SeriesLabelPosition::LowerRight, true, false),
            (SeriesLabelPosition::UpperLeft, false, true),
        ];
        let mut best = (SeriesLabelPosition::UpperRight, usize::MAX);
        for (pos, right, upper) in corners {
            let (u0, u1) = if right {
                (1.0 - box_w, 1.0)
            } else {
                (0.0, box_w)
            };
            let (v0, v1) = if upper {
                (1.0 - box_h, 1.0)
            } else {
                (0.0, box_h)
            };
            let hidden = samples
                .iter()
                .filter(|(u, v)| (u0..=u1).contains(u) && (v0..=v1).contains(v))
                .count();
            if hidden < best.1 {
                best = (pos, hidden);
            }
        }
        best.0
    }
}

/// Label of a tick at `log10(error) = v`: `1`, `1e-6`, or `3.2e-4` between decades.
fn power_label(v: f64) -> String {
    let r = v.round();
    if (v - r).abs() < 1e-6 {
        match r as i32 {
            0 => "1".to_string(),
            k => format!("1e{k}"),
        }
    } else {
        format!("{:.1e}", 10f64.powf(v))
    }
}

/// A tick label without trailing zeros: `0`, `2.5`, `0.004`.
fn tick_label(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn draw_error<E: std::error::Error + Send + Sync>(
    path: &Path,
    e: DrawingAreaErrorKind<E>,
) -> Error {
    Error::data(
        path.display().to_string(),
        format!("could not draw the plot: {e}"),
    )
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A fresh temporary name next to `path` that keeps its extension (the PNG encoder picks the
/// format from it): `dir/.NAME.tmp.PID.N.png`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.tmp.{}.{}.{ext}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Render `spec` as PNG into a temporary file and rename it over `path`.
fn write_png(spec: &PlotSpec, path: &Path) -> Result<()> {
    let tmp = temp_path(path);
    // Claim the name (and report permission problems with the real path) before drawing.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io_error(path, e))?;
    let drawn = {
        let root = BitMapBackend::new(&tmp, PLOT_SIZE).into_drawing_area();
        spec.draw(&root)
    };
    let result = match drawn {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| io_error(path, e)),
        Err(e) => Err(draw_error(path, e)),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Render `spec` as SVG in memory and write it atomically to `path`.
fn write_svg(spec: &PlotSpec, path: &Path) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        spec.draw(&root).map_err(|e| draw_error(path, e))?;
    }
    crate::data::csv::write_atomic(path, |w| {
        use std::io::Write;
        w.write_all(svg.as_bytes()).map_err(|e| io_error(path, e))
    })
}

/// Draw the relative error of every run (log scale) against iteration and against optimizer
/// seconds, and write `error_vs_iteration.png`, `error_vs_iteration.svg`,
/// `error_vs_seconds.png` and `error_vs_seconds.svg` into `dir` (which must exist); returns
/// their paths in that order.
///
/// The error column is [`ErrorColumn::choose`] (the one the summary table uses). Each run gets
/// a colour from a fixed ten-colour palette, in order, and a legend entry with its name;
/// `title` is the caption (a default naming the axes when empty). Errors below 1e-16, zeros
/// included, are drawn at 1e-16; missing and non-finite values are skipped. Each file is
/// written to a temporary name and renamed when complete.
pub fn plot_convergence(
    runs: &[RunRecord],
    dir: impl AsRef<Path>,
    title: &str,
) -> Result<Vec<PathBuf>> {
    if runs.is_empty() {
        return Err(Error::param("runs", "no optimizer runs to plot"));
    }
    ensure_font()?;
    let dir = dir.as_ref();
    let column = ErrorColumn::choose(runs);
    let mut written = Vec::with_capacity(4);
    for axis in [XAxis::Iteration, XAxis::Seconds] {
        let spec = PlotSpec::new(runs, column, axis, title);
        let png = dir.join(format!("{}.png", axis.stem()));
        write_png(&spec, &png)?;
        written.push(png);
        let svg = dir.join(format!("{}.svg", axis.stem()));
        write_svg(&spec, &svg)?;
        written.push(svg);
    }
    Ok(written)
}
