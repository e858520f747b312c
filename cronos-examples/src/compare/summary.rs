//! `summary.md` (a table per method) and `val_accuracy.svg` / `val_accuracy.png`: validation
//! accuracy against training time, the median across learning rates and seeds with the 5th-95th
//! percentile band, time on a log scale. Curves are aligned by epoch: the point of epoch e sits at the median time of
//! epoch e over the method's runs.
//!
//! The SVG is written by hand (text is SVG text, no fonts needed); the PNG is rasterized here with
//! the same geometry and the same words in the built-in bitmap font of `glyphs.rs`, so
//! neither needs system font libraries.

use super::glyphs;
use super::records::{lr_text, EpochRecord, RunRecord};
use crate::error::CliError;
use image::{Rgb, RgbImage};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// One method's curve: per epoch, median time, and the 5th, 50th and 95th accuracy percentiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub method: String,
    /// `(seconds, p5, median, p95)` per epoch.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// The `q`-quantile (linear interpolation) of `values`, NaNs ignored; NaN when none remain.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Methods in the order of their first run.
fn methods(runs: &[RunRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        if !out.contains(&r.method) {
            out.push(r.method.clone());
        }
    }
    out
}

/// What the table and `summary.json` say of one method of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodSummary {
    /// `two-layer` or `deep`.
    pub task: String,
    pub method: String,
    pub runs: usize,
    /// Peak validation accuracy of the best run.
    pub peak_val_accuracy: f64,
    /// Peak validation accuracy of the worst run (the low end of the range over learning rates).
    pub min_peak_val_accuracy: f64,
    /// Learning rate of the best run; `None` for untuned methods.
    pub best_lr: Option<f64>,
    /// Final regularized training objective of the best run (two-layer task).
    pub objective: Option<f64>,
    /// CRONOS's certified lower bound on the objective (two-layer task).
    pub lower_bound: Option<f64>,
    /// beta of the best run's program (two-layer task; CRONOS: the one its path chose).
    pub beta: Option<f64>,
    pub median_seconds: f64,
    /// Median seconds of head solves within the runtime (CRONOS-AM).
    pub median_head_seconds: Option<f64>,
}

/// The summary of every method in `runs`, in the order of their first run.
pub fn summarize(task: &str, runs: &[RunRecord]) -> Vec<MethodSummary> {
    methods(runs)
        .into_iter()
        .map(|m| {
            let rs: Vec<&RunRecord> = runs.iter().filter(|r| r.method == m).collect();
            let peaks: Vec<f64> = rs.iter().map(|r| r.peak_val_accuracy).collect();
            let secs: Vec<f64> = rs.iter().map(|r| r.seconds).collect();
            let best = rs
                .iter()
                .filter(|r| r.peak_val_accuracy.is_finite())
                .max_by(|a, b| a.peak_val_accuracy.total_cmp(&b.peak_val_accuracy));
            MethodSummary {
                task: task.to_string(),
                method: m,
                runs: rs.len(),
                peak_val_accuracy: quantile(&peaks, 1.0),
                min_peak_val_accuracy: quantile(&peaks, 0.0),
                best_lr: best.and_then(|r| r.lr),
                objective: best.and_then(|r| r.objective),
                lower_bound: best.and_then(|r| r.lower_bound),
                beta: best.and_then(|r| r.beta),
                median_seconds: quantile(&secs, 0.5),
                median_head_seconds: {
                    let heads: Vec<f64> = rs.iter().filter_map(|r| r.head_seconds).collect();
                    (!heads.is_empty()).then(|| quantile(&heads, 0.5))
                },
            }
        })
        .collect()
}

/// The Markdown table: per method, runs, the range of peak validation accuracy across learning
/// rates (and seeds), the learning rate of the best run, on the two-layer task the best run's beta,
/// training objective and its ratio to CRONOS's certified lower bound, and the median runtime (with
/// CRONOS-AM's share in head solves).
pub fn table(methods: &[MethodSummary]) -> String {
    let bound = methods.iter().find_map(|m| m.lower_bound);
    let objectives = methods.iter().any(|m| m.objective.is_some());
    let mut out = String::from("| method | runs | peak val. accuracy (min - max) | best lr |");
    out += if objectives {
        " beta | training objective | / CRONOS's lower bound |"
    } else {
        ""
    };
    out += " median runtime (s) |\n|---|---|---|---|";
    out += if objectives { "---|---|---|" } else { "" };
    out += "---|\n";
    for m in methods {
        let _ = write!(
            out,
            "| {} | {} | {:.4} - {:.4} | {} |",
            m.method,
            m.runs,
            m.min_peak_val_accuracy,
            m.peak_val_accuracy,
            lr_text(m.best_lr),
        );
        if objectives {
            let ratio = m.objective.zip(bound).map(|(o, b)| o / b);
            let number = |v: Option<f64>, digits: usize| {
                v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
            };
            let beta = m.beta.map_or_else(|| "-".into(), |b| format!("{b:.3e}"));
            let _ = write!(
                out,
                " {beta} | {} | {} |",
                number(m.objective, 4),
                number(ratio, 4)
            );
        }
        let head = m
            .median_head_seconds
            .map_or_else(String::new, |h| format!(" (head solves {h:.3})"));
        let _ = writeln!(out, " {:.3}{head} |", m.median_seconds);
    }
    out
}

/// What the table aggregates, counted from the records (a rerun into the same directory with other
/// `--seeds`, `--lr-draws` or `--methods` adds to them): runs, methods, seeds, and learning rates
/// per tuned baseline (a range when baselines differ).
pub fn coverage(runs: &[RunRecord]) -> String {
    let seeds: BTreeSet<u64> = runs.iter().map(|r| r.seed).collect();
    let mut lrs: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.lr.is_some()) {
        lrs.entry(&r.method).or_default().insert(lr_text(r.lr));
    }
    let counts: BTreeSet<usize> = lrs.values().map(BTreeSet::len).collect();
    let per_baseline = match (counts.first(), counts.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!(", {lo} learning rate(s) per baseline"),
        (Some(lo), Some(hi)) => format!(", {lo} to {hi} learning rates per baseline"),
        _ => String::new(),
    };
    format!(
        "{} run(s) of {} method(s), {} seed(s){per_baseline}",
        runs.len(),
        methods(runs).len(),
        seeds.len()
    )
}

/// The curve of every method.
pub fn curves(runs: &[RunRecord], epochs: &[EpochRecord]) -> Vec<Curve> {
    methods(runs)
        .into_iter()
        .map(|m| {
            let mut by_epoch: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
            for r in epochs.iter().filter(|r| r.method == m) {
                let e = by_epoch.entry(r.epoch).or_default();
                e.0.push(r.seconds);
                e.1.push(r.val_accuracy);
            }
            let points = by_epoch
                .values()
                .map(|(t, a)| {
                    (
                        quantile(t, 0.5),
                        quantile(a, 0.05),
                        quantile(a, 0.5),
                        quantile(a, 0.95),
                    )
                })
                .collect();
            Curve { method: m, points }
        })
        .collect()
}

/// Writes `summary.md`, `summary.json` (one [`MethodSummary`] per method), `val_accuracy.svg` and
/// `val_accuracy.png` under `dir`; returns the Markdown summary. `kind` names the task (`two-layer`
/// or `deep`), `task` describes its data and network; what the runs cover is counted from `runs`.
pub fn write(
    dir: &Path,
    kind: &str,
    task: &str,
    runs: &[RunRecord],
    epochs: &[EpochRecord],
) -> Result<String, CliError> {
    let methods = summarize(kind, runs);
    let objective = if methods.iter().any(|m| m.objective.is_some()) {
        " Every method trains the same bias-free two-layer ReLU network on the same program, the training objective 1/2 ||relu(X W1) W2 - Y||^2 + beta/2 (||W1||^2 + ||W2||^2) (the baselines on minibatches, scaled by 1/n); CRONOS solves it to a certified gap for each beta of its path (see `--beta`), keeps the beta whose network scores best on validation (its runtime counts the whole path, its curve has one point per beta), and the baselines then train with that beta; its lower bound holds for every network whose hidden neurons use CRONOS's activation patterns (a network that finds other patterns can go below it)."
    } else {
        ""
    };
    let summary = format!(
        "# Optimizer comparison\n\n{task}; {}.\n\nLearning rates of the baselines drawn log-uniformly from [1e-6, 1e-2]; CRONOS and CRONOS-AM have no learning rate. Runtimes exclude evaluation. The plot shows, per method, the median validation accuracy across learning rates and seeds against the median training time of each epoch, with the 5th-95th percentile band.{objective}\n\n{}\n![validation accuracy against time](val_accuracy.svg)\n",
        coverage(runs),
        table(&methods)
    );
    let curves = curves(runs, epochs);
    let save = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| CliError::io("write", &path, e))
    };
    save("summary.md", summary.as_bytes())?;
    let json = serde_json::to_string_pretty(&methods).map_err(|e| CliError(e.to_string()))?;
    save("summary.json", (json + "\n").as_bytes())?;
    save("val_accuracy.svg", svg(&curves).as_bytes())?;
    let path = dir.join("val_accuracy.png");
    png(&curves)
        .save(&path)
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
    Ok(summary)
}

const W: f64 = 800.0;
const H: f64 = 500.0;
/// Plot area: left, top, right, bottom.
const AREA: (f64, f64, f64, f64) = (70.0, 30.0, 620.0, 450.0);
const COLORS: [[u8; 3]; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

/// Axis ranges: time (log scale) over whole decades around the median times as
/// `(log10 t_min, log10 t_max)`, accuracy from the lowest band value (to a tenth) to 1.
fn ranges(curves: &[Curve]) -> ((f64, f64), f64) {
    let pts = curves.iter().flat_map(|c| c.points.iter());
    let times = pts.clone().map(|p| p.0).filter(|t| *t > 0.0);
    let lo = times.clone().fold(f64::INFINITY, f64::min).max(1e-6);
    let hi = times.fold(0.0, f64::max).max(lo * 10.0);
    let lo = if lo.is_finite() { lo } else { 1e-3 };
    let a_min = pts
        .map(|p| p.1)
        .filter(|a| a.is_finite())
        .fold(1.0, f64::min)
        .clamp(0.0, 0.95);
    (
        (lo.log10().floor(), hi.log10().ceil()),
        (a_min * 10.0).floor() / 10.0,
    )
}

/// Pixel coordinates of `(seconds, accuracy)`.
fn to_px(t: f64, a: f64, (t0, t1): (f64, f64), a_min: f64) -> (f64, f64) {
    let (l, top, r, b) = AREA;
    let lt = t.max(10f64.powf(t0)).log10();
    let x = l + ((lt - t0) / (t1 - t0)) * (r - l);
    let y = b - ((a - a_min) / (1.0 - a_min)).clamp(0.0, 1.0) * (b - top);
    (x, y)
}

/// Powers of ten across the time axis.
fn decades((t0, t1): (f64, f64)) -> impl Iterator<Item = f64> {
    (t0 as i32..=t1 as i32).map(|e| 10f64.powi(e))
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// The plot as an SVG document.
pub fn svg(curves: &[Curve]) -> String {
    let (t_max, a_min) = ranges(curves);
    let (l, top, r, b) = AREA;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for i in 0..=5 {
        let a = a_min + (1.0 - a_min) * i as f64 / 5.0;
        let (_, y) = to_px(0.0, a, t_max, a_min);
        let _ = writeln!(
            s,
            "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{a:.2}</text>",
            l - 6.0,
            y + 4.0
        );
    }
    for t in decades(t_max) {
        let (x, _) = to_px(t, a_min, t_max, a_min);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{b}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t}</text>",
            b + 16.0
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{l}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{TIME_TITLE}</text>\n<text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">{ACCURACY_TITLE}</text>",
        r - l,
        b - top,
        (l + r) / 2.0,
        H - 12.0,
        (top + b) / 2.0,
        (top + b) / 2.0
    );
    for (i, c) in curves.iter().enumerate() {
        let color = hex(COLORS[i % COLORS.len()]);
        let pts: Vec<_> = c.points.iter().filter(|p| p.2.is_finite()).collect();
        if pts.len() > 1 {
            let upper = pts.iter().map(|p| to_px(p.0, p.3, t_max, a_min));
            let lower = pts.iter().rev().map(|p| to_px(p.0, p.1, t_max, a_min));
            let poly: Vec<String> = upper
                .chain(lower)
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                s,
                "<polygon points=\"{}\" fill=\"{color}\" fill-opacity=\"0.2\" stroke=\"none\"/>",
                poly.join(" ")
            );
        }
        let line: Vec<String> = pts
            .iter()
            .map(|p| {
                let (x, y) = to_px(p.0, p.2, t_max, a_min);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            line.join(" ")
        );
        for p in &line {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                s,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/>"
            );
        }
        let ly = top + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            r + 15.0,
            ly - 9.0,
            r + 35.0,
            ly,
            c.method
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Title of the time axis, shared by the SVG (as text) and the PNG (in the bitmap font).
const TIME_TITLE: &str = "training time (s, log scale), evaluation excluded";
/// Title of the accuracy axis, shared like [`TIME_TITLE`].
const ACCURACY_TITLE: &str = "validation accuracy";

/// Screen pixels per font pixel in the PNG: capitals 14 pixels tall, a little larger than the
/// SVG's 12-pixel text, so the blocky font stays readable without zooming.
const TEXT_SCALE: i64 = 2;

/// Draws `text` in black into the PNG, like SVG text: its baseline through `(x, y)`, which sits at
/// fraction `anchor` of its length (0 start, 0.5 middle, 1 end, as `text-anchor`); `upward` runs it
/// bottom to top, as the SVG's y-axis title rotated by -90 degrees.
fn draw_text(img: &mut RgbImage, text: &str, (x, y): (f64, f64), anchor: f64, upward: bool) {
    let s = TEXT_SCALE;
    let (x, y) = (x.round() as i64, y.round() as i64);
    let start = (glyphs::width(text) as f64 * anchor).round() as i64 * s;
    for (col, row) in glyphs::pixels(text) {
        let (along, down) = (col * s - start, (row - glyphs::ASCENT) * s);
        let (px, py) = if upward {
            (x + down, y - along - s)
        } else {
            (x + along, y + down)
        };
        for dx in 0..s {
            for dy in 0..s {
                let (Ok(px), Ok(py)) = (u32::try_from(px + dx), u32::try_from(py + dy)) else {
                    continue;
                };
                if let Some(p) = img.get_pixel_mut_checked(px, py) {
                    *p = Rgb([0, 0, 0]);
                }
            }
        }
    }
}

/// The same plot as a bitmap, with the SVG's tick labels, axis titles and legend.
pub fn png(curves: &[Curve]) -> RgbImage {
    let (t_max, a_min) = ranges(curves);
    let (l, top, r, b) = AREA;
    let mut img = RgbImage::from_pixel(W as u32, H as u32, Rgb([255, 255, 255]));
    let blend = |img: &mut RgbImage, x: i64, y: i64, c: [u8; 3], alpha: f64| {
        if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
            let p = img.get_pixel_mut(x as u32, y as u32);
            for (v, &target) in p.0.iter_mut().zip(&c) {
                *v = (*v as f64 * (1.0 - alpha) + target as f64 * alpha).round() as u8;
            }
        }
    };
    let line = |img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c, width: i64| {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for i in 0..=n {
            let f = i as f64 / n as f64;
            let (x, y) = (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f);
            for dx in -width / 2..=width / 2 {
                for dy in -width / 2..=width / 2 {
                    blend(img, x.round() as i64 + dx, y.round() as i64 + dy, c, 1.0);
                }
            }
        }
    };
    for i in 0..=5 {
        let a = a_min + (1.0 - a_min) * i as f64 / 5.0;
        let (_, y) = to_px(0.0, a, t_max, a_min);
        line(&mut img, (l, y), (r, y), [221, 221, 221], 0);
        // Tick-label baselines sit lower than the SVG's: bitmap digits are 14 pixels tall, not 9.
        draw_text(&mut img, &format!("{a:.2}"), (l - 8.0, y + 7.0), 1.0, false);
    }
    for t in decades(t_max) {
        let (x, _) = to_px(t, a_min, t_max, a_min);
        line(&mut img, (x, top), (x, b), [238, 238, 238], 0);
        draw_text(&mut img, &format!("{t}"), (x, b + 24.0), 0.5, false);
    }
    for (i, c) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<_> = c.points.iter().filter(|p| p.2.is_finite()).collect();
        // Band: between the interpolated 5th and 95th percentiles, column by column.
        for w in pts.windows(2) {
            let (p, q) = (w[0], w[1]);
            let (x0, _) = to_px(p.0, p.2, t_max, a_min);
            let (x1, _) = to_px(q.0, q.2, t_max, a_min);
            let (x0, x1) = (x0.round() as i64, x1.round() as i64);
            for x in x0..=x1 {
                let f = if x1 > x0 {
                    (x - x0) as f64 / (x1 - x0) as f64
                } else {
                    0.0
                };
                let lo = to_px(0.0, p.1 + (q.1 - p.1) * f, t_max, a_min).1;
                let hi = to_px(0.0, p.3 + (q.3 - p.3) * f, t_max, a_min).1;
                for y in hi.round() as i64..=lo.round() as i64 {
                    blend(&mut img, x, y, color, 0.2);
                }
            }
        }
        let px: Vec<_> = pts.iter().map(|p| to_px(p.0, p.2, t_max, a_min)).collect();
        for w in px.windows(2) {
            line(&mut img, w[0], w[1], color, 2);
        }
        for &p in &px {
            line(&mut img, p, p, color, 6);
        }
        let ly = top + 10.0 + 20.0 * i as f64;
        draw_text(&mut img, &c.method, (r + 35.0, ly + 1.0), 0.0, false);
        for dy in 0..10 {
            line(
                &mut img,
                (r + 15.0, ly - 9.0 + dy as f64),
                (r + 29.0, ly - 9.0 + dy as f64),
                color,
                0,
            );
        }
    }
    let black = [0, 0, 0];
    line(&mut img, (l, top), (r, top), black, 0);
    line(&mut img, (l, b), (r, b), black, 0);
    line(&mut img, (l, top), (l, b), black, 0);
    line(&mut img, (r, top), (r, b), black, 0);
    draw_text(&mut img, TIME_TITLE, ((l + r) / 2.0, H - 6.0), 0.5, false);
    draw_text(&mut img, ACCURACY_TITLE, (16.0, (top + b) / 2.0), 0.5, true);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_and_skip_nan() {
        let v = [3.0, f64::NAN, 1.0, 2.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.25), 1.5);
        assert!(quantile(&[f64::NAN], 0.5).is_nan());
    }

    fn run(method: &str, lr: Option<f64>, seed: u64) -> RunRecord {
        RunRecord {
            method: method.into(),
            lr,
            seed,
            seconds: 1.0,
            peak_val_accuracy: 0.5,
            final_val_accuracy: 0.5,
            objective: None,
            lower_bound: None,
            beta: None,
            head_seconds: None,
            attempt: String::new(),
        }
    }

    #[test]
    fn coverage_counts_seeds_and_learning_rates_from_the_records() {
        // A first sweep with one draw and one seed, then reruns with two draws, a second seed
        // and one more method.
        let mut runs = vec![run("cronos", None, 0), run("adam", Some(1e-3), 0)];
        assert_eq!(
            coverage(&runs),
            "2 run(s) of 2 method(s), 1 seed(s), 1 learning rate(s) per baseline"
        );
        runs.extend([
            run("adam", Some(2e-4), 0),
            run("cronos", None, 1),
            run("adam", Some(1e-3), 1),
            run("adam", Some(2e-4), 1),
            run("sgd", Some(5e-3), 1),
        ]);
        assert_eq!(
            coverage(&runs),
            "7 run(s) of 3 method(s), 2 seed(s), 1 to 2 learning rates per baseline"
        );
        assert_eq!(coverage(&runs[..1]), "1 run(s) of 1 method(s), 1 seed(s)");
    }
}
