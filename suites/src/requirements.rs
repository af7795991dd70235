//! The requirement catalogue: every requirement a check can judge, declared once, as data.
//!
//! The records live in `suites/requirements/*.toml`, one file per area, and are embedded at
//! compile time. Each record says what is asked ([`Requirement::summary`], in our words), how
//! strongly ([`Level`]), of whom ([`Role`]), where the spec asks it (`spec` and `section`, with
//! an optional exact `quote`), and for which CDEvents versions. Reports, `--list`, the docs
//! (`docs/requirements.md`, see [`Catalogue::to_markdown`]) and the test trial names all read
//! these records; findings carry their `id`.
//!
//! Ids select by prefix: `CDE-CTX` picks every context rule, `CDE-` every rule about the event
//! itself, `WH-01` the web hook records 010 to 019. Numbers are never reused.
//!
//! Records with role `event` are judged on a single event, offline by `validate`; the sender
//! and intermediary suites apply them to every event they observe, too.
//!
//! A record field by field (TOML):
//!
//! ```toml
//! [[requirement]]
//! id = "CDE-CTX-008"                   # PREFIX-NNN, sorted within its file
//! level = "MUST"                       # MUST, SHOULD or MAY, as the spec's keyword says
//! roles = ["event"]                    # event, sender, listener, intermediary
//! spec = "cdevents/spec.md"            # one of the known documents, see DOCUMENTS
//! section = "CDEvent context › timestamp"
//! versions = ["0.3.0", "0.4.1", "0.5.1", "0.6.0-draft"]
//! summary = "context.timestamp is an RFC 3339 date-time"     # one line, our words
//! quote = "MUST adhere to the format specified in RFC 3339"  # optional, exact, <= 200 chars
//! blackbox = false                     # optional: cannot be judged from outside...
//! why = "..."                          # ...and why (required when blackbox = false)
//! note = "..."                         # optional: prose vs schema, which we follow and why
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use cdevents_reports::{Level, Role};
use cdevents_schemas::SpecVersion;
use serde::{Deserialize, Serialize};

/// One requirement of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Stable id, `PREFIX-NNN`, e.g. `CDE-CTX-003`.
    pub id: String,
    /// How strongly the spec asks it.
    pub level: Level,
    /// Who is asked.
    pub roles: Vec<Role>,
    /// The document that asks it, e.g. `cdevents/spec.md`, `cloudevents/http-webhook.md`.
    pub spec: String,
    /// The section of that document, its number and/or heading path.
    pub section: String,
    /// The CDEvents versions it applies to (`0.3.0`, `0.4.1`, `0.5.1`, `0.6.0-draft`).
    pub versions: Vec<String>,
    /// One line, in our words.
    pub summary: String,
    /// A short exact excerpt of the normative sentence, for traceability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Whether a check can judge it from outside the implementation.
    #[serde(default = "yes")]
    pub blackbox: bool,
    /// Why it cannot be judged from outside (with `blackbox = false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Where prose and schema disagree, which one we follow and why; other caveats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

impl Requirement {
    /// The id without its number: `CDE-CTX` for `CDE-CTX-003`.
    pub fn prefix(&self) -> &str {
        self.id.rsplit_once('-').map_or(&self.id, |(p, _)| p)
    }

    /// The area the record belongs to, by its prefix.
    pub fn area(&self) -> Option<&'static Area> {
        AREAS.iter().find(|a| a.prefix == self.prefix())
    }

    /// Whether it applies to this spec version.
    pub fn applies_to(&self, v: SpecVersion) -> bool {
        self.versions.iter().any(|s| s == v.as_str())
    }

    /// Whether it is asked of this role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A group of requirements sharing an id prefix, declared in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// The id prefix, e.g. `CDE-CTX`.
    pub prefix: &'static str,
    /// A short title.
    pub title: &'static str,
    /// The file under `suites/requirements/` that declares it.
    pub file: &'static str,
    /// One sentence on what it covers.
    pub about: &'static str,
}

/// Every area, in the order of the docs.
pub const AREAS: &[Area] = &[
    Area {
        prefix: "CDE-SCH",
        title: "Schema validity",
        file: "event.toml",
        about: "The event against the JSON Schema of its type and spec version.",
    },
    Area {
        prefix: "CDE-CTX",
        title: "Context attributes",
        file: "event.toml",
        about: "id, source, type, spec version, timestamp, schemaUri and chainId of the CDEvent context.",
    },
    Area {
        prefix: "CDE-SUB",
        title: "Subject",
        file: "event.toml",
        about: "id, source, content and (0.3.0, 0.4.1) type of the subject, and how senders keep subject ids.",
    },
    Area {
        prefix: "CDE-LNK",
        title: "Links",
        file: "event.toml",
        about: "Links embedded in the context (0.4.1 on): link types, their members, chains and domain ids.",
    },
    Area {
        prefix: "CDE-CUS",
        title: "Custom data",
        file: "event.toml",
        about: "customData and customDataContentType.",
    },
    Area {
        prefix: "CDE-CX",
        title: "Custom events",
        file: "event.toml",
        about: "dev.cdeventsx events (0.4.1 on) and the schemas named by schemaUri.",
    },
    Area {
        prefix: "CDE-CE",
        title: "CloudEvents binding",
        file: "binding.toml",
        about: "How a CDEvent maps onto a CloudEvent, and the CloudEvents attribute rules it relies on.",
    },
    Area {
        prefix: "CE-HTTP",
        title: "CloudEvents HTTP binding",
        file: "http.toml",
        about: "Binary, structured and batched content modes, content types, percent-encoding of ce- headers.",
    },
    Area {
        prefix: "WH",
        title: "HTTP web hooks",
        file: "webhook.toml",
        about: "Delivery requests and responses, status codes, authorization and abuse protection.",
    },
    Area {
        prefix: "LIS",
        title: "Listener behaviour",
        file: "listener.toml",
        about: "What a listener accepts, refuses and survives.",
    },
    Area {
        prefix: "SND",
        title: "Sender behaviour",
        file: "sender.toml",
        about: "Retries, acknowledgements, ordering, links and sizes of what a sender emits.",
    },
    Area {
        prefix: "REL",
        title: "Intermediary behaviour",
        file: "intermediary.toml",
        about: "Delivery guarantees an intermediary claims, and what it may not change in what it forwards.",
    },
];

/// The documents a record may cite: the CDEvents spec of each version (under `docs/`, except
/// `custom/README.md` and the schemas) and the CloudEvents spec.
pub const DOCUMENTS: &[&str] = &[
    "cdevents/spec.md",
    "cdevents/cloudevents-binding.md",
    "cdevents/links.md",
    "cdevents/core.md",
    "cdevents/custom/README.md",
    "cdevents/schemas",
    "cloudevents/spec.md",
    "cloudevents/http-protocol-binding.md",
    "cloudevents/json-format.md",
    "cloudevents/http-webhook.md",
    "cloudevents/sequence.md",
    "cloudevents/distributed-tracing.md",
    "cloudevents/primer.md",
];

/// The catalogue files, embedded at compile time.
const SOURCES: &[(&str, &str)] = &[
    ("event.toml", include_str!("../requirements/event.toml")),
    ("binding.toml", include_str!("../requirements/binding.toml")),
    ("http.toml", include_str!("../requirements/http.toml")),
    ("webhook.toml", include_str!("../requirements/webhook.toml")),
    (
        "listener.toml",
        include_str!("../requirements/listener.toml"),
    ),
    ("sender.toml", include_str!("../requirements/sender.toml")),
    (
        "intermediary.toml",
        include_str!("../requirements/intermediary.toml"),
    ),
];

/// Longest `quote` allowed: an excerpt, not a copy.
pub const MAX_QUOTE: usize = 200;

/// Why a catalogue did not load.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A file is not valid TOML or a record has wrong or unknown fields.
    #[error("suites/requirements/{file}: {message}")]
    Parse {
        /// The file name.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Records break the catalogue rules.
    #[error("the requirement catalogue breaks its rules:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    requirement: Vec<Requirement>,
}

/// Which requirements to keep. Empty fields keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Id prefixes (any of them matches, case-insensitively), e.g. `CDE-CTX`, `LIS-`.
    pub ids: Vec<String>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only requirements asked of this role.
    pub role: Option<Role>,
    /// Only requirements that apply to this version.
    pub version: Option<SpecVersion>,
}

impl Filter {
    /// Whether the requirement passes the filter.
    pub fn matches(&self, r: &Requirement) -> bool {
        (self.ids.is_empty()
            || self
                .ids
                .iter()
                .any(|p| r.id.starts_with(&p.to_ascii_uppercase())))
            && self.level.is_none_or(|l| r.level == l)
            && self.role.is_none_or(|role| r.has_role(role))
            && self.version.is_none_or(|v| r.applies_to(v))
    }
}

/// The requirements, in area order then id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    requirements: Vec<Requirement>,
    index: HashMap<String, usize>,
}

impl Catalogue {
    /// The catalogue embedded in the binary, parsed and checked once.
    ///
    /// # Panics
    ///
    /// When the embedded files are broken, which the unit tests rule out.
    pub fn embedded() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| Catalogue::load(SOURCES).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Parses and checks catalogue files given as `(file name, TOML text)`.
    pub fn load(sources: &[(&str, &str)]) -> Result<Catalogue, CatalogueError> {
        let mut all = Vec::new();
        let mut problems = Vec::new();
        for (file, text) in sources {
            let parsed: File = toml::from_str(text).map_err(|e| CatalogueError::Parse {
                file: (*file).to_owned(),
                message: e.to_string(),
            })?;
            problems.extend(check_file(file, &parsed.requirement));
            all.extend(parsed.requirement);
        }
        let mut seen = HashSet::new();
        for r in &all {
            if !seen.insert(r.id.as_str()) {
                problems.push(format!("{}: the id is declared more than once", r.id));
            }
        }
        if !problems.is_empty() {
            return Err(CatalogueError::Invalid(problems));
        }
        Ok(Catalogue::from_records(all))
    }

    fn from_records(mut requirements: Vec<Requirement>) -> Catalogue {
        let rank = |r: &Requirement| {
            AREAS
                .iter()
                .position(|a| a.prefix == r.prefix())
                .unwrap_or(AREAS.len())
        };
        requirements.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.id.cmp(&b.id)));
        let index = requirements
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Catalogue {
            requirements,
            index,
        }
    }

    /// The requirement with this exact id.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.index.get(id).map(|&i| &self.requirements[i])
    }

    /// Every requirement, in area order then id order.
    pub fn iter(&self) -> std::slice::Iter<'_, Requirement> {
        self.requirements.iter()
    }

    /// How many requirements there are.
    pub fn len(&self) -> usize {
        self.requirements.len()
    }

    /// Whether there are none (an empty selection).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements that pass the filter, as a catalogue of their own (to render or list).
    pub fn select(&self, filter: &Filter) -> Catalogue {
        Catalogue::from_records(
            self.requirements
                .iter()
                .filter(|r| filter.matches(r))
                .cloned()
                .collect(),
        )
    }

    /// A JSON array of the records, pretty-printed: the `--format json` wire format.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.requirements)
            .expect("requirements always serialize to JSON")
    }

    /// Markdown: a summary, then per area a table (id, level, roles, versions, summary, spec
    /// section) and the quotes and notes of its records. `docs/requirements.md` is this
    /// rendering of the embedded catalogue.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "# Requirement catalogue\n");
        let _ = writeln!(
            w,
            "<!-- Generated from suites/requirements/*.toml by Catalogue::to_markdown. Do not edit by hand:\n     run `UPDATE_DOCS=1 cargo test -p cdevents-suites --test requirements_doc`. -->\n"
        );
        let count = |l: Level| self.iter().filter(|r| r.level == l).count();
        let _ = writeln!(
            w,
            "{} requirements: {} MUST, {} SHOULD, {} MAY. Each is declared once, in \
             `suites/requirements/`, and every finding names one of them by id. Ids select by \
             prefix (`--id CDE-CTX`, `--id WH-`).\n",
            self.len(),
            count(Level::Must),
            count(Level::Should),
            count(Level::May)
        );
        let _ = writeln!(
            w,
            "- **Level**: the RFC 2119 keyword of the spec; where the spec only recommends, \
             SHOULD. `--fail-on` picks the weakest level that fails a run.\n\
             - **Roles**: `event` (judged on one event, offline by `validate`, and on every event \
             a sender or intermediary emits), `sender`, `listener`, `intermediary`.\n\
             - **Versions**: the CDEvents versions a record applies to; `all` is 0.3.0, 0.4.1, \
             0.5.1 and 0.6.0-draft, `0.4.1+` is 0.4.1 and later.\n\
             - **Not black-box**: the record is kept for completeness but no check can judge it \
             from outside; the notes say why.\n\
             - **Claim-conditional**: judged only when the implementation declares that \
             guarantee.\n"
        );

        let mut by_area: BTreeMap<usize, Vec<&Requirement>> = BTreeMap::new();
        for r in self.iter() {
            let rank = AREAS
                .iter()
                .position(|a| a.prefix == r.prefix())
                .unwrap_or(AREAS.len());
            by_area.entry(rank).or_default().push(r);
        }

        let _ = writeln!(w, "| prefix | area | file | records |");
        let _ = writeln!(w, "|---|---|---|---|");
        for (rank, reqs) in &by_area {
            let (prefix, title, file) = match AREAS.get(*rank) {
                Some(a) => (a.prefix, a.title, a.file),
                None => ("?", "Other", "?"),
            };
            let _ = writeln!(
                w,
                "| [`{prefix}`](#{}) | {title} | `{file}` | {} |",
                anchor(&format!("{prefix} {title}")),
                reqs.len()
            );
        }

        for (rank, reqs) in &by_area {
            let (prefix, title, about) = match AREAS.get(*rank) {
                Some(a) => (a.prefix, a.title, a.about),
                None => ("?", "Other", ""),
            };
            let _ = writeln!(w, "\n## {prefix} {title}\n");
            if !about.is_empty() {
                let _ = writeln!(w, "{}\n", md(about));
            }
            let _ = writeln!(
                w,
                "| id | level | roles | versions | summary | spec section |"
            );
            let _ = writeln!(w, "|---|---|---|---|---|---|");
            for r in reqs {
                let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
                let summary = if r.blackbox {
                    md(&r.summary)
                } else {
                    format!("{} *(not black-box)*", md(&r.summary))
                };
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} | `{}` § {} |",
                    r.id,
                    r.level,
                    roles.join(", "),
                    versions_label(&r.versions),
                    summary,
                    r.spec,
                    md(&r.section)
                );
            }
            let annotated: Vec<&&Requirement> = reqs
                .iter()
                .filter(|r| r.quote.is_some() || r.note.is_some() || r.why.is_some())
                .collect();
            if !annotated.is_empty() {
                let _ = writeln!(w, "\n### {prefix} quotes and notes\n");
                for r in annotated {
                    let _ = writeln!(w, "- **{}**", r.id);
                    if let Some(q) = &r.quote {
                        let _ = writeln!(w, "  - Spec: “{}”", md(q));
                    }
                    if let Some(why) = &r.why {
                        let _ = writeln!(w, "  - Not black-box: {}", md(why));
                    }
                    if let Some(n) = &r.note {
                        let _ = writeln!(w, "  - Note: {}", md(n));
                    }
                }
            }
        }
        out
    }
}

impl<'a> IntoIterator for &'a Catalogue {
    type Item = &'a Requirement;
    type IntoIter = std::slice::Iter<'a, Requirement>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The rules each file must keep; one message per broken rule, naming file and id.
fn check_file(file: &str, reqs: &[Requirement]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |id: &str, msg: String| problems.push(format!("{file}: {id}: {msg}"));
    if reqs.is_empty() {
        say("-", "declares no requirement".into());
    }
    for pair in reqs.windows(2) {
        if pair[0].id >= pair[1].id {
            say(
                &pair[1].id,
                format!(
                    "out of order: it follows {} (sort records by id)",
                    pair[0].id
                ),
            );
        }
    }
    for r in reqs {
        let id = r.id.as_str();
        if !well_formed_id(id) {
            say(id, "the id is not PREFIX-NNN (e.g. CDE-CTX-003)".into());
        } else if id.ends_with("-000") {
            say(id, "numbers start at 001".into());
        }
        match r.area() {
            None => say(id, format!("unknown prefix {}", r.prefix())),
            Some(a) if a.file != file => {
                say(id, format!("prefix {} belongs in {}", a.prefix, a.file))
            }
            Some(_) => {}
        }
        if r.roles.is_empty() {
            say(id, "no roles".into());
        }
        if r.roles.iter().collect::<HashSet<_>>().len() != r.roles.len() {
            say(id, "a role is listed twice".into());
        }
        if !DOCUMENTS.contains(&r.spec.as_str()) {
            say(id, format!("unknown spec document {:?}", r.spec));
        }
        if r.section.trim().is_empty() {
            say(id, "empty section".into());
        }
        if r.versions.is_empty() {
            say(id, "no versions".into());
        }
        let mut last = None;
        for v in &r.versions {
            match v.parse::<SpecVersion>() {
                Ok(parsed) if parsed.as_str() == v => {
                    if last.is_some_and(|l| l >= parsed) {
                        say(id, "versions must be listed once each, oldest first".into());
                    }
                    last = Some(parsed);
                }
                _ => say(
                    id,
                    format!("unknown version {v:?} (0.3.0, 0.4.1, 0.5.1, 0.6.0-draft)"),
                ),
            }
        }
        if matches!(r.prefix(), "CDE-LNK" | "CDE-CX") && r.versions.iter().any(|v| v == "0.3.0") {
            say(id, "links and custom events do not exist in 0.3.0".into());
        }
        if !one_line(&r.summary) {
            say(id, "the summary must be one non-empty line".into());
        }
        if let Some(q) = &r.quote {
            if !one_line(q) {
                say(id, "the quote must be one non-empty line".into());
            }
            if q.chars().count() > MAX_QUOTE {
                say(
                    id,
                    format!("the quote is longer than {MAX_QUOTE} characters"),
                );
            }
        }
        match (r.blackbox, &r.why) {
            (false, None) => say(id, "blackbox = false needs a `why`".into()),
            (false, Some(w)) if w.trim().is_empty() => say(id, "empty `why`".into()),
            (true, Some(_)) => say(id, "`why` is only for blackbox = false".into()),
            _ => {}
        }
        if r.note.as_deref().is_some_and(|n| n.trim().is_empty()) {
            say(id, "empty note".into());
        }
    }
    problems
}

/// `^[A-Z]+(-[A-Z]+)*-\d{3}$`
fn well_formed_id(id: &str) -> bool {
    let Some((prefix, number)) = id.rsplit_once('-') else {
        return false;
    };
    number.len() == 3
        && number.bytes().all(|b| b.is_ascii_digit())
        && prefix
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_uppercase()))
}

fn one_line(s: &str) -> bool {
    !s.trim().is_empty() && !s.contains('\n') && s.trim() == s
}

/// `all`, `0.4.1+`, or the list.
fn versions_label(versions: &[String]) -> String {
    let all: Vec<&str> = SpecVersion::ALL.iter().map(|v| v.as_str()).collect();
    let given: Vec<&str> = versions.iter().map(String::as_str).collect();
    if given == all {
        "all".to_owned()
    } else if !given.is_empty() && given.len() > 1 && all.ends_with(&given) {
        format!("{}+", given[0])
    } else {
        given.join(", ")
    }
}

/// Escapes text for a Markdown table cell or list item.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '*' | '_' | '`' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// GitHub's heading anchor: lower case, spaces to `-`, punctuation other than `-` dropped.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn requirements_embedded_catalogue_is_valid() {
        if let Err(e) = Catalogue::load(SOURCES) {
            panic!("{e}");
        }
        let c = Catalogue::embedded();
        assert!(c.len() >= 80, "only {} requirements", c.len());
        for area in AREAS {
            assert!(
                c.iter().any(|r| r.prefix() == area.prefix),
                "area {} has no requirement",
                area.prefix
            );
        }
    }

    #[test]
    fn requirements_load_rejects_broken_records() {
        let broken = r#"
[[requirement]]
id = "CDE-CTX-002"
level = "MUST"
roles = ["event"]
spec = "cdevents/spec.md"
section = "s"
versions = ["0.4.1", "0.3.0"]
summary = "b"
blackbox = false

[[requirement]]
id = "CDE-CTX-001"
level = "SHOULD"
roles = ["event", "event"]
spec = "nowhere.md"
section = "s"
versions = ["main"]
summary = "a"
quote = "q"
why = "w"

[[requirement]]
id = "cde-ctx-9"
level = "MAY"
roles = ["sender"]
spec = "cdevents/spec.md"
section = "s"
versions = ["0.3.0"]
summary = ""
"#;
        let Err(CatalogueError::Invalid(problems)) = Catalogue::load(&[("event.toml", broken)])
        else {
            panic!("a broken catalogue loaded");
        };
        let all = problems.join("\n");
        for expected in [
            "CDE-CTX-001: out of order",
            "versions must be listed once each, oldest first",
            "blackbox = false needs a `why`",
            "a role is listed twice",
            "unknown spec document",
            "unknown version \"main\"",
            "`why` is only for blackbox = false",
            "cde-ctx-9: the id is not PREFIX-NNN",
            "the summary must be one non-empty line",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }

        let dup = SOURCES[1].1;
        let Err(CatalogueError::Invalid(problems)) =
            Catalogue::load(&[("binding.toml", dup), ("binding.toml", dup)])
        else {
            panic!("duplicate ids loaded");
        };
        assert!(problems
            .iter()
            .any(|p| p.contains("declared more than once")));

        let misplaced = SOURCES[1].1;
        let Err(CatalogueError::Invalid(problems)) = Catalogue::load(&[("event.toml", misplaced)])
        else {
            panic!("a record in the wrong file loaded");
        };
        assert!(problems
            .iter()
            .any(|p| p.contains("belongs in binding.toml")));

        let unknown_field = "[[requirement]]\nid = \"WH-001\"\nlevl = \"MUST\"\n";
        assert!(matches!(
            Catalogue::load(&[("webhook.toml", unknown_field)]),
            Err(CatalogueError::Parse { .. })
        ));
    }

    #[test]
    fn requirements_ids_are_well_formed() {
        assert!(well_formed_id("CDE-CTX-003"));
        assert!(well_formed_id("WH-001"));
        assert!(well_formed_id("CE-HTTP-019"));
        assert!(!well_formed_id("CDE-CTX-3"));
        assert!(!well_formed_id("CDE-CTX-0003"));
        assert!(!well_formed_id("cde-CTX-003"));
        assert!(!well_formed_id("CDE--003"));
        assert!(!well_formed_id("-003"));
        assert!(!well_formed_id("003"));
    }

    #[test]
    fn requirements_select_by_prefix_level_role_version() {
        let c = Catalogue::embedded();
        let ctx = c.select(&Filter {
            ids: vec!["cde-ctx".into()],
            ..Filter::default()
        });
        assert!(!ctx.is_empty());
        assert!(ctx.iter().all(|r| r.id.starts_with("CDE-CTX-")));

        let two = c.select(&Filter {
            ids: vec!["LIS-".into(), "REL".into()],
            ..Filter::default()
        });
        assert_eq!(
            two.len(),
            c.iter()
                .filter(|r| r.id.starts_with("LIS-") || r.id.starts_with("REL-"))
                .count()
        );

        let f = Filter {
            level: Some(Level::Should),
            role: Some(Role::Listener),
            version: Some(SpecVersion::V0_3_0),
            ..Filter::default()
        };
        let picked = c.select(&f);
        assert!(!picked.is_empty());
        for r in &picked {
            assert_eq!(r.level, Level::Should);
            assert!(r.has_role(Role::Listener));
            assert!(r.applies_to(SpecVersion::V0_3_0));
        }
        assert_eq!(
            picked.len(),
            c.iter().filter(|r| f.matches(r)).count(),
            "select keeps exactly the matching records"
        );
        assert!(c
            .select(&Filter {
                version: Some(SpecVersion::V0_3_0),
                ..Filter::default()
            })
            .iter()
            .all(|r| !r.id.starts_with("CDE-LNK-")));
        assert!(c
            .select(&Filter {
                ids: vec!["NOPE".into()],
                ..Filter::default()
            })
            .is_empty());
    }

    #[test]
    fn requirements_get_and_order() {
        let c = Catalogue::embedded();
        let r = c.get("CDE-CTX-001").expect("CDE-CTX-001");
        assert_eq!(r.prefix(), "CDE-CTX");
        assert_eq!(r.area().map(|a| a.file), Some("event.toml"));
        assert!(c.get("CDE-CTX-000").is_none());
        // Area order, then id order.
        let ranks: Vec<usize> = c
            .iter()
            .map(|r| AREAS.iter().position(|a| a.prefix == r.prefix()).unwrap())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(c.iter().next().map(|r| r.prefix()), Some("CDE-SCH"));
    }

    #[test]
    fn requirements_json_is_an_array_of_records() {
        let c = Catalogue::embedded().select(&Filter {
            ids: vec!["WH-002".into(), "CDE-CE-002".into()],
            ..Filter::default()
        });
        let v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), 2);
        let ce = &arr[0];
        assert_eq!(ce["id"], "CDE-CE-002");
        assert_eq!(ce["level"], "MUST");
        assert_eq!(ce["roles"], serde_json::json!(["event"]));
        assert_eq!(ce["spec"], "cdevents/cloudevents-binding.md");
        assert!(ce["section"].is_string());
        assert_eq!(ce["versions"].as_array().unwrap().len(), 4);
        assert!(ce["summary"].is_string());
        assert_eq!(ce["blackbox"], true);
        assert!(ce.get("why").is_none());
        let wh = &arr[1];
        assert_eq!(wh["blackbox"], false);
        assert!(wh["why"].is_string());
        // Round trip.
        let back: Vec<Requirement> = serde_json::from_value(v).unwrap();
        assert_eq!(back, c.iter().cloned().collect::<Vec<_>>());
    }

    #[test]
    fn requirements_markdown_has_a_table_per_area() {
        let c = Catalogue::embedded();
        let md = c.to_markdown();
        for area in AREAS {
            assert!(md.contains(&format!("\n## {} {}\n", area.prefix, area.title)));
        }
        for r in c {
            assert!(
                md.contains(&format!("\n| {} | {} |", r.id, r.level)),
                "{}",
                r.id
            );
        }
        assert!(md.contains("dev.cdevents.&lt;subject&gt;"));
        let sub = c.select(&Filter {
            ids: vec!["SND".into()],
            ..Filter::default()
        });
        let md = sub.to_markdown();
        assert!(md.contains("## SND Sender behaviour"));
        assert!(!md.contains("## LIS"));
    }

    #[test]
    fn requirements_version_labels() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            versions_label(&s(&["0.3.0", "0.4.1", "0.5.1", "0.6.0-draft"])),
            "all"
        );
        assert_eq!(
            versions_label(&s(&["0.4.1", "0.5.1", "0.6.0-draft"])),
            "0.4.1+"
        );
        assert_eq!(versions_label(&s(&["0.6.0-draft"])), "0.6.0-draft");
        assert_eq!(versions_label(&s(&["0.3.0", "0.4.1"])), "0.3.0, 0.4.1");
    }

    /// Markdown as plain text, for matching quotes: links reduced to their text, emphasis and
    /// code marks dropped, whitespace collapsed.
    fn plain(s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut text = String::with_capacity(s.len());
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '[' {
                if let Some(j) = (i + 1..chars.len()).find(|&j| chars[j] == ']') {
                    let close = match chars.get(j + 1) {
                        Some('(') => Some(')'),
                        Some('[') => Some(']'),
                        _ => None,
                    };
                    if let Some(k) =
                        close.and_then(|c| (j + 2..chars.len()).find(|&k| chars[k] == c))
                    {
                        text.extend(&chars[i + 1..j]);
                        i = k + 1;
                        continue;
                    }
                }
            }
            text.push(chars[i]);
            i += 1;
        }
        let kept: String = text
            .chars()
            .filter(|c| !matches!(c, '`' | '*' | '_' | '\\'))
            .collect();
        kept.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The files a record's `spec` names, one per version for the CDEvents documents.
    fn documents(cdevents: &Path, cloudevents: &Path, r: &Requirement) -> Vec<PathBuf> {
        if let Some(doc) = r.spec.strip_prefix("cloudevents/") {
            return vec![cloudevents.join(doc)];
        }
        let doc = r.spec.strip_prefix("cdevents/").unwrap_or(&r.spec);
        r.versions
            .iter()
            .filter_map(|v| v.parse::<SpecVersion>().ok())
            .map(|v| {
                let dir = cdevents.join(v.spec_dir_name());
                if doc.starts_with("custom/") || doc == "schemas" {
                    dir.join(doc)
                } else {
                    dir.join("docs").join(doc)
                }
            })
            .collect()
    }

    #[test]
    fn requirements_quotes_are_exact_excerpts_of_the_spec() {
        let Some(cdevents) = cdevents_schemas::official::spec_tree_or_skip("requirements_quotes")
        else {
            return;
        };
        let cloudevents = cdevents
            .parent()
            .map(|p| p.join("cloudevents-spec"))
            .unwrap_or_default();
        let mut problems = Vec::new();
        let mut texts: HashMap<PathBuf, String> = HashMap::new();
        for r in Catalogue::embedded() {
            for path in documents(&cdevents, &cloudevents, r) {
                if !path.exists() {
                    problems.push(format!("{}: {} does not exist", r.id, path.display()));
                    continue;
                }
                let Some(q) = &r.quote else { continue };
                let text = texts
                    .entry(path.clone())
                    .or_insert_with(|| plain(&std::fs::read_to_string(&path).unwrap_or_default()));
                if !text.contains(&plain(q)) {
                    problems.push(format!("{}: quote not found in {}", r.id, path.display()));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn requirements_plain_text_of_markdown() {
        assert_eq!(
            plain("The [CloudEvents `id`][ce-id] MUST be\n  set to [`id`](spec.md#id)."),
            "The CloudEvents id MUST be set to id."
        );
        assert_eq!(plain("letters [a-z] or"), "letters [a-z] or");
    }
}
