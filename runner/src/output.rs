//! Terminal output: colors that obey `--color` and `NO_COLOR`, and error messages.

use anstyle::{AnsiColor, Style};

use crate::cli::ColorWhen;

/// Styles used across commands.
pub const OK: Style = AnsiColor::Green.on_default();
pub const FAIL: Style = AnsiColor::Red.on_default().bold();
pub const WARN: Style = AnsiColor::Yellow.on_default();
pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();

/// Sets the global color choice. `auto` colors only a terminal and honours `NO_COLOR`
/// (and `CLICOLOR_FORCE`), as anstream does.
pub fn init_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Prints an error of the run (not a finding) with its causes.
pub fn error(err: &anyhow::Error) {
    let mut msg = format!("{FAIL}error{FAIL:#}: {err}");
    let mut said = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        // Error types often repeat their source in their own message: say each thing once.
        if !said.contains(&c) {
            msg.push_str(&format!("\n  caused by: {c}"));
        }
        said.push_str(&c);
    }
    anstream::eprintln!("{msg}");
}
