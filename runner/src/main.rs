//! `cdevents-conformance`: the conformance and interoperability test kit for CDEvents.

mod cli;
mod commands;
mod exit;
mod fetch;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_color(cli.color);
    let result = match cli.command {
        cli::Command::Validate(args) => commands::validate::run(args),
        cli::Command::Requirements(args) => commands::requirements::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            output::error(&err);
            ExitCode::from(exit::USAGE)
        }
    }
}
