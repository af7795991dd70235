//! One JSON document per run: `{format_version, header, summary, results, observations}`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::model::{CaseResult, Observation, Run, RunHeader, Summary, FORMAT_VERSION};
use crate::writers::text::write_file;

/// The JSON report: the same records as the JSON-lines file, gathered in one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    /// The results format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// What ran.
    pub header: RunHeader,
    /// Counts, verdict and grades.
    pub summary: Summary,
    /// Every case, in the order produced.
    pub results: Vec<CaseResult>,
    /// Run-wide observations.
    pub observations: Vec<Observation>,
}

impl From<&Run> for JsonReport {
    fn from(run: &Run) -> Self {
        JsonReport {
            format_version: FORMAT_VERSION,
            header: run.header.clone(),
            summary: run.summary.clone(),
            results: run.cases.clone(),
            observations: run
                .observations
                .iter()
                .map(Observation::normalized)
                .collect(),
        }
    }
}

impl From<JsonReport> for Run {
    fn from(r: JsonReport) -> Self {
        Run {
            header: r.header,
            cases: r.results,
            observations: r.observations,
            summary: r.summary,
        }
    }
}

/// The report as a JSON value.
pub fn to_json_value(run: &Run) -> serde_json::Value {
    serde_json::to_value(JsonReport::from(run)).expect("the report model always serializes")
}

/// The report as pretty-printed JSON, ending with a newline.
pub fn to_json(run: &Run) -> String {
    let mut s = serde_json::to_string_pretty(&JsonReport::from(run))
        .expect("the report model always serializes");
    s.push('\n');
    s
}

/// Writes the JSON report to `path`.
pub fn write_json(run: &Run, path: impl AsRef<Path>) -> Result<(), ReportError> {
    write_file(path.as_ref(), to_json(run).as_bytes())
}
