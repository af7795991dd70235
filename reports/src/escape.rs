//! Escaping and capping of untrusted text, shared by the writers.
//!
//! Everything a target sends (headers, bodies, event fields, error text) ends up in reports that
//! people open in browsers and that GitHub renders. These functions are the only way writers put
//! such text into HTML, SVG, XML or Markdown.

/// Escapes `s` for HTML and XML text *and* for double- or single-quoted attribute values:
/// `& < > " '` become entities, and control characters other than tab, newline and carriage
/// return become visible `\xNN` escapes (they are invalid in XML and confusing in HTML).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unsafe_control(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `s` for inline Markdown as GitHub renders it (step summaries, PR comments), where
/// HTML is also live: `& < >` become entities, and Markdown punctuation (`| \` * _ [ ] ~ \`,
/// plus `#` issue references, `@` mentions and `$` math) becomes numeric character references,
/// so the text neither formats, nor breaks a table, nor pings anyone; line breaks become
/// spaces. Safe in table cells, in running text and in the text of HTML blocks such as
/// `<summary>`; not in attribute values (use [`html`]).
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '~' | '\\' | '#' | '@' | '$' => {
                out.push_str(&format!("&#{};", c as u32));
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_unsafe_control(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Makes `s` safe as XML 1.0 character data (before the XML writer escapes it): characters
/// XML forbids (C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF) become
/// visible `\xNN` escapes instead of vanishing.
pub fn xml_chars(s: &str) -> String {
    if !s.chars().any(is_xml_forbidden) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_xml_forbidden(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes at a character boundary, saying how much was left out.
pub fn cap(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes not shown]", &s[..end], s.len() - end).into()
}

/// `s` on one line, cut to `max` bytes: for headings and table cells.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    cap(&flat, max).into_owned()
}

fn is_unsafe_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

fn is_xml_forbidden(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

fn push_visible(out: &mut String, c: char) {
    let n = c as u32;
    if n <= 0xff {
        out.push_str(&format!("\\x{n:02X}"));
    } else {
        out.push_str(&format!("\\u{{{n:X}}}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_text_and_attributes() {
        assert_eq!(
            html(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(html("a\u{1b}[31m\u{0}\u{7f}\n"), "a\\x1B[31m\\x00\\x7F\n");
    }

    #[test]
    fn markdown_neutralizes_formatting_and_html() {
        let s = markdown("a|b `c` *d* <img src=x onerror=alert(1)> @team #1\nnext");
        assert!(!s.contains('|') && !s.contains('`') && !s.contains('<') && !s.contains('@'));
        assert!(!s.contains('\n'));
        assert!(s.contains("onerror="), "text stays readable: {s}");
        assert!(s.starts_with("a&#124;b &#96;c&#96;"));
    }

    #[test]
    fn xml_chars_keeps_valid_text() {
        assert_eq!(xml_chars("a\tb\n"), "a\tb\n");
        assert_eq!(xml_chars("a\u{0}\u{1b}\u{ffff}"), "a\\x00\\x1B\\u{FFFF}");
    }

    #[test]
    fn cap_cuts_at_char_boundary() {
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(cap("héllo", 2), "h… [5 more bytes not shown]");
        assert_eq!(one_line("a\nb", 10), "a b");
    }
}
