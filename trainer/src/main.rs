//! The `trainer` command: runs the Flowcept LLM tutorial's campaign in burn with provenance
//! capture, and reads what it wrote.
//!
//! `trainer` alone runs the campaign on the CPU with the embedded WikiText-2 excerpt;
//! `trainer --help` lists the options and subcommands.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
