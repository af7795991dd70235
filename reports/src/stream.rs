//! The JSON-lines results file: written one record at a time, read back into a [`Run`].
//!
//! Each line is one [`Record`]. The writer flushes after every record, so a run that is killed
//! keeps every case it finished; the reader then reports it as interrupted.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::ReportError;
use crate::model::{CaseResult, Observation, Record, Run, RunHeader, Summary, FORMAT_VERSION};

/// [`Record`] by reference, so writing does not clone; serializes identically.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Header(&'a RunHeader),
    Case(&'a CaseResult),
    Observation(&'a Observation),
    Summary(&'a Summary),
}

/// Writes a results file record by record.
///
/// The header is written on creation; [`JsonlWriter::case`] and
/// [`JsonlWriter::observation`] append as results are produced; [`JsonlWriter::finish`]
/// writes the summary. Dropping the writer without finishing leaves an interrupted run, which
/// is what a reader should see if the process dies.
pub struct JsonlWriter<W: Write> {
    out: W,
    path: PathBuf,
    header: RunHeader,
    cases: Vec<CaseResult>,
}

impl JsonlWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the header line.
    pub fn create(path: impl AsRef<Path>, header: RunHeader) -> Result<Self, ReportError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
        }
        let file = File::create(path).map_err(|e| ReportError::io(path, e))?;
        Self::with_path(BufWriter::new(file), path, header)
    }
}

impl<W: Write> JsonlWriter<W> {
    /// Writes the header line to `out`.
    pub fn new(out: W, header: RunHeader) -> Result<Self, ReportError> {
        Self::with_path(out, Path::new("<output>"), header)
    }

    fn with_path(out: W, path: &Path, header: RunHeader) -> Result<Self, ReportError> {
        let mut w = JsonlWriter {
            out,
            path: path.to_owned(),
            header,
            cases: Vec::new(),
        };
        let header = w.header.clone();
        w.write(&RecordRef::Header(&header))?;
        Ok(w)
    }

    /// The header written first.
    pub fn header(&self) -> &RunHeader {
        &self.header
    }

    /// The cases written so far.
    pub fn cases(&self) -> &[CaseResult] {
        &self.cases
    }

    /// Appends one case result and flushes.
    pub fn case(&mut self, case: &CaseResult) -> Result<(), ReportError> {
        self.write(&RecordRef::Case(case))?;
        self.cases.push(case.clone());
        Ok(())
    }

    /// Appends one observation (normalized: bounded, no NaN) and flushes.
    pub fn observation(&mut self, observation: &Observation) -> Result<(), ReportError> {
        self.write(&RecordRef::Observation(&observation.normalized()))
    }

    /// The summary of what was written so far, for [`JsonlWriter::finish`].
    pub fn summary(&self, interrupted: bool) -> Summary {
        Summary::compute(&self.header, &self.cases, interrupted)
    }

    /// Writes the summary line, flushes, and gives the output back.
    pub fn finish(mut self, summary: &Summary) -> Result<W, ReportError> {
        self.write(&RecordRef::Summary(summary))?;
        Ok(self.out)
    }

    fn write(&mut self, record: &RecordRef<'_>) -> Result<(), ReportError> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .and_then(|()| self.out.flush())
            .map_err(|e| ReportError::io(&self.path, e))
    }
}

/// Reads a results file back into a [`Run`].
///
/// A file without a summary line is an interrupted run: its summary is computed from the
/// cases that were written, with `interrupted: true`. A last line cut short (the process died
/// mid-write) is dropped the same way. Any other bad line is an error naming the line, as is a
/// header of another [`FORMAT_VERSION`].
pub fn read_jsonl(path: impl AsRef<Path>) -> Result<Run, ReportError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| ReportError::io(path, e))?;
    read_jsonl_from(BufReader::new(file), path)
}

/// Reads results from any reader; `path` only names the source in errors.
pub fn read_jsonl_from(reader: impl BufRead, path: impl AsRef<Path>) -> Result<Run, ReportError> {
    let path = path.as_ref();
    let mut lines = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| ReportError::io(path, e))?;
        lines.push((i + 1, line));
    }
    // Blank lines carry nothing.
    lines.retain(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    let structure = |line: usize, what: &str| ReportError::Structure {
        path: path.to_owned(),
        line,
        what: what.to_owned(),
    };

    let Some((first_no, first)) = lines.first() else {
        return Err(ReportError::Empty {
            path: path.to_owned(),
        });
    };
    let header = read_header(path, *first_no, first)?;

    let mut cases = Vec::new();
    let mut observations = Vec::new();
    let mut summary = None;
    let last = lines.len() - 1;
    for (idx, (no, bytes)) in lines.iter().enumerate().skip(1) {
        if summary.is_some() {
            return Err(structure(*no, "record after the summary line"));
        }
        let record: Record = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            // A last line that is not complete JSON was cut by a crash: keep the rest. There
            // is no summary before it (checked above), so the run reads as interrupted.
            Err(e) if idx == last && (e.is_eof() || e.is_syntax()) => break,
            Err(source) => {
                return Err(ReportError::Json {
                    path: path.to_owned(),
                    line: *no,
                    source,
                })
            }
        };
        match record {
            Record::Header(_) => return Err(structure(*no, "a second header line")),
            Record::Case(c) => cases.push(c),
            Record::Observation(o) => observations.push(o),
            Record::Summary(s) => summary = Some(s),
        }
    }
    let summary = match summary {
        Some(s) => s,
        None => Summary::compute(&header, &cases, true),
    };
    Ok(Run {
        header,
        cases,
        observations,
        summary,
    })
}

/// Reads results from a string.
pub fn parse_jsonl(text: &str) -> Result<Run, ReportError> {
    read_jsonl_from(text.as_bytes(), "<input>")
}

fn read_header(path: &Path, line: usize, bytes: &[u8]) -> Result<RunHeader, ReportError> {
    let json_err = |source| ReportError::Json {
        path: path.to_owned(),
        line,
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_err)?;
    if value.get("record").and_then(|r| r.as_str()) != Some("header") {
        return Err(ReportError::Structure {
            path: path.to_owned(),
            line,
            what: "the first line is not a header record (is this a cdevents-conformance \
                   results file?)"
                .to_owned(),
        });
    }
    // Check the version before the shape, so a newer file says so instead of failing to parse.
    let found = value.get("format_version").and_then(|v| v.as_u64());
    if found != Some(u64::from(FORMAT_VERSION)) {
        return Err(ReportError::UnsupportedVersion {
            path: path.to_owned(),
            line,
            found: found.unwrap_or(0),
            supported: FORMAT_VERSION,
        });
    }
    match serde_json::from_value(value).map_err(json_err)? {
        Record::Header(h) => Ok(h),
        _ => unreachable!("tagged header"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Status, Suite};

    fn header() -> RunHeader {
        RunHeader::new(Suite::Validate, "0.1.0", "2025-01-01T00:00:00Z")
    }

    #[test]
    fn missing_summary_is_interrupted() {
        let mut w = JsonlWriter::new(Vec::new(), header()).unwrap();
        w.case(&CaseResult::new(
            "A-1/x",
            "A-1",
            Level::Must,
            Status::Passed,
            "ok",
        ))
        .unwrap();
        let text = String::from_utf8(w.out.clone()).unwrap();
        let run = parse_jsonl(&text).unwrap();
        assert!(run.summary.interrupted);
        assert_eq!(run.cases.len(), 1);
    }

    #[test]
    fn structure_errors_name_the_line() {
        let h = serde_json::to_string(&Record::Header(header())).unwrap();
        let s = serde_json::to_string(&Record::Summary(Summary::compute(&header(), &[], false)))
            .unwrap();
        let e = parse_jsonl(&format!("{h}\n{h}\n")).unwrap_err().to_string();
        assert_eq!(e, "<input>:2: a second header line");
        let e = parse_jsonl(&format!("{h}\n{s}\n{s}\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "<input>:3: record after the summary line");
        let e = parse_jsonl(&format!("{h}\n{{\"record\":\"nope\"}}\n{s}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("<input>:2: not a valid record"), "{e}");
        let e = parse_jsonl("{\"record\":\"case\"}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("first line is not a header"), "{e}");
        let e = parse_jsonl("\n\n").unwrap_err().to_string();
        assert_eq!(e, "<input>: empty results file (expected a header line)");
    }

    #[test]
    fn rejects_other_format_versions() {
        let line = r#"{"record":"header","format_version":2,"whatever":true}"#;
        let e = parse_jsonl(line).unwrap_err().to_string();
        assert_eq!(
            e,
            "<input>:1: results format version 2 is not supported \
             (this cdevents-conformance reads version 1)"
        );
    }
}
