//! The command as a user runs it: exit statuses, warnings, stdin, several files.
//! Figures come from testdata/unit/eth-le-usec.pcap (the first four frames of
//! nDPI's 443-curl.pcap; `tshark -r F -T fields -e tcp.stream` shows one stream).

mod common;

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn connreuse(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connreuse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("connreuse runs");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or_default())
        .expect("stdin written");
    drop(pipe);
    child.wait_with_output().expect("connreuse exits")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

const CAPTURE: &str = "testdata/unit/eth-le-usec.pcap";

#[test]
fn json_report_of_a_clean_capture_exits_0() {
    let out = connreuse(&["--format", "json", CAPTURE], None);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["totals"]["tcp_connections"], 1);
    assert_eq!(v["totals"]["tcp_handshakes"], 1);
    let c = &v["connections"][0];
    assert_eq!(c["client"], "192.168.1.13:55523");
    assert_eq!(c["server"], "178.62.197.130:443");
    assert_eq!(c["first_packet"], 1);
    // tshark: frame.time_epoch of frames 1 and 4.
    assert_eq!(c["start"], "2020-02-07T22:05:20.474299000Z");
    assert_eq!(c["end"], "2020-02-07T22:05:20.522725000Z");
    assert_eq!(c["packets"]["client"], 3);
    assert_eq!(c["bytes"]["client"], 517);
    assert_eq!(c["closed_by"], serde_json::Value::Null);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/unit/eth-le-usec.pcap.gz"
    ))
    .expect("fixture");
    let out = connreuse(&["--format", "json", "-"], Some(&bytes));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["totals"]["tcp_connections"], 1);
}

#[test]
fn several_captures_in_one_run() {
    let out = connreuse(
        &["--format", "json", CAPTURE, "testdata/unit/vlan.pcap"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["totals"]["captures"], 2);
    assert_eq!(v["totals"]["tcp_connections"], 2);
    assert_eq!(v["connections"][1]["capture"], "testdata/unit/vlan.pcap");
}

/// The table's total line says where requests could not be counted: of
/// go-h2-concurrent-tls13's 100 connections (HTTP/2 inside TLS, no key log
/// given) one carried the 100 requests (`tshark -r
/// testdata/captures/go-h2-concurrent-tls13.pcapng -o
/// tls.keylog_file:testdata/captures/go-h2-concurrent-tls13.keys -Y
/// http2.headers.method -T fields -e tcp.stream | sort -u` gives one
/// stream), and curl-h1-keepalive's 3 are estimated.
#[test]
fn the_total_line_names_connections_whose_requests_are_unknown() {
    let out = connreuse(
        &[
            "--format",
            "table",
            "testdata/captures/go-h2-concurrent-tls13.pcapng",
            "testdata/captures/curl-h1-keepalive.pcap",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let total = text.lines().last().unwrap_or_default();
    assert!(
        total.contains(
            "0 requests observed and 3 estimated (and the unknown requests of 1 connection)"
        ),
        "{total}"
    );
}

#[test]
fn not_a_capture_is_a_one_line_error_and_exit_2() {
    let out = connreuse(&["Cargo.toml"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Cargo.toml") && err.contains("not a pcap or pcapng"),
        "{err}"
    );
}

#[test]
fn missing_file_exits_2() {
    let out = connreuse(&["no/such/file.pcap"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn truncated_capture_reports_up_to_the_damage_and_exits_3() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/unit/eth-le-usec.pcap"
    ))
    .expect("fixture");
    // Cut inside the fourth record, which starts at 24 + 16*3 + 78 + 74 + 66.
    let cut = &bytes[..24 + 16 * 3 + 78 + 74 + 66 + 20];
    let out = connreuse(&["--format", "json", "-"], Some(cut));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: -: ") && err.contains("byte offset 290"),
        "{err}"
    );
    let v = json(&out);
    assert_eq!(v["captures"][0]["packets"], 3);
    assert_eq!(v["totals"]["tcp_connections"], 1);
    assert!(
        v["captures"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("290"))
    );
}

#[test]
fn stdin_only_once() {
    let out = connreuse(&["-", "-"], None);
    assert_eq!(out.status.code(), Some(2));
}

const CONCURRENT: &str = "testdata/captures/go-h2-concurrent-tls13.pcapng";
const SEQUENTIAL: &str = "testdata/captures/go-h2-sequential.pcap";

#[test]
fn gate_trips_with_exit_1_and_says_why() {
    // 100 connections, 99 unused (tshark: 100 tcp.stream values, requests on 1).
    let out = connreuse(
        &[
            "-q",
            "--fail-if",
            "server.unused_connections > 0",
            CONCURRENT,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tripped") && err.contains("connreuse.test = 99"),
        "{err}"
    );
    let out = connreuse(&["-q", "--fail-if", "findings > 0", CONCURRENT], None);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn gate_that_holds_exits_0() {
    let out = connreuse(
        &[
            "--fail-if",
            "findings > 0",
            "--fail-if",
            "connections != 1",
            SEQUENTIAL,
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gate_on_an_unknown_figure_warns_and_does_not_trip() {
    // HTTP/2 inside TLS without keys: the request count is unknown.
    let out = connreuse(&["--fail-if", "requests < 1000", CONCURRENT], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be judged"));
}

#[test]
fn bad_gate_is_a_usage_error() {
    let out = connreuse(&["--fail-if", "bogus > 1", SEQUENTIAL], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown figure `bogus`"));
}

#[test]
fn several_files_in_parallel_give_the_sequential_result() {
    let files = [
        CONCURRENT,
        SEQUENTIAL,
        "testdata/captures/go-h1-undrained.pcapng",
        CAPTURE,
    ];
    let together = connreuse(&[&["--format", "json"][..], &files[..]].concat(), None);
    let mut one_by_one = Vec::new();
    for f in files {
        one_by_one.push(json(&connreuse(&["--format", "json", f], None)));
    }
    let v = json(&together);
    let conns: Vec<Value> = one_by_one
        .iter()
        .flat_map(|o| o["connections"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(v["connections"], Value::Array(conns));
    let findings: usize = one_by_one
        .iter()
        .map(|o| o["findings"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(findings));
}

#[test]
fn one_job_at_a_time_gives_the_same_report_as_one_per_core() {
    let files = [CONCURRENT, SEQUENTIAL, CAPTURE];
    let default = connreuse(&[&["--format", "json"][..], &files[..]].concat(), None);
    let one = connreuse(
        &[&["--format", "json", "--jobs", "1"][..], &files[..]].concat(),
        None,
    );
    assert_eq!(default.status.code(), Some(0));
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(json(&default), json(&one));
    let zero = connreuse(&["--jobs", "0", SEQUENTIAL], None);
    assert_eq!(zero.status.code(), Some(2));
}

/// The table and the HTML page say what was not read in full, with the
/// figures of the JSON's `limits`: a connection whose client sends five
/// 1400-byte segments 2^31 bytes past its next byte, beyond
/// `flow::reassembly::MAX_WINDOW` (2^30). tshark lists the same five
/// segments (`tshark -r F -Y 'tcp.len > 0' -T fields -e tcp.len`: 1400 five
/// times, 7000 bytes).
#[test]
fn the_table_says_what_was_not_read_in_full() {
    let mut c = common::Capture::new(80);
    let server = (common::SERVER.0, 80);
    for k in 0..5u32 {
        let seq = (common::CLIENT_ISN + 1)
            .wrapping_add(1 << 31)
            .wrapping_add(k * 1400);
        let ack = common::SERVER_ISN + 1;
        c.raw(
            common::CLIENT,
            server,
            seq,
            ack,
            common::PSH | common::ACK,
            &[b'x'; 1400],
        );
    }
    let path = std::env::temp_dir().join(format!("connreuse-window-{}.pcap", std::process::id()));
    std::fs::write(&path, c.finish()).expect("capture written");
    let file = path.to_str().expect("UTF-8 path");
    let limits = json(&connreuse(&["--format", "json", file], None))["totals"]["limits"].clone();
    let (segments, bytes) = (
        limits["segments_out_of_window"].as_u64().unwrap_or(0),
        limits["bytes_out_of_window"].as_u64().unwrap_or(0),
    );
    assert_eq!((segments, bytes), (5, 7000), "{limits}");
    let table = connreuse(&[file], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!(
            "not read in full: {segments} segments out of window ({bytes} bytes)"
        )),
        "{text}"
    );
    // The HTML page says the same.
    let page = std::env::temp_dir().join(format!("connreuse-limits-{}.html", std::process::id()));
    let page_arg = page.display().to_string();
    let out = connreuse(&["-q", "--html", &page_arg, file], None);
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(&page).expect("page written");
    let _ = std::fs::remove_file(&page);
    assert!(
        html.contains(&format!(
            "Not read in full: {segments} segments out of window ({bytes} bytes)"
        )),
        "no limits line in the page"
    );
    let _ = std::fs::remove_file(&path);
    // A capture read in full has no such line.
    let clean = connreuse(&[CAPTURE], None);
    assert!(!String::from_utf8_lossy(&clean.stdout).contains("not read in full"));
}

/// A capture whose finished connections pass the 16 MiB kept in memory
/// (`ledger::store::SPILL_AT`): 10 000 HTTP/1.1 connections, each one
/// request for a 2000-byte path (kept whole: `http1::head::TARGET_CAP` is
/// 2048) answered with an empty 200, about 2.1 KB a record once encoded.
/// The JSON report is the same whether the records go to a temporary file
/// or, when none can be made (`TMPDIR` names no directory), stay in memory;
/// the latter says so on stderr, except with `-q`.
#[test]
fn records_that_cannot_leave_memory_give_the_same_report_and_a_warning() {
    const N: u32 = 10_000;
    let request = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1999));
    let mut bytes = common::pcap_header();
    for i in 0..N {
        let client = ([10, 0, (i >> 8) as u8, i as u8], 40_000);
        let mut c = common::Capture::from(client, 80);
        c.ts_us += u64::from(i) * 1_000;
        c.send(true, request.as_bytes());
        c.send(false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        bytes.extend_from_slice(&c.finish()[24..]);
    }
    let path = std::env::temp_dir().join(format!("connreuse-spill-{}.pcap", std::process::id()));
    std::fs::write(&path, &bytes).expect("capture written");
    let file = path.to_str().expect("UTF-8 path");
    let run = |tmpdir: Option<&str>, quiet: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_connreuse"));
        if quiet {
            cmd.arg("-q");
        }
        cmd.args(["--format", "json", file]);
        if let Some(dir) = tmpdir {
            cmd.env("TMPDIR", dir);
        }
        cmd.output().expect("connreuse runs")
    };
    let spilled = run(None, false);
    let kept = run(Some("/nonexistent/connreuse-tmp"), false);
    let quiet = run(Some("/nonexistent/connreuse-tmp"), true);
    let _ = std::fs::remove_file(&path);
    for out in [&spilled, &kept, &quiet] {
        assert_eq!(out.status.code(), Some(0));
    }
    let report = json(&spilled);
    assert_eq!(report["totals"]["tcp_connections"], N);
    assert_eq!(report["totals"]["requests"], N);
    assert_eq!(
        report["requests"][0]["path"].as_str().map(str::len),
        Some(2000)
    );
    assert!(spilled.stdout == kept.stdout, "the same report either way");
    assert!(quiet.stdout == kept.stdout);
    let warning = String::from_utf8_lossy(&kept.stderr);
    assert!(
        warning.contains("no temporary file for finished connections"),
        "{warning}"
    );
    assert!(!String::from_utf8_lossy(&spilled.stderr).contains("temporary file"));
    assert!(quiet.stderr.is_empty());
}
