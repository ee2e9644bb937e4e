//! The whole pipeline on one capture: frames, connections, protocol parsers,
//! ledger, findings, and every report format rendered into memory.
#![no_main]

use connreuse::ledger::store::Builder;
use connreuse::report::{html, json, table};
use connreuse::{analyze, findings, ledger::Ledger};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let result = analyze::reader(
        "fuzz.pcap".to_string(),
        Box::new(Cursor::new(data.to_vec())),
        &Default::default(),
    );
    let mut ledger = Ledger::new(vec![(result.info, result.connections)]);
    let found = findings::diagnose(&ledger);
    ledger.set_findings(found);
    let _ = ledger.overall();
    let mut out = Vec::new();
    json::render(&ledger, &mut out, false).expect("JSON into memory");
    serde_json::from_slice::<serde_json::Value>(&out).expect("the JSON report parses");
    // The records kept as the JSON report's text, written by
    // `ledger::compact` on a second thread, give the same document.
    let text = analyze::reader_on(
        "fuzz.pcap".to_string(),
        Box::new(Cursor::new(data.to_vec())),
        &Default::default(),
        analyze::Keep::JsonText,
        analyze::Threads::Helpers,
    );
    let mut as_text = Ledger::new(vec![(text.info, text.connections)]);
    let found = findings::diagnose(&as_text);
    as_text.set_findings(found);
    let mut other = Vec::new();
    json::render(&as_text, &mut other, false).expect("JSON into memory");
    assert!(out == other, "JSON from records kept as text differs");
    drop(as_text);
    // Digests sorted in runs of two in a temporary file, and grouped by
    // server in runs of two, give the same document.
    let mut runs = Builder::new(Arc::from("fuzz.pcap"), true).digests_in_memory(2);
    for c in ledger.records() {
        runs.push(c.expect("records read back"));
    }
    let info = ledger.captures.first().cloned().unwrap_or_default();
    let mut in_runs = Ledger::with_digests_in_memory(vec![(info, runs.finish())], 2);
    let found = findings::diagnose(&in_runs);
    in_runs.set_findings(found);
    other.clear();
    json::render(&in_runs, &mut other, false).expect("JSON into memory");
    assert!(out == other, "JSON from digests in runs differs");
    drop(in_runs);
    out.clear();
    json::render(&ledger, &mut out, true).expect("JSON into memory");
    out.clear();
    html::write_html(&ledger, &mut out).expect("HTML into memory");
    out.clear();
    let style = table::Style {
        colour: true,
        connections: true,
    };
    table::render(&ledger, &mut out, style).expect("table into memory");
});
