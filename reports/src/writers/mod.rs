//! Writers: each renders a [`Run`](crate::Run) as one format, as a pure function to text or
//! bytes, plus a helper that writes the file.

mod badge;
mod html;
mod json;
mod junit;
mod markdown;
mod svg;
mod text;

pub use badge::{badge_svg, write_badge};
pub use html::{to_html, write_html_dir};
pub use json::{to_json, to_json_value, write_json, JsonReport};
pub use junit::{to_junit, to_junit_report, write_junit};
pub use markdown::{
    append_markdown, to_markdown, to_markdown_with, write_markdown, MarkdownOptions,
};
pub use text::{requirement_rows, RequirementRow, RoleCell};
