//! `cdevents-conformance requirements`: print the requirement catalogue.

use cdevents_suites::requirements::{Catalogue, Filter};

use crate::cli::{RequirementsArgs, RequirementsFormat};
use crate::exit;

/// Prints the catalogue, filtered.
pub fn run(args: RequirementsArgs) -> anyhow::Result<u8> {
    let filter = Filter {
        ids: args.ids,
        level: args.level.map(Into::into),
        role: args.role.map(Into::into),
        version: args.spec,
    };
    let selected = Catalogue::embedded().select(&filter);
    let text = match args.format {
        RequirementsFormat::Md => selected.to_markdown(),
        RequirementsFormat::Json => selected.to_json(),
    };
    anstream::println!("{}", text.trim_end());
    Ok(exit::OK)
}
