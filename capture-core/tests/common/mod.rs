//! Helpers shared by the integration tests: a tutorial-like training run.

#![allow(dead_code)] // Each test binary uses a part.

use std::path::{Path, PathBuf};

use capture_core::{Capture, CaptureOptions, Settings, Shape, TensorFacts};
use serde_json::json;

/// A tensor made of plain facts.
pub struct FakeTensor(pub Vec<usize>);

impl TensorFacts for FakeTensor {
    fn shape(&self) -> Shape {
        Shape::from(self.0.as_slice())
    }
    fn device(&self) -> &str {
        "cpu"
    }
    fn dtype_size(&self) -> usize {
        4
    }
    fn density(&self) -> f64 {
        1.0
    }
    fn id(&self) -> u64 {
        self.0.iter().product::<usize>() as u64
    }
}

/// Loads a settings fixture from `tests/data/settings`.
pub fn settings(name: &str) -> Settings {
    Settings::load(&fixture(&format!("settings/{name}"))).expect("the fixture is valid")
}

/// Returns the path of a fixture under `tests/data`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Opens a capture writing to `output`.
pub fn start(settings: Settings, output: &Path) -> Capture {
    Capture::start(
        settings,
        CaptureOptions {
            output: Some(output.to_path_buf()),
            ..Default::default()
        },
    )
    .expect("the capture opens")
}

/// The model's first-level children, as the tutorial's TransformerModel has them.
pub const CHILDREN: [&str; 4] = [
    "Embedding",
    "PositionalEncoding",
    "TransformerEncoder",
    "Linear",
];

/// Runs the tutorial's campaign shape: data prep, the search workflow, the registered
/// model, one `model_train` with `epochs` epochs of 2 train and 4 eval forwards.
pub fn tutorial_run(capture: &Capture, epochs: usize) {
    let prep = capture
        .workflow("DataPrepWorkflow")
        .used(json!({"subset_size": 10}))
        .start();
    prep.finish();
    let search = capture
        .workflow("SearchWorkflow")
        .essential()
        .used(json!({"epochs": epochs}))
        .start();
    let model = capture
        .register_workflow("TransformerModel")
        .parent(search.id())
        .register();
    let train = capture
        .task("model_train", search.id())
        .essential()
        .used(json!({"lr": 0.1}))
        .start();
    let policy = capture.forward_policy();
    let epoch_loop = capture.epoch_loop(train.id(), search.id());
    for (epoch, iteration) in epoch_loop.wrap(1..=epochs) {
        let plan = policy.for_epoch(epoch - 1);
        for (is_training, batches) in [(true, 2), (false, 4)] {
            let name = if is_training {
                "train_batch"
            } else {
                "eval_batch"
            };
            let batch_loop = capture.batch_loop(name, iteration.id(), search.id());
            for (_, batch) in batch_loop.wrap(0..batches) {
                let parent = batch.id().or(iteration.id());
                let input = FakeTensor(vec![20, 20]);
                let forward = capture.parent_forward(
                    &model,
                    "TransformerModel",
                    parent,
                    &plan,
                    is_training,
                    Some(&input),
                );
                for child in CHILDREN {
                    let guard = forward.child(child, Some(&input));
                    guard.end(Some(&FakeTensor(vec![20, 20, 200])));
                }
                forward.end(Some(&FakeTensor(vec![20, 20, 254])));
                batch.end(json!({"loss": 1.5}));
            }
        }
        iteration.end(json!({"train_loss": 6.0 / epoch as f64, "val_loss": 4.0 / epoch as f64}));
    }
    train.finish(json!({"test_loss": 1.0}));
    search.finish();
}
