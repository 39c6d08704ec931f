//! `inspect --plot`: train and validation loss per epoch, drawn with plotters into a PNG.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, bail};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font the labels are drawn with, shipped in the binary so no system font is needed.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// One config's losses, in epoch order.
pub struct LossSeries {
    /// How the legend names the config.
    pub label: String,
    /// `(epoch, train_loss, val_loss)`, epochs counted from 1.
    pub points: Vec<(usize, f64, f64)>,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only for bytes that are not a font; these are DejaVu Sans.
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("the embedded font did not load; the plot will have no labels");
        }
    });
}

/// Draws every series into `path` (800 x 500 PNG).
///
/// # Errors
///
/// When there is nothing to draw (no epoch rows: the file was captured without
/// `epoch_loop`), or the file cannot be written.
pub fn draw(series: &[LossSeries], path: &Path) -> anyhow::Result<()> {
    let points: Vec<&(usize, f64, f64)> = series.iter().flat_map(|s| &s.points).collect();
    if points.is_empty() {
        bail!(
            "no epoch losses to plot: the file has no epochs_loop_iteration rows \
             (capture them with instrumentation.torch.epoch_loop: default)"
        );
    }
    register_font();
    let max_epoch = points.iter().map(|p| p.0).max().unwrap_or(1).max(2);
    let (mut low, mut high) = points
        .iter()
        .flat_map(|p| [p.1, p.2])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    let margin = ((high - low) * 0.1).max(1e-3);
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)
        .with_context(|| format!("cannot draw {}", path.display()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Loss per epoch", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1usize..max_epoch, (low - margin)..(high + margin))
        .context("cannot lay out the chart")?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .x_labels(max_epoch.min(20))
        .draw()
        .context("cannot draw the axes")?;
    for (index, s) in series.iter().enumerate() {
        let colour = Palette99::pick(index * 2);
        let train = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(s.points.iter().map(|p| (p.0, p.1)), train))
            .context("cannot draw a series")?
            .label(format!("{} train", s.label))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], train));
        let colour = Palette99::pick(index * 2 + 1);
        let val = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(s.points.iter().map(|p| (p.0, p.2)), val))
            .context("cannot draw a series")?
            .label(format!("{} validation", s.label))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], val));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .context("cannot draw the legend")?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
