//! Progress bars for the campaign: one for the configs, one per config for its epochs.
//!
//! indicatif hides them by itself when stderr is not a terminal (CI, pipes).

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use trainer::campaign::Progress;

/// Draws the campaign's progress on stderr.
pub struct Bars {
    multi: MultiProgress,
    configs: ProgressBar,
    epochs: Mutex<Vec<Option<ProgressBar>>>,
}

impl Bars {
    /// Creates the bars, with nothing drawn until the configs start.
    pub fn new() -> Self {
        let multi = MultiProgress::new();
        let configs = multi.add(ProgressBar::new(0));
        configs.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
                .expect("the template is a valid indicatif template")
                .progress_chars("=> "),
        );
        configs.set_prefix("configs");
        Self {
            multi,
            configs,
            epochs: Mutex::new(Vec::new()),
        }
    }

    fn epoch_style() -> ProgressStyle {
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
            .expect("the template is a valid indicatif template")
            .progress_chars("=> ")
    }

    /// Removes the bars from the terminal.
    pub fn finish(&self) {
        self.configs.finish_and_clear();
        for bar in self
            .epochs
            .lock()
            .expect("no panic while holding the bars")
            .iter()
            .flatten()
        {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Progress for Bars {
    fn configs_started(&self, n: usize) {
        self.configs.set_length(n as u64);
        self.epochs
            .lock()
            .expect("no panic while holding the bars")
            .resize(n, None);
    }

    fn config_finished(&self, index: usize, ok: bool) {
        self.configs.inc(1);
        if !ok {
            self.configs.set_message(format!("config {index} failed"));
        }
        if let Some(Some(bar)) = self
            .epochs
            .lock()
            .expect("no panic while holding the bars")
            .get(index)
        {
            bar.finish_and_clear();
        }
    }

    fn epoch_finished(
        &self,
        config: usize,
        epoch: usize,
        epochs: usize,
        train_loss: f64,
        val_loss: f64,
    ) {
        let mut bars = self.epochs.lock().expect("no panic while holding the bars");
        if bars.len() <= config {
            bars.resize(config + 1, None);
        }
        let bar = bars[config].get_or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(epochs as u64));
            bar.set_style(Self::epoch_style());
            bar.set_prefix(format!("#{config}"));
            bar
        });
        bar.set_position((epoch + 1) as u64);
        bar.set_message(format!("train {train_loss:.3} val {val_loss:.3}"));
    }
}
