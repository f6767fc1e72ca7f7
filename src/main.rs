//! The `ttfit` command line: `sample`, `fit`, `predict`, `compare`, `demo`.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
