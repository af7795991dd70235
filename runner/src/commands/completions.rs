//! `completions SHELL` and `man`: generated from the clap definition, so they cannot drift from
//! the real command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit;

const COMPLETIONS_HELP: &str = "\
Examples:
  cdevents-conformance completions bash > ~/.local/share/bash-completion/completions/cdevents-conformance
  cdevents-conformance completions zsh > ~/.zfunc/_cdevents-conformance
  cdevents-conformance completions fish > ~/.config/fish/completions/cdevents-conformance.fish";

const MAN_HELP: &str = "\
Examples:
  cdevents-conformance man | man -l -
  cdevents-conformance man --dir target/man     # one page per subcommand
  sudo cdevents-conformance man > /usr/local/share/man/man1/cdevents-conformance.1";

/// `completions` options.
#[derive(Debug, clap::Args)]
#[command(after_help = COMPLETIONS_HELP)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` options.
#[derive(Debug, clap::Args)]
#[command(after_help = MAN_HELP)]
pub struct ManArgs {
    /// Write one page per subcommand into this folder instead of the main page to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut cmd,
        "cdevents-conformance",
        &mut std::io::stdout(),
    );
    Ok(exit::OK)
}

/// Prints the man page, or writes every page into `--dir`.
pub fn man(args: ManArgs) -> anyhow::Result<u8> {
    let cmd = Cli::command();
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            anstream::println!("man pages written to {}", dir.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("cannot render the man page")?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .context("cannot write the man page")?;
        }
    }
    Ok(exit::OK)
}
