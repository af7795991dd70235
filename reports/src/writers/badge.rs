//! An SVG badge in the style of shields.io, drawn here (no service involved):
//! `CDEvents <spec> <profile> | <met>/<applicable> <grade>`, colored by grade.
//!
//! `met` counts passed and waived-but-passed cases; `applicable` all cases but skipped ones.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::ReportError;
use crate::escape::{self, one_line};
use crate::model::Run;
use crate::writers::text::{specs_label, write_file};

/// The badge's two texts: label and message.
pub(crate) fn badge_texts(run: &Run) -> (String, String) {
    let mut label = format!("CDEvents {}", one_line(&specs_label(run), 24));
    if let Some(p) = &run.header.profile {
        label.push(' ');
        label.push_str(&one_line(p, 20));
    }
    let s = &run.summary;
    let message = format!("{}/{} {}", s.met(), s.applicable(), s.grade);
    (label, message)
}

/// Approximate advance of `c` in Verdana 11px, enough to size the boxes.
fn char_width(c: char) -> f64 {
    match c {
        'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' | 'I' | ' ' => 3.9,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '-' => 5.0,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 10.5,
        c if c.is_ascii_uppercase() => 7.6,
        c if c.is_ascii_digit() => 7.0,
        c if c.is_ascii() => 6.6,
        _ => 8.5,
    }
}

fn text_width(s: &str) -> f64 {
    s.chars().map(char_width).sum::<f64>().ceil()
}

/// The badge as SVG.
pub fn badge_svg(run: &Run) -> String {
    let (label, message) = badge_texts(run);
    let color = run.summary.grade.color();
    let lw = text_width(&label) + 12.0;
    let mw = text_width(&message) + 12.0;
    let w = lw + mw;
    let (l, m) = (escape::html(&label), escape::html(&message));
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{l}: {m}"><title>{l}: {m}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{l}</text><text x="{lx}" y="14">{l}</text><text x="{mx}" y="15" fill="#010101" fill-opacity=".3">{m}</text><text x="{mx}" y="14">{m}</text></g></svg>"##,
        lx = lw / 2.0,
        mx = lw + mw / 2.0,
    );
    s.push('\n');
    s
}

/// Writes the badge to `path`.
pub fn write_badge(run: &Run, path: impl AsRef<Path>) -> Result<(), ReportError> {
    write_file(path.as_ref(), badge_svg(run).as_bytes())
}
