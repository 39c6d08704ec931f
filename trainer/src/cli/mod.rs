//! Command-line interface: argument parsing, logging set-up and exit codes.
//!
//! Each subcommand lives in its own module; this one maps their errors to exit codes:
//! 0 success; 1 bad input, a failed config, or a capture file left incomplete by a write
//! error (the training's result is still printed); 2 no GPU adapter for `--backend wgpu`.

mod init_settings;
mod inspect;
mod plot;
mod progress;
mod run;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Runs the Flowcept LLM tutorial's campaign (data prep, hyperparameter search, transformer
/// training) in burn, capturing its provenance as Flowcept-compatible JSONL.
#[derive(Debug, Parser)]
#[command(name = "trainer", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes a commented settings.yaml holding every capture key with its default.
    InitSettings {
        /// Where to write it.
        #[arg(default_value = "settings.yaml")]
        path: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Summarises a capture file: rows by kind, the campaign tree, losses per epoch.
    Inspect {
        /// The JSONL file a run wrote.
        file: PathBuf,
        /// Also draw train and validation loss per epoch into this PNG file.
        #[arg(long, value_name = "PNG")]
        plot: Option<PathBuf>,
    },
}

/// Options of the campaign run (the command without a subcommand).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Capture settings file. Default: $FLOWCEPT_SETTINGS_PATH, else ./settings.yaml if it
    /// exists, else built-in defaults (the tutorial's initial settings, dump_buffer on).
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Workflow parameters as the tutorial's JSON: an inline object or a path to a file.
    /// Absent keys take the tutorial's defaults; list values are searched as a product.
    #[arg(long, value_name = "JSON|FILE")]
    workflow_params: Option<String>,
    /// Campaign id to record (default: a new UUID).
    #[arg(long)]
    campaign_id: Option<String>,
    /// Output JSONL file (overrides project.dump_buffer.path and turns the dump on).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// Folder with WikiText-2 token files (wiki.train.tokens or train.txt, and so on).
    /// Default: the excerpt embedded in the binary.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configs trained at once, each on its own thread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    workers: u32,
    /// Random seed (overrides the workflow parameters' random_seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Folder for checkpoints (default: runs/<campaign id>).
    #[arg(long, value_name = "DIR")]
    run_dir: Option<PathBuf>,
}

/// The backends the CLI offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    /// burn's flex CPU backend.
    Cpu,
    /// wgpu: Vulkan, Metal or DX12; Mesa's lavapipe on machines without a GPU.
    Wgpu,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    fn new(code: u8, error: anyhow::Error) -> Self {
        Self { code, error }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::new(1, error)
    }
}

/// Parses the arguments, runs the command and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let outcome = match cli.command {
        Some(Command::InitSettings { path, force }) => {
            init_settings::write(&path, force).map_err(Failure::from)
        }
        Some(Command::Inspect { file, plot }) => {
            inspect::run(&file, plot.as_deref()).map_err(Failure::from)
        }
        None => run::run(cli.run),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

/// Logs go to stderr, `warn` and above unless `RUST_LOG` says otherwise.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
