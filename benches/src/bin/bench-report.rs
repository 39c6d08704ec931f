//! Prints the capture benchmarks' results as markdown tables.
//!
//! ```text
//! cargo run --release -p capture-benches --bin bench-report -- [CRITERION_DIR]
//! ```
//!
//! `CRITERION_DIR` is the folder criterion wrote to; by default `$CRITERION_HOME`, else
//! `$CARGO_TARGET_DIR/criterion`, else the `criterion` folder of the target directory
//! this binary was built in. The tables go to standard output; see
//! [`capture_benches::report`] for what they hold.

use std::path::PathBuf;
use std::process::ExitCode;

use capture_benches::report;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let dir = match (args.next(), args.next()) {
        (None, _) => capture_benches::criterion_dir(),
        (Some(arg), None) if arg == "-h" || arg == "--help" => {
            println!("usage: bench-report [CRITERION_DIR]");
            println!("prints the capture benchmarks' criterion results as markdown tables");
            return ExitCode::SUCCESS;
        }
        (Some(dir), None) => PathBuf::from(dir),
        (Some(_), Some(_)) => {
            eprintln!("usage: bench-report [CRITERION_DIR]");
            return ExitCode::from(2);
        }
    };
    if !dir.is_dir() {
        eprintln!(
            "bench-report: {} is not a folder: run `cargo bench` first, or name criterion's \
             output folder",
            dir.display()
        );
        return ExitCode::from(2);
    }
    match report::read_results(&dir) {
        Ok(results) => {
            let machine = report::read_machine(&dir);
            print!("{}", report::render(&results, machine.as_deref()));
            if let Some(counts) = report::read_instructions(&dir) {
                print!("{}", report::render_instructions(&counts));
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench-report: {err}");
            ExitCode::FAILURE
        }
    }
}
