//! `cdevents-conformance`: the conformance and interoperability test kit for CDEvents.

mod cli;
mod commands;
mod config;
mod exit;
mod fetch;
mod listing;
mod output;
mod reporting;
mod waivers;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The config file's settings become flags; flags and env vars win over them.
    let cli = config::parse_cli();
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
        cli::Command::Config(args) => config::run(args),
        cli::Command::Completions(args) => commands::completions::completions(args),
        cli::Command::Man(args) => commands::completions::man(args),
        cli::Command::Promote(args) => commands::promote::run(args),
        cli::Command::Selftest(args) => commands::selftest::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            output::error(&err);
            ExitCode::from(exit::USAGE)
        }
    }
}
