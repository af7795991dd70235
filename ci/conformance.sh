#!/usr/bin/env bash
# Runs one conformance suite and writes every report format: what the GitHub Action and the
# GitLab template run, and what a person runs locally to get the same result.
#
#   ci/conformance.sh SUITE [ARGS...]
#
# SUITE is listener, sender, relay (`test SUITE`) or validate; with no SUITE, the `suites`
# list of cdevents-conformance.toml is run in turn. ARGS go to the suite unchanged, e.g.
#   ci/conformance.sh listener --target http://127.0.0.1:8080/events
#   ci/conformance.sh sender --trigger './my-sender --to "$CDEVENTS_SINK_URL"'
#   ci/conformance.sh validate events/
#
# Environment (every suite option also has its own CDEVENTS_CONFORMANCE_* variable):
#   CDEVENTS_CONFORMANCE_BIN   the binary (default: cdevents-conformance on PATH)
#   CDEVENTS_CONFORMANCE_OUT   the report folder (default: conformance-report); per suite:
#                              OUT/SUITE/{results.jsonl,report.json,junit.xml,report.md,html/,badge.svg}
#   GITHUB_STEP_SUMMARY        when set, each suite's Markdown report is appended to it
#
# Exit code: the suite's (0 pass, 1 failing findings, 2 usage error, 3 could not judge); with
# several suites, the highest.
set -uo pipefail
bin="${CDEVENTS_CONFORMANCE_BIN:-cdevents-conformance}"
out="${CDEVENTS_CONFORMANCE_OUT:-conformance-report}"

if ! command -v "$bin" >/dev/null 2>&1; then
  echo "error: $bin not found: run ci/install.sh, or set CDEVENTS_CONFORMANCE_BIN" >&2
  exit 2
fi

run_suite() {
  local suite="$1"
  shift
  local dir="$out/$suite"
  mkdir -p "$dir" || return 2
  local reports=(--results "$dir/results.jsonl" --report-json "$dir/report.json"
    --report-junit "$dir/junit.xml" --report-md "$dir/report.md"
    --report-html "$dir/html" --badge "$dir/badge.svg")
  local code
  case "$suite" in
    listener | sender | relay)
      "$bin" test "$suite" "${reports[@]}" "$@"
      code=$?
      ;;
    validate)
      # validate prints findings, not reports: keep its JSON lines beside the others.
      "$bin" validate --format json "$@" >"$dir/findings.ndjson"
      code=$?
      printf '## CDEvents conformance: validate, exit %s\n\nFindings: `%s`\n' "$code" "$dir/findings.ndjson" >"$dir/report.md"
      ;;
    *)
      echo "error: unknown suite \`$suite\` (expected listener, sender, relay or validate)" >&2
      return 2
      ;;
  esac
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$dir/report.md" ]; then
    cat "$dir/report.md" >>"$GITHUB_STEP_SUMMARY"
    echo >>"$GITHUB_STEP_SUMMARY"
  fi
  echo "$suite: exit $code, reports in $dir" >&2
  return "$code"
}

if [ $# -gt 0 ]; then
  suite="$1"
  shift
  run_suite "$suite" "$@"
  exit $?
fi

suites="$("$bin" config --suites)" || exit 2
if [ -z "$suites" ]; then
  echo "error: no SUITE given and no \`suites\` in cdevents-conformance.toml" >&2
  exit 2
fi
worst=0
for s in $suites; do
  run_suite "$s"
  code=$?
  [ "$code" -gt "$worst" ] && worst=$code
done
exit "$worst"
