//! The requirement ids the event checks report, in one place. Each is a record of the
//! catalogue (`suites/requirements/*.toml`), which gives its level, section and summary.

/// The event validates against the schema of its type and version (anything not more specific).
pub const SCHEMA: &str = "CDE-SCH-001";
/// The event is an object with `context` and `subject` objects.
pub const SCHEMA_SHAPE: &str = "CDE-SCH-002";
/// No members beyond those the schema names.
pub const SCHEMA_EXTRA: &str = "CDE-SCH-003";
/// `context.id` non-empty.
pub const ID: &str = "CDE-CTX-001";
/// `context.source` non-empty URI-reference.
pub const SOURCE: &str = "CDE-CTX-002";
/// `context.type` well-formed.
pub const TYPE_FORMAT: &str = "CDE-CTX-004";
/// `context.type` known for the version.
pub const TYPE_KNOWN: &str = "CDE-CTX-005";
/// The spec version is declared and known.
pub const VERSION_KNOWN: &str = "CDE-CTX-006";
/// The spec version sits in the attribute its release names.
pub const VERSION_ATTRIBUTE: &str = "CDE-CTX-007";
/// `context.timestamp` RFC 3339.
pub const TIMESTAMP: &str = "CDE-CTX-008";
/// `context.schemaUri` absolute URI.
pub const SCHEMA_URI_FORMAT: &str = "CDE-CTX-009";
/// `context.chainId` non-empty.
pub const CHAIN_ID: &str = "CDE-CTX-010";
/// `customData` object or string.
pub const CUSTOM_DATA_TYPE: &str = "CDE-CUS-001";
/// `customData` string is base64.
pub const CUSTOM_DATA: &str = "CDE-CUS-002";
/// `customData` encoded as its content type says.
pub const CUSTOM_DATA_ENCODING: &str = "CDE-CUS-003";
/// `customDataContentType` is a media type.
pub const CUSTOM_DATA_CONTENT_TYPE: &str = "CDE-CUS-004";
/// Custom event type shape.
pub const CUSTOM_TYPE: &str = "CDE-CX-001";
/// The event validates against the schema at its `schemaUri` (only with `--fetch-schema-uri`).
pub const SCHEMA_URI: &str = "CDE-CX-002";
/// Embedded links well-formed.
pub const LINKS: &str = "CDE-LNK-001";
/// Embedded links carry no `chainId`/`timestamp`.
pub const LINK_EMBEDDED_FIELDS: &str = "CDE-LNK-002";
/// Embedded PATH link.
pub const LINK_PATH: &str = "CDE-LNK-003";
/// Embedded END link.
pub const LINK_END: &str = "CDE-LNK-004";
/// Embedded RELATION link.
pub const LINK_RELATION: &str = "CDE-LNK-005";
/// Link tags are string to string.
pub const LINK_TAGS: &str = "CDE-LNK-006";
/// A domainId has all its segments.
pub const DOMAIN_ID: &str = "CDE-LNK-008";
/// A domainId type is governed.
pub const DOMAIN_ID_TYPE: &str = "CDE-LNK-009";
/// A domainId percent-encodes in upper case.
pub const DOMAIN_ID_ENCODING: &str = "CDE-LNK-010";
/// `context.source` absolute URI (SHOULD).
pub const SOURCE_ABSOLUTE: &str = "CDE-CTX-003";
/// `context.chainId` UUID (SHOULD).
pub const CHAIN_ID_UUID: &str = "CDE-CTX-011";
/// No two distinct events share source and id.
pub const UNIQUE_ID: &str = "CDE-CTX-012";
/// `subject.source` left out when it repeats `context.source` (SHOULD).
pub const SUBJECT_SOURCE_REPEATED: &str = "CDE-SUB-003";
/// `subject.id` non-empty.
pub const SUBJECT_ID: &str = "CDE-SUB-001";
/// `subject.source` non-empty URI-reference.
pub const SUBJECT_SOURCE: &str = "CDE-SUB-002";
/// `subject.content` per the schema.
pub const CONTENT: &str = "CDE-SUB-004";
/// `subject.type` of 0.3/0.4.
pub const SUBJECT_TYPE: &str = "CDE-SUB-005";

/// Required CloudEvents attributes present.
pub const CE_REQUIRED: &str = "CDE-CE-001";
/// CloudEvents specversion 1.0.
pub const CE_SPECVERSION: &str = "CDE-CE-002";
/// ce id = context.id.
pub const CE_ID: &str = "CDE-CE-003";
/// ce source = context.source.
pub const CE_SOURCE: &str = "CDE-CE-004";
/// ce type = context.type.
pub const CE_TYPE: &str = "CDE-CE-005";
/// ce subject = subject.id.
pub const CE_SUBJECT: &str = "CDE-CE-006";
/// ce time = context.timestamp.
pub const CE_TIME: &str = "CDE-CE-007";
/// Data declared application/json.
pub const CE_CONTENT_TYPE: &str = "CDE-CE-008";
/// ce source URI-reference.
pub const CE_SOURCE_FORMAT: &str = "CDE-CE-010";
/// ce time RFC 3339.
pub const CE_TIME_FORMAT: &str = "CDE-CE-011";
/// Attribute names lower-case letters and digits.
pub const CE_ATTRIBUTE_NAME: &str = "CDE-CE-013";
/// The data is the CDEvent as JSON.
pub const CE_DATA: &str = "CDE-CE-009";
/// `dataschema` absolute URI.
pub const CE_DATASCHEMA: &str = "CDE-CE-012";
/// Attribute names start with a letter, at most 20 characters (SHOULD).
pub const CE_ATTRIBUTE_NAME_SHAPE: &str = "CDE-CE-014";
/// No attribute named `data`.
pub const CE_NO_DATA_ATTRIBUTE: &str = "CDE-CE-015";
/// Attribute values are CloudEvents types.
pub const CE_ATTRIBUTE_VALUE: &str = "CDE-CE-017";
/// The `sequence` extension is a non-empty string.
pub const CE_SEQUENCE: &str = "CDE-CE-019";

/// Every id above, for the catalogue test.
pub const ALL: &[&str] = &[
    SCHEMA,
    SCHEMA_SHAPE,
    SCHEMA_EXTRA,
    ID,
    SOURCE,
    TYPE_FORMAT,
    TYPE_KNOWN,
    VERSION_KNOWN,
    VERSION_ATTRIBUTE,
    TIMESTAMP,
    SCHEMA_URI_FORMAT,
    CHAIN_ID,
    CUSTOM_DATA_TYPE,
    CUSTOM_DATA,
    CUSTOM_DATA_ENCODING,
    CUSTOM_DATA_CONTENT_TYPE,
    CUSTOM_TYPE,
    SCHEMA_URI,
    LINKS,
    LINK_EMBEDDED_FIELDS,
    LINK_PATH,
    LINK_END,
    LINK_RELATION,
    LINK_TAGS,
    DOMAIN_ID,
    DOMAIN_ID_TYPE,
    DOMAIN_ID_ENCODING,
    SOURCE_ABSOLUTE,
    CHAIN_ID_UUID,
    UNIQUE_ID,
    SUBJECT_SOURCE_REPEATED,
    SUBJECT_ID,
    SUBJECT_SOURCE,
    CONTENT,
    SUBJECT_TYPE,
    CE_REQUIRED,
    CE_SPECVERSION,
    CE_ID,
    CE_SOURCE,
    CE_TYPE,
    CE_SUBJECT,
    CE_TIME,
    CE_CONTENT_TYPE,
    CE_SOURCE_FORMAT,
    CE_TIME_FORMAT,
    CE_ATTRIBUTE_NAME,
    CE_DATA,
    CE_DATASCHEMA,
    CE_ATTRIBUTE_NAME_SHAPE,
    CE_NO_DATA_ATTRIBUTE,
    CE_ATTRIBUTE_VALUE,
    CE_SEQUENCE,
];

/// The most specific requirement a schema error names, by where it is and which keyword failed.
pub fn for_schema_error(pointer: &str, keyword: &str) -> &'static str {
    if keyword == "additionalProperties" {
        return SCHEMA_EXTRA;
    }
    let under = |prefix: &str| pointer == prefix || pointer.starts_with(&format!("{prefix}/"));
    match pointer {
        "/context" | "/subject" | "" => SCHEMA_SHAPE,
        "/context/id" => ID,
        "/context/source" => SOURCE,
        "/context/type" => TYPE_FORMAT,
        "/context/specversion" | "/context/version" => VERSION_KNOWN,
        "/context/timestamp" => TIMESTAMP,
        "/context/schemaUri" => SCHEMA_URI_FORMAT,
        "/context/chainId" => CHAIN_ID,
        "/subject/id" => SUBJECT_ID,
        "/subject/source" => SUBJECT_SOURCE,
        "/subject/type" => SUBJECT_TYPE,
        "/customData" => CUSTOM_DATA_TYPE,
        "/customDataContentType" => CUSTOM_DATA_CONTENT_TYPE,
        _ if under("/context/links") => LINKS,
        _ if under("/subject/content") => CONTENT,
        _ => SCHEMA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Catalogue;
    use cdevents_reports::Role;

    #[test]
    fn every_id_is_in_the_catalogue_for_events() {
        let cat = Catalogue::embedded();
        for id in ALL {
            let r = cat
                .get(id)
                .unwrap_or_else(|| panic!("{id} is not in the catalogue"));
            assert!(
                r.roles.contains(&Role::Event)
                    || r.roles.contains(&Role::Sender)
                    || r.roles.contains(&Role::Listener),
                "{id}: {:?}",
                r.roles
            );
        }
    }

    #[test]
    fn schema_errors_map_to_specific_ids() {
        assert_eq!(for_schema_error("/context/timestamp", "format"), TIMESTAMP);
        assert_eq!(for_schema_error("/context/links/0/from", "required"), LINKS);
        assert_eq!(
            for_schema_error("/subject/content/outcome", "enum"),
            CONTENT
        );
        assert_eq!(
            for_schema_error("/context", "additionalProperties"),
            SCHEMA_EXTRA
        );
        assert_eq!(for_schema_error("/context/idx", "x"), SCHEMA);
    }
}
