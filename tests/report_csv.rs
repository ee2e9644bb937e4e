//! CSV export over the real-client captures: the four files parse back with
//! the csv crate and every row agrees, cell by cell, with the JSON report of
//! the same ledger (same rows, same figures, every JSON field present);
//! connection and request counts also agree with tshark's figures in
//! testdata/expected/NAME.json (made by testdata/expected.sh).

use connreuse::cli::Config;
use connreuse::ledger::{Finding, FindingKind, Ledger};
use connreuse::report;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn capture(name: &str) -> PathBuf {
    root().join("testdata/captures").join(name)
}

fn ledger(paths: &[PathBuf]) -> Ledger {
    let mut config = Config::new(paths.to_vec());
    config.format = connreuse::cli::OutputFormat::Csv;
    let outcome = connreuse::run(&config, None);
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    outcome.ledger
}

/// The JSON report, as `--format json` writes it.
fn json(ledger: &Ledger) -> Value {
    let mut out = Vec::new();
    report::json::render(ledger, &mut out, false).expect("rendered");
    serde_json::from_slice(&out).expect("JSON")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connreuse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

type Rows = Vec<HashMap<String, String>>;

/// Reads a CSV file back into rows keyed by header, checking the header is
/// unique and every row has every column.
fn read(path: &Path) -> (Vec<String>, Rows) {
    let mut r = csv::Reader::from_path(path).expect("CSV opens");
    let header: Vec<String> = r
        .headers()
        .expect("header row")
        .iter()
        .map(str::to_string)
        .collect();
    let mut seen = header.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        header.len(),
        "{}: duplicate columns",
        path.display()
    );
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("record parses");
            assert_eq!(rec.len(), header.len());
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}

/// A JSON object's fields, nested objects flattened to `outer_inner`.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    let Some(obj) = v.as_object() else {
        out.insert(prefix.to_string(), v.clone());
        return;
    };
    for (k, v) in obj {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}_{k}")
        };
        // {"ticket": n} is a value and evidence a map, not nested records.
        if v.is_object() && name != "tls_session_ticket" && name != "evidence" {
            flatten(&name, v, out);
        } else {
            out.insert(name, v.clone());
        }
    }
}

/// What the CSV writes for text from a capture (docs/REPORTS.md).
fn defused(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a cell says what a JSON value says.
fn agrees(cell: &str, v: &Value) -> bool {
    match v {
        Value::Null => cell.is_empty(),
        Value::Bool(b) => cell == b.to_string(),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => cell == u.to_string(),
            (None, Some(f)) => cell.parse::<f64>().is_ok_and(|c| c == f),
            _ => false,
        },
        Value::String(s) => cell == defused(s),
        Value::Array(items) => {
            let joined: Vec<String> = items.iter().map(plain).collect();
            cell == defused(&joined.join(";"))
        }
        Value::Object(_) => false,
    }
}

/// Compares one CSV row with one JSON item; returns the columns it covered.
fn compare(what: &str, row: &HashMap<String, String>, item: &Value, errors: &mut Vec<String>) {
    let mut fields = BTreeMap::new();
    flatten("", item, &mut fields);
    for (key, want) in &fields {
        let cell = |name: &str| row.get(name).map(String::as_str);
        match (key.as_str(), want) {
            // Listed in connections.csv by server_name instead (docs/REPORTS.md).
            ("connection_ids", _) => {}
            ("tls" | "http", Value::Null) => {
                let prefix = format!("{key}_");
                for (col, v) in row {
                    if col.starts_with(&prefix) && !v.is_empty() {
                        errors.push(format!("{what} {col}: {v:?}, JSON {key} is null"));
                    }
                }
            }
            ("tls_session_ticket", v) => {
                let (name, bytes) = match v.get("ticket") {
                    Some(n) => (Value::from("ticket"), n.clone()),
                    None => (v.clone(), Value::Null),
                };
                if !agrees(cell(key).unwrap_or("?"), &name)
                    || !agrees(cell("tls_session_ticket_bytes").unwrap_or("?"), &bytes)
                {
                    errors.push(format!("{what} {key}: JSON {v}"));
                }
            }
            ("evidence", Value::Object(map)) => {
                let cells: Vec<(&str, &str)> = cell(key)
                    .unwrap_or("?")
                    .split(';')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.split_once('=').unwrap_or((p, "?")))
                    .collect();
                let same = cells.len() == map.len()
                    && cells
                        .iter()
                        .zip(map)
                        .all(|((n, c), (name, v))| n == name && agrees(c, v));
                if !same {
                    errors.push(format!("{what} evidence: {:?}, JSON {want}", cell(key)));
                }
            }
            ("tls_late_handshake_records", Value::Array(per_side)) => {
                for (side, v) in ["client", "server"].iter().zip(per_side) {
                    let col = format!("{key}_{side}");
                    if !agrees(cell(&col).unwrap_or("?"), v) {
                        errors.push(format!("{what} {col}: {:?}, JSON {v}", cell(&col)));
                    }
                }
            }
            (key, want) => match cell(key) {
                None => errors.push(format!("{what}: JSON field {key} has no column")),
                Some(c) if !agrees(c, want) => {
                    errors.push(format!("{what} {key}: CSV {c:?}, JSON {want}"))
                }
                Some(_) => {}
            },
        }
    }
}

/// Columns that the JSON items do not have under the same name: each is
/// checked separately.
const DERIVED: &[&str] = &[
    "id",
    "server_name",
    "duration_secs",
    "tls_session_ticket_bytes",
    "tls_late_handshake_records_client",
    "tls_late_handshake_records_server",
];

/// RFC 3339 UTC timestamp as written by `Ts` to nanoseconds since the
/// epoch (Howard Hinnant's `days_from_civil`).
fn ns(ts: &str) -> i128 {
    let num = |r: std::ops::Range<usize>| ts[r].parse::<i64>().expect("digits");
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    i128::from(secs) * 1_000_000_000 + i128::from(num(20..29))
}

/// Writes the CSV files of `ledger` and checks them against its JSON.
fn check(name: &str, ledger: &Ledger, inputs: &[PathBuf]) -> BTreeMap<&'static str, Rows> {
    let dir = scratch(name);
    let written = report::csv::write_csv(ledger, &dir, inputs).expect("CSV written");
    assert_eq!(written.len(), 5);
    let doc = json(ledger);
    let mut errors = Vec::new();
    let mut all = BTreeMap::new();
    for (file, key) in [
        ("servers.csv", "servers"),
        ("connections.csv", "connections"),
        ("requests.csv", "requests"),
        ("findings.csv", "findings"),
        ("captures.csv", "captures"),
    ] {
        let path = dir.join(file);
        assert!(written.contains(&path), "{file} listed");
        let (header, rows) = read(&path);
        let items = doc[key].as_array().expect("JSON array");
        assert_eq!(rows.len(), items.len(), "{name} {file}: rows");
        let mut fields = BTreeMap::new();
        for (i, (row, item)) in rows.iter().zip(items).enumerate() {
            compare(&format!("{name} {file} row {i}"), row, item, &mut errors);
            flatten("", item, &mut fields);
        }
        if let Some(item) = items.first() {
            // Every column is a JSON field or a documented derived one.
            for col in &header {
                let prefixed_null = ["tls", "http"]
                    .iter()
                    .any(|p| col.starts_with(&format!("{p}_")) && item[p].is_null());
                if !fields.contains_key(col) && !DERIVED.contains(&col.as_str()) && !prefixed_null {
                    errors.push(format!("{name} {file}: column {col} is no JSON field"));
                }
            }
        }
        all.insert(key, rows);
    }
    // The derived columns.
    let servers = doc["servers"].as_array().expect("servers");
    let server_of = |conn: usize| -> String {
        servers
            .iter()
            .find(|s| {
                s["connection_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.contains(&Value::from(conn)))
            })
            .and_then(|s| s["server"].as_str())
            .map(defused)
            .expect("every connection has a server")
    };
    for (i, row) in all["connections"].iter().enumerate() {
        assert_eq!(row["id"], i.to_string());
        assert_eq!(row["server_name"], server_of(i));
        let dur: f64 = row["duration_secs"].parse().expect("duration");
        let want = (ns(&row["end"]) - ns(&row["start"])) as f64 / 1e9;
        assert!((dur - want).abs() < 1e-9, "{name} row {i}: {dur} vs {want}");
    }
    for row in &all["requests"] {
        let conn: usize = row["connection"].parse().expect("index");
        assert_eq!(row["server_name"], server_of(conn));
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
    all
}

fn expected(name: &str) -> Value {
    let path = root()
        .join("testdata/expected")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(path).expect("expected file")).expect("JSON")
}

/// Connections (client, server, first packet) as tshark lists its streams.
fn tshark_connections(name: &str) -> Vec<(String, String, String)> {
    expected(name)["per_connection"]
        .as_array()
        .expect("per_connection")
        .iter()
        .map(|c| {
            (
                plain(&c["client"]),
                plain(&c["server"]),
                plain(&c["first_frame"]),
            )
        })
        .collect()
}

#[test]
fn csv_rows_agree_with_json_and_tshark() {
    for file in [
        "go-h2-concurrent-tls13.pcapng",
        "curl-h1-keepalive.pcap",
        "go-resume-tls12-ticket.pcap",
        "go-plain-keepalive.pcap",
        "go-plain-idle.pcap.gz",
        "curl-h2c.pcap",
        "nghttp-h2c.pcap",
    ] {
        let path = capture(file);
        let name = file.split('.').next().expect("stem");
        let rows = check(name, &ledger(std::slice::from_ref(&path)), &[path]);
        let mut ours: Vec<(String, String, String)> = rows["connections"]
            .iter()
            .map(|r| {
                (
                    r["client"].clone(),
                    r["server"].clone(),
                    r["first_packet"].clone(),
                )
            })
            .collect();
        let mut theirs = tshark_connections(name);
        ours.sort();
        theirs.sort();
        assert_eq!(
            ours, theirs,
            "{name}: connections.csv against tshark's streams"
        );
        let want = expected(name);
        let cleartext =
            want["keylog"].is_null() && !want["keys_embedded"].as_bool().unwrap_or(false);
        if cleartext {
            // Every cleartext request is parsed: one row per request tshark counts.
            assert_eq!(
                rows["requests"].len() as u64,
                want["totals"]["requests"].as_u64().expect("requests"),
                "{name}: requests.csv rows against tshark"
            );
        }
    }
}

#[test]
fn two_captures_in_one_ledger_keep_their_rows_apart() {
    let a = capture("go-plain-keepalive.pcap");
    let b = capture("curl-h2c.pcap");
    let rows = check(
        "two",
        &ledger(&[a.clone(), b.clone()]),
        &[a.clone(), b.clone()],
    );
    for (path, name) in [(a, "go-plain-keepalive"), (b, "curl-h2c")] {
        let file = path.to_string_lossy();
        let n = rows["connections"]
            .iter()
            .filter(|r| r["capture"] == file)
            .count();
        assert_eq!(n, tshark_connections(name).len(), "{name}");
    }
}

#[test]
fn findings_rows_agree_with_json() {
    let path = capture("go-h2-concurrent-tls13.pcapng");
    let mut ledger = ledger(std::slice::from_ref(&path));
    let server = ledger.servers.first().expect("one server").clone();
    let ids: Vec<usize> = ledger
        .server_ids(&server)
        .collect::<std::io::Result<_>>()
        .expect("ids");
    // Hand-built: findings come from their own module; the figures are the
    // ledger's (100 connections, 99 known unused, as in the JSON report).
    ledger.set_findings(vec![Finding {
        kind: FindingKind::ConcurrentDials,
        capture: server.capture.clone(),
        server: server.server.clone(),
        message: format!(
            "{} connections dialled, {} never carried a request",
            server.connections, server.unused_connections
        ),
        cause: "Each request raced its own dial; \"first come\" wins, the rest idle,\nthen close."
            .into(),
        fix: "=Dial once per host, then reuse".into(),
        evidence: [
            ("connections", server.connections as f64),
            ("unused_connections", server.unused_connections as f64),
            ("ratio", 0.99),
        ]
        .into_iter()
        .collect(),
        connections: ids,
    }]);
    let rows = check("findings", &ledger, &[path]);
    let f = rows["findings"].first().expect("one finding row");
    assert_eq!(
        f["message"],
        "100 connections dialled, 99 never carried a request"
    );
    assert_eq!(f["fix"], "'=Dial once per host, then reuse");
    assert_eq!(
        f["evidence"],
        "connections=100;ratio=0.99;unused_connections=99"
    );
    assert_eq!(f["connections"].split(';').count(), 100);
    assert_eq!(rows["servers"].first().expect("server")["findings"], "1");
}

#[test]
fn refuses_to_overwrite_an_input_capture() {
    let dir = scratch("refuse");
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("connections.csv");
    std::fs::copy(capture("curl-h2c.pcap"), &input).expect("copy");
    let before = std::fs::read(&input).expect("read");
    let ledger = ledger(std::slice::from_ref(&input));
    let err =
        report::csv::write_csv(&ledger, &dir, std::slice::from_ref(&input)).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("connections.csv"), "{err}");
    assert_eq!(std::fs::read(&input).expect("read"), before);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["connections.csv"], "nothing else written");
    let _ = std::fs::remove_dir_all(&dir);
}
