//! The comparison's plots, drawn by plotters: per method the median curve across learning rates and
//! seeds with its 5th-95th percentile band, time on a log scale, and reference lines such as
//! CRONOS's certified lower bound. The SVG keeps its words as text; the PNG rasterizes them from
//! DejaVu Sans, embedded (`assets/`, Bitstream Vera licence), so neither needs system fonts.

use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;
use std::sync::OnceLock;

const W: u32 = 800;
const H: u32 = 500;
/// Width of the plot, left of the legend.
const PLOT_W: u32 = 620;
/// The legend's first row: its text's top-left corner, in pixels of the whole image.
pub const LEGEND_TOP_LEFT: (i32, i32) = (PLOT_W as i32 + 30, 30);
/// Height of a legend row.
pub const LEGEND_ROW: i32 = 20;
const FONT: &str = "sans-serif";
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One method's curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub method: String,
    /// `(seconds, p5, median, p95)` per epoch.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// A plot: curves against training time, and horizontal reference lines.
#[derive(Debug, Clone)]
pub struct Chart {
    pub y_title: String,
    /// Whether the y axis is logarithmic (objectives) or linear (accuracies).
    pub log_y: bool,
    pub curves: Vec<Curve>,
    /// `(legend text, y)` of dashed horizontal lines.
    pub lines: Vec<(String, f64)>,
}

/// Title of the time axis of every chart.
pub const TIME_TITLE: &str = "training time (s, log scale), evaluation excluded";

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String, String> {
    let mut out = String::new();
    draw(
        SVGBackend::with_string(&mut out, (W, H)).into_drawing_area(),
        chart,
    )?;
    Ok(out)
}

/// The chart as an RGB bitmap.
pub fn png(chart: &Chart) -> Result<RgbImage, String> {
    let mut buffer = vec![0u8; (W * H * 3) as usize];
    draw(
        BitMapBackend::with_buffer(&mut buffer, (W, H)).into_drawing_area(),
        chart,
    )?;
    RgbImage::from_raw(W, H, buffer).ok_or_else(|| "bitmap of the wrong size".into())
}

/// Registers the embedded font under the family name the charts use (once per process; a failure
/// is remembered and reported by every chart).
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = include_bytes!("../../assets/DejaVuSans.ttf");
            plotters::style::register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| "the embedded font cannot be read".to_string())
        })
        .clone()
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String> {
    register_font()?;
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw the plot: {e}");
    root.fill(&WHITE).map_err(fail)?;
    let (plot, legend) = root.split_horizontally(PLOT_W);
    draw_plot(&plot, chart).map_err(fail)?;
    draw_legend(&legend, chart).map_err(fail)?;
    root.present().map_err(fail)
}

/// A log axis in plot coordinates: log10 of the value. Plotters then places its ticks at round
/// exponents, and labels them with the value (see [`label`]), also when the range spans less than
/// a decade, where its own log axis would label nothing.
fn log10(v: f64) -> Option<f64> {
    (v > 0.0 && v.is_finite()).then(|| v.log10())
}

/// A tick label: three significant digits, without trailing zeros.
fn label(v: f64) -> String {
    // Zero has no magnitude (its digits would be unbounded): a linear axis through 0, e.g. an
    // empty plot's default range, ticks there.
    if v == 0.0 {
        return "0".into();
    }
    // The nudge keeps exact powers of ten (whose log10 may land just below an integer) in their decade.
    let magnitude = (v.abs().log10() + 1e-9).floor();
    if v != 0.0 && !(-3.0..5.0).contains(&magnitude) {
        return format!("{v:.2e}");
    }
    let text = format!("{v:.*}", (2.0 - magnitude).max(0.0) as usize);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The range of `values`, padded by a twentieth of its span on each side.
fn padded(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    lo - pad..hi + pad
}

fn draw_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let y = |v: f64| if chart.log_y { log10(v) } else { Some(v) };
    let y_value = |p: f64| if chart.log_y { 10f64.powf(p) } else { p };
    // Points in plot coordinates, those that have none (t <= 0, or y <= 0 on a log axis) left out.
    let curves: Vec<Vec<(f64, f64, f64, f64)>> = chart
        .curves
        .iter()
        .map(|c| {
            let point = |&(t, lo, mid, hi): &(f64, f64, f64, f64)| {
                Some((log10(t)?, y(lo)?, y(mid)?, y(hi)?))
            };
            c.points.iter().filter_map(point).collect()
        })
        .collect();
    let lines: Vec<f64> = chart.lines.iter().filter_map(|l| y(l.1)).collect();
    let points = || curves.iter().flatten();
    let times = padded(points().map(|p| p.0));
    let ys = padded(points().flat_map(|p| [p.1, p.2, p.3]).chain(lines.clone()));
    let mut plot = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(times, ys)?;
    plot.configure_mesh()
        .x_desc(TIME_TITLE)
        .y_desc(chart.y_title.as_str())
        .x_label_formatter(&|t| label(10f64.powf(*t)))
        .y_label_formatter(&|p| label(y_value(*p)))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .x_labels(6)
        .y_labels(6)
        .max_light_lines(0)
        .draw()?;
    for (i, points) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if points.len() > 1 {
            let upper = points.iter().map(|p| (p.0, p.3));
            let lower = points.iter().rev().map(|p| (p.0, p.1));
            plot.draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                color.mix(0.2).filled(),
            )))?;
        }
        let medians = points.iter().map(|p| (p.0, p.2));
        plot.draw_series(LineSeries::new(medians.clone(), color.stroke_width(2)))?;
        plot.draw_series(medians.map(|p| Circle::new(p, 3, color.filled())))?;
    }
    let (t0, t1) = (plot.x_range().start, plot.x_range().end);
    for y in lines {
        plot.draw_series(DashedLineSeries::new(
            [(t0, y), (t1, y)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?;
    }
    Ok(())
}

/// One row per curve (colour swatch and method name), then one per reference line (a dash and its text).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x, top) = (LEGEND_TOP_LEFT.0 - PLOT_W as i32, LEGEND_TOP_LEFT.1);
    let style = TextStyle::from((FONT, 13).into_font()).color(&BLACK);
    let rows = chart.curves.iter().map(|c| c.method.as_str());
    let lines = chart.lines.iter().map(|l| l.0.as_str());
    for (i, text) in rows.chain(lines).enumerate() {
        let y = top + LEGEND_ROW * i as i32;
        if i < chart.curves.len() {
            let color = COLORS[i % COLORS.len()];
            area.draw(&Rectangle::new(
                [(x - 20, y + 2), (x - 6, y + 12)],
                color.filled(),
            ))?;
        } else {
            area.draw(&PathElement::new([(x - 22, y + 7), (x - 16, y + 7)], BLACK))?;
            area.draw(&PathElement::new([(x - 12, y + 7), (x - 6, y + 7)], BLACK))?;
        }
        area.draw_text(text, &style, (x, y))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn tick_labels_keep_three_significant_digits() {
        assert_eq!(label(0.0), "0");
        assert_eq!(label(-0.0), "0");
        assert_eq!(label(0.25), "0.25");
        assert_eq!(label(0.0123), "0.0123");
        assert_eq!(label(1234.4), "1234");
        assert_eq!(label(100.0), "100");
        assert_eq!(label(1e-5), "1.00e-5");
    }
}
