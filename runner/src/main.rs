//! `cdevents-conformance`: the conformance and interoperability test kit for CDEvents.

mod cli;
mod commands;
mod exit;
mod fetch;
mod output;
mod reporting;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_color(cli.color);
    let result = match cli.command {
        cli::Command::Validate(args) => commands::validate::run(args),
        cli::Command::Requirements(args) => commands::requirements::run(args),
        cli::Command::Test(cli::TestCommand::Listener(args)) => commands::test_listener::run(args),
        cli::Command::Test(cli::TestCommand::Sender(args)) => commands::test_sender::run(args),
        cli::Command::Test(cli::TestCommand::Relay(args)) => commands::test_relay::run(args),
        cli::Command::Reference(cli::ReferenceCommand::Listener(args)) => {
            commands::reference_listener::run(args)
        }
        cli::Command::Reference(cli::ReferenceCommand::Sender(args)) => {
            commands::reference_sender::run(args)
        }
        cli::Command::Reference(cli::ReferenceCommand::Relay(args)) => {
            commands::reference_relay::run(args)
        }
        cli::Command::Report(cmd) => commands::report::run(cmd),
        cli::Command::Demo(args) => commands::demo::run(args),
        cli::Command::Reproduce(args) => commands::reproduce::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            output::error(&err);
            ExitCode::from(exit::USAGE)
        }
    }
}
