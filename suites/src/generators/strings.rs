//! String strategies: free text, ids, and one strategy per asserted format or pattern.
//!
//! Every host is under a reserved top-level domain (`.example`, `.test`, `.invalid`, RFC 2606),
//! so that a generated `schemaUri` or link can never reach a real server even if someone tried.

use cdevents_schemas::catalogue::Format;
use cdevents_schemas::formats;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::string::{string_regex, string_regex_parsed};
use regex_syntax::hir::{self, Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind};

/// A strategy from a regular expression written in this file.
fn re(pattern: &str) -> BoxedStrategy<String> {
    string_regex(pattern)
        .unwrap_or_else(|e| panic!("generator regex `{pattern}` is not supported: {e}"))
        .boxed()
}

/// Free text: identifiers, ASCII prose and arbitrary printable unicode.
pub(crate) fn free(non_empty: bool) -> BoxedStrategy<String> {
    let text = prop_oneof![
        4 => re("[a-z][a-z0-9]{0,7}(-[a-z0-9]{1,6}){0,2}"),
        2 => re("[A-Za-z0-9 ,.:;!?'()/_-]{1,24}"),
        2 => re("\\PC{1,12}"),
    ];
    if non_empty {
        text.boxed()
    } else {
        prop_oneof![9 => text, 1 => Just(String::new())].boxed()
    }
}

/// A random (version 4) uuid: unique enough for ids.
pub(crate) fn uuid() -> BoxedStrategy<String> {
    any::<[u8; 16]>()
        .prop_map(|mut b| {
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        })
        .boxed()
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An RFC 3339 date-time: `Z` or a numeric offset, with or without a fraction of a second.
pub(crate) fn date_time() -> BoxedStrategy<String> {
    let offset = prop_oneof![
        3 => Just("Z".to_owned()),
        2 => (any::<bool>(), 0u32..24, 0u32..60).prop_map(|(plus, h, m)| {
            format!("{}{h:02}:{m:02}", if plus { '+' } else { '-' })
        }),
    ];
    let fraction = prop::option::of(re("\\.[0-9]{1,9}"));
    (
        (1970i32..2100, 1u32..=12, 1u32..=31),
        (0u32..24, 0u32..60, 0u32..60),
        fraction,
        offset,
    )
        .prop_map(|((y, mo, d), (h, mi, s), frac, off)| {
            let d = d.min(days_in_month(y, mo));
            format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}{off}",
                frac.unwrap_or_default()
            )
        })
        .boxed()
}

const HOST: &str = "([a-z][a-z0-9]{0,8}\\.){0,2}(example|test|invalid|example\\.com|example\\.org)";
const SEGMENT: &str = "[A-Za-z0-9]{1,8}([._~-][a-z0-9]{1,6}|%20|%2F|%C3%A9)?";
const QUERY: &str = "(\\?[a-z]{1,6}=[A-Za-z0-9]{0,8}(&[a-z]{1,6}=[a-z0-9._~-]{0,8}){0,2})?";
const FRAGMENT: &str = "(#[A-Za-z0-9]{1,8}(-[a-z0-9]{1,4})?)?";

/// An absolute `https` URL (format `uri`).
pub(crate) fn uri() -> BoxedStrategy<String> {
    re(&format!(
        "https://{HOST}(:[1-9][0-9]{{1,4}})?(/{SEGMENT}){{0,4}}/?{QUERY}{FRAGMENT}"
    ))
}

/// A URI or relative reference (format `uri-reference`): paths, URLs, fragments.
pub(crate) fn uri_reference(non_empty: bool) -> BoxedStrategy<String> {
    let forms = prop_oneof![
        3 => re(&format!("(/{SEGMENT}){{1,4}}/?{QUERY}")),
        2 => uri(),
        1 => re(&format!("{SEGMENT}(/{SEGMENT}){{0,3}}")),
        1 => re(&format!("//{HOST}(/{SEGMENT}){{0,2}}")),
        1 => re("#[A-Za-z0-9-]{1,8}"),
    ];
    if non_empty {
        forms.boxed()
    } else {
        prop_oneof![9 => forms, 1 => Just(String::new())].boxed()
    }
}

/// A string with the format (and not empty when asked).
pub(crate) fn formatted(format: Format, non_empty: bool) -> BoxedStrategy<String> {
    match format {
        Format::Uri => uri(),
        Format::UriReference => uri_reference(non_empty),
        Format::DateTime => date_time(),
    }
}

/// Providers of the governed list (`schemas/registry/providers.json` of the 0.6 draft): the
/// spec text requires a `domainId` provider, when present, to be one of them.
const DOMAIN_ID_PROVIDERS: [&str; 6] = ["github", "gitlab", "jira", "jenkins", "tekton", "datadog"];

/// Resource types of the spec text's governed list (bare `definition` is abstract: never used).
use crate::checks::links::DOMAIN_TYPES as DOMAIN_ID_TYPES;

/// A `domainId`: `cdevents:v0:<provider>:<provider-id>:<namespace>:<groups>:<type>:<id>`,
/// with the provider and type from the governed lists of the spec text, empty optional
/// segments, nested groups and URL-encoded ids. The strings are then held to the catalogue's
/// `domainid` pattern and format, which stay the authority on what is schema-valid.
pub(crate) fn domain_id(pattern: Option<&str>, format: Option<Format>) -> BoxedStrategy<String> {
    let ident = || re("[a-z][a-z0-9]{0,7}(-[a-z0-9]{1,5})?");
    let optional = |s: BoxedStrategy<String>| prop_oneof![2 => s, 1 => Just(String::new())];
    let id = prop_oneof![
        re("[1-9][0-9]{0,5}"),
        re("[0-9a-f]{12}"),
        re("[A-Z]{2,5}-[1-9][0-9]{0,4}"),
        re("v[0-9]\\.[0-9]{1,2}\\.[0-9]"),
        re("(feature|fix)%2F[a-z]{1,8}"),
        re("pkg%3Adocker%2F[a-z]{1,8}%40[0-9]\\.[0-9]\\.[0-9]"),
    ];
    let fields = (
        optional(
            select(DOMAIN_ID_PROVIDERS.to_vec())
                .prop_map(str::to_owned)
                .boxed(),
        ),
        optional(ident()),
        optional(ident()),
        prop::collection::vec(ident(), 0..=3),
        select(DOMAIN_ID_TYPES.to_vec()),
        id,
    );
    let check = pattern.map(|p| {
        regex::Regex::new(p)
            .unwrap_or_else(|e| panic!("catalogue pattern `{p}` does not compile: {e}"))
    });
    fields
        .prop_map(|(provider, provider_id, namespace, groups, kind, id)| {
            format!(
                "cdevents:v0:{provider}:{provider_id}:{namespace}:{}:{kind}:{id}",
                groups.join("/")
            )
        })
        .prop_filter("must match the domainid pattern and format", move |s| {
            check.as_ref().is_none_or(|r| r.is_match(s))
                && format.is_none_or(|f| formats::is_valid(f, s))
        })
        .boxed()
}

/// Characters that may appear unescaped in any part of a URI reference's path.
fn uri_safe() -> ClassUnicode {
    ClassUnicode::new(
        [
            ('A', 'Z'),
            ('a', 'z'),
            ('0', '9'),
            ('-', '.'),
            ('/', '/'),
            ('_', '_'),
            ('~', '~'),
        ]
        .map(|(a, b)| ClassUnicodeRange::new(a, b)),
    )
}

/// Printable characters: ASCII and most of the Basic Multilingual Plane.
fn printable() -> ClassUnicode {
    ClassUnicode::new(
        [(' ', '~'), ('\u{a0}', '\u{d7ff}'), ('\u{e000}', '\u{fffd}')]
            .map(|(a, b)| ClassUnicodeRange::new(a, b)),
    )
}

/// Rewrites a pattern so that proptest can generate from it: anchors dropped (proptest does not
/// support them; dropping `^`/`$` around the whole pattern keeps every generated string a
/// match), classes narrowed to `allowed` (so that `[^:]` yields characters the field's format
/// accepts), unbounded repetitions capped to keep values short.
fn generable(h: &Hir, allowed: &ClassUnicode) -> Hir {
    match h.kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Class(Class::Unicode(c)) => {
            let mut narrowed = c.clone();
            narrowed.intersect(allowed);
            if narrowed.ranges().is_empty() {
                h.clone()
            } else {
                Hir::class(Class::Unicode(narrowed))
            }
        }
        HirKind::Repetition(r) => Hir::repetition(hir::Repetition {
            min: r.min,
            max: Some(r.max.unwrap_or(r.min.saturating_add(8))),
            greedy: r.greedy,
            sub: Box::new(generable(&r.sub, allowed)),
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(generable(&c.sub, allowed)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(|s| generable(s, allowed)).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(|s| generable(s, allowed)).collect())
        }
        _ => h.clone(),
    }
}

/// Strings matching a catalogue `pattern(...)`, with the format when there is one.
///
/// # Panics
///
/// When the pattern is not a regular expression proptest can generate from: the patterns come
/// from the embedded catalogue, so that is a defect caught by the generator tests.
pub(crate) fn matching(
    pattern: &str,
    format: Option<Format>,
    non_empty: bool,
) -> BoxedStrategy<String> {
    let parsed = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .unwrap_or_else(|e| panic!("catalogue pattern `{pattern}` does not parse: {e}"));
    let allowed = if format.is_some() {
        uri_safe()
    } else {
        printable()
    };
    let strategy = string_regex_parsed(&generable(&parsed, &allowed))
        .unwrap_or_else(|e| panic!("cannot generate strings for pattern `{pattern}`: {e}"));
    let check = regex::Regex::new(pattern)
        .unwrap_or_else(|e| panic!("catalogue pattern `{pattern}` does not compile: {e}"));
    strategy
        .prop_filter("must match the pattern and the format", move |s| {
            (!non_empty || !s.is_empty())
                && check.is_match(s)
                && format.is_none_or(|f| formats::is_valid(f, s))
        })
        .boxed()
}

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    fn all_valid(strategy: BoxedStrategy<String>, ok: impl Fn(&str) -> bool) {
        let mut runner = TestRunner::deterministic();
        for _ in 0..300 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            assert!(ok(&s), "{s:?}");
        }
    }

    #[test]
    fn formats_are_valid() {
        all_valid(uri(), |s| formats::is_valid(Format::Uri, s));
        all_valid(uri_reference(true), |s| {
            !s.is_empty() && formats::is_valid(Format::UriReference, s)
        });
        all_valid(uri_reference(false), |s| {
            formats::is_valid(Format::UriReference, s)
        });
        all_valid(date_time(), |s| formats::is_valid(Format::DateTime, s));
        all_valid(free(true), |s| !s.is_empty());
        all_valid(uuid(), |s| s.len() == 36 && s.as_bytes()[14] == b'4');
    }

    #[test]
    fn patterns_with_anchors_and_formats() {
        let domain = "^cdevents:v0:[^:]*:[^:]*:[^:]*:([^:/]([^:]*[^:/])?)?:[^:]+:.+$";
        let re = regex::Regex::new(domain).unwrap();
        all_valid(matching(domain, Some(Format::UriReference), false), |s| {
            re.is_match(s) && formats::is_valid(Format::UriReference, s)
        });
        all_valid(domain_id(Some(domain), Some(Format::UriReference)), |s| {
            re.is_match(s) && formats::is_valid(Format::UriReference, s)
        });
        let custom = r"^dev\.cdeventsx\.[a-zA-Z0-9]+-[a-zA-Z]+\.[a-zA-Z]+\.[0-9]\.[0-9]\.[0-9]$";
        let re = regex::Regex::new(custom).unwrap();
        all_valid(matching(custom, None, false), |s| re.is_match(s));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }
}
