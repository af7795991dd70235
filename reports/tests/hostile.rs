//! Hostile data through every field and header: `<script>`, attribute breakouts, `]]>`, pipes,
//! backticks, control characters, invalid UTF-8. No writer may let it become markup.

mod common;

use cdevents_reports as reports;

/// Elements and attributes the HTML writer itself produces; anything else came from data.
const HTML_TAGS: &[&str] = &[
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4",
    "div", "dl", "dt", "dd", "code", "section", "span", "ul", "li", "table", "thead", "tbody",
    "tr", "th", "td", "details", "summary", "pre", "button", "a", "p", "footer", "script", "svg",
    "g", "line", "text", "circle", "rect", "path", "defs", "marker", "b",
];
const HTML_ATTRS: &[&str] = &[
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "class",
    "id",
    "style",
    "open",
    "type",
    "data-filter",
    "data-status",
    "href",
    "xmlns",
    "viewBox",
    "width",
    "height",
    "role",
    "aria-label",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "d",
    "text-anchor",
    "transform",
    "marker-end",
    "refX",
    "refY",
    "markerWidth",
    "markerHeight",
    "orient",
    "font-weight",
];

/// Every tag of `html` outside `<style>` and `<script>` content, as (name, attribute names).
fn tags(html: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').expect("every tag closes");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('/') {
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        // Attribute names: words followed by '=' outside quotes.
        let mut attrs = Vec::new();
        let mut in_quote = false;
        let mut word = String::new();
        for c in tag[name.len()..].chars() {
            match c {
                '"' => {
                    in_quote = !in_quote;
                    word.clear();
                }
                '=' if !in_quote => attrs.push(std::mem::take(&mut word)),
                c if !in_quote && (c.is_alphanumeric() || c == '-') => word.push(c),
                _ if !in_quote => word.clear(),
                _ => {}
            }
        }
        for raw in ["style", "script"] {
            if name == raw {
                let close = format!("</{raw}>");
                let end = rest.find(&close).expect("closed");
                rest = &rest[end..];
            }
        }
        out.push((name, attrs));
    }
    out
}

#[test]
fn html_contains_no_markup_from_data() {
    let run = common::hostile_run();
    let html = reports::to_html(&run);
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("<img"), "no injected element");
    assert!(!html.contains("]]>"));
    for (name, attrs) in tags(&html) {
        assert!(
            HTML_TAGS.contains(&name.as_str()),
            "unexpected element <{name}>"
        );
        for a in attrs {
            assert!(
                HTML_ATTRS.contains(&a.as_str()),
                "unexpected attribute {a} on <{name}>"
            );
            assert!(!a.starts_with("on"), "event handler {a} on <{name}>");
        }
    }
    for c in ['\u{0}', '\u{1b}', '\u{7}', '\u{7f}', '\u{fffe}'] {
        assert!(!html.contains(c), "raw control character {c:?}");
    }
    // The data is shown, escaped, not dropped.
    assert!(html.contains(
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
    ));
    assert!(html.contains("\\x1B[31m"));
    assert!(
        html.contains('\u{fffd}'),
        "invalid UTF-8 shown as replacement characters"
    );
    assert!(html.contains(r#"<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; script-src &#39;unsafe-inline&#39;; img-src data:;"#));
}

#[test]
fn html_loads_nothing_from_the_network() {
    let html = reports::to_html(&common::representative_run());
    for (name, attrs) in tags(&html) {
        assert!(
            !attrs.iter().any(|a| a == "src"),
            "<{name}> has a src attribute"
        );
    }
    // Only in-page anchors.
    for href in html.split("href=\"").skip(1) {
        assert!(
            href.starts_with('#'),
            "link out of the page: {}",
            &href[..40.min(href.len())]
        );
    }
    assert!(!html.contains("url(http") && !html.contains("@import"));
}

#[test]
fn markdown_escapes_everything() {
    let run = common::hostile_run();
    let md = reports::to_markdown(&run);
    for raw in ["<script", "<img", "```", "]]>"] {
        assert!(!md.contains(raw), "raw {raw:?} in markdown");
    }
    // Outside <pre> blocks (where GitHub formats nothing), no Markdown syntax from data.
    let mut outside = String::new();
    for (i, part) in md.split("<pre>").enumerate() {
        outside.push_str(if i == 0 {
            part
        } else {
            part.split_once("</pre>").unwrap().1
        });
    }
    for raw in ["@here", "$x$", "*b*", "_i_", "[l]", "|a|b|"] {
        assert!(!outside.contains(raw), "raw {raw:?} in markdown");
    }
    for c in ['\u{0}', '\u{1b}', '\u{7}', '\u{7f}', '\u{fffe}'] {
        assert!(!md.contains(c), "raw control character {c:?}");
    }
    assert!(
        !md.contains('`'),
        "no backtick at all: none of ours, none of theirs"
    );
    // Every table keeps its column count: no pipe from data splits a cell.
    let mut columns = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = line.matches('|').count();
            assert_eq!(*columns.get_or_insert(n), n, "table row broken: {line}");
        } else {
            columns = None;
        }
    }
    // The only HTML is ours.
    for (name, _) in tags(&md) {
        assert!(
            ["details", "summary", "b", "br", "pre"].contains(&name.as_str()),
            "unexpected <{name}> in markdown"
        );
    }
    assert!(md.contains("&lt;script&gt;alert&#40;1&#41;") || md.contains("&lt;script&gt;alert(1)"));
}

#[test]
fn junit_stays_well_formed_and_keeps_the_text() {
    let run = common::hostile_run();
    let xml = reports::to_junit(&run).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit");
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(names.len(), run.cases.len());
    assert!(names[0]
        .starts_with("<script>alert(1)</script>\"><img src=x onerror=alert(1)>]]>|a|b|```js"));
    assert!(names[0].contains("\\x00\\x1B[31m\\x07"), "{}", names[0]);
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure.text().unwrap().contains("]]>"));
}

#[test]
fn badge_stays_well_formed() {
    let run = common::hostile_run();
    let svg = reports::badge_svg(&run);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let title = doc
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(title.starts_with("CDEvents <script>alert(1"), "{title}");
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
}

#[test]
fn html_svg_parts_are_well_formed_xml() {
    // The inline SVG of the hostile run parses as XML on its own.
    let html = reports::to_html(&common::hostile_run());
    let mut found = 0;
    for chunk in html.split("<svg ").skip(1) {
        let end = chunk.find("</svg>").unwrap();
        let svg = format!("<svg {}</svg>", &chunk[..end]);
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        found += 1;
    }
    assert_eq!(found, 3, "timeline, latency bars, link graph");
}

#[test]
fn json_and_jsonl_carry_it_unchanged() {
    let run = common::hostile_run();
    let back: reports::JsonReport = serde_json::from_str(&reports::to_json(&run)).unwrap();
    assert_eq!(reports::Run::from(back), run);
}
