//! Two campaigns with the same seed on the CPU give the same losses, epoch by epoch; a
//! different seed gives different ones. (One test in this binary: burn's flex backend has
//! one random generator per process, which concurrent tests would share.)

use capture_core::Capture;
use trainer::campaign::{CampaignOptions, NoProgress, run_campaign};
use trainer::train::EpochLosses;

fn losses(seed: u64) -> (Vec<EpochLosses>, f64) {
    let dir = tempfile::tempdir().expect("a temporary folder can be created");
    let options = CampaignOptions {
        seed: Some(seed),
        run_dir: dir.path().to_owned(),
        ..CampaignOptions::default()
    };
    let outcome = run_campaign(&options, &Capture::disabled(), &NoProgress).expect("it runs");
    let result = outcome.results[0]
        .result
        .clone()
        .expect("the config trains");
    (result.epochs, result.test_loss)
}

#[test]
fn two_runs_with_the_same_seed_give_the_same_losses() {
    let first = losses(7);
    let second = losses(7);
    assert_eq!(first.0.len(), 4);
    assert_eq!(first, second);
    let other = losses(8);
    assert_ne!(first.0, other.0);
}
