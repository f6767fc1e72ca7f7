//! Command-line interface (clap). Exit codes: 0 success; 1 the computation failed (a fit
//! diverged, a factorization failed); 2 invalid arguments, data or model file; 3 a file could
//! not be read or written.

mod args;
mod budget;
mod commands;
mod density;
mod progress;

use clap::Parser;
use ttfit::Error;

/// Parse the arguments, run the command, print errors for a person and return the exit code.
pub fn run() -> i32 {
    let cli = args::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            exit_code(&e)
        }
    }
}

fn exit_code(e: &Error) -> i32 {
    match e {
        Error::Io { .. } => 3,
        Error::Data { .. }
        | Error::InvalidParameter { .. }
        | Error::OutsideDomain { .. }
        | Error::ModelFile { .. } => 2,
        Error::Diverged { .. } | Error::Tt(_) | Error::Linalg(_) => 1,
    }
}
