//! Findings over the real-client captures. Each capture's scenario is known
//! (testdata/README.md) and its figures are tshark's (testdata/expected):
//! the concurrent Go clients open 100 (or 30) connections and carry every
//! request on one; the undrained Go client opens one connection per
//! request and never closes them; the sequential clients reuse one
//! connection and must yield no finding at all.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn report(capture: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_connreuse"))
        .args(["--format", "json"])
        .arg(root.join("testdata/captures").join(capture))
        .output()
        .expect("connreuse runs");
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn expected(name: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(
        &std::fs::read(root.join("testdata/expected").join(format!("{name}.json")))
            .expect("expected file"),
    )
    .expect("JSON")
}

fn findings(v: &Value, kind: &str) -> Vec<Value> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn concurrent_go_clients_show_concurrent_dials() {
    for (capture, name) in [
        ("go-h2-concurrent-tls12.pcap", "go-h2-concurrent-tls12"),
        ("go-h2-concurrent-tls13.pcapng", "go-h2-concurrent-tls13"),
        (
            "go-h2-concurrent-cancelled.pcap",
            "go-h2-concurrent-cancelled",
        ),
    ] {
        let v = report(capture);
        let want = &expected(name)["totals"];
        let conns = want["tcp_connections"].as_u64().expect("count");
        let used = want["connections_with_requests"].as_u64().expect("count");
        let found = findings(&v, "concurrent_dials");
        assert_eq!(found.len(), 1, "{capture}: {:#?}", v["findings"]);
        let f = &found[0];
        assert_eq!(f["server"], "connreuse.test");
        assert_eq!(
            f["evidence"]["connections"].as_f64(),
            Some(conns as f64),
            "{capture}"
        );
        assert_eq!(
            f["evidence"]["unused_connections"].as_f64(),
            Some((conns - used) as f64),
            "{capture}"
        );
        assert_eq!(
            f["evidence"]["used_connections"].as_f64(),
            Some(used as f64),
            "{capture}"
        );
        assert_eq!(
            f["connections"].as_array().map(Vec::len),
            Some(conns as usize)
        );
    }
}

#[test]
fn undrained_bodies_show_no_reuse_with_the_client_never_closing() {
    let v = report("go-h1-undrained.pcapng");
    let want = &expected("go-h1-undrained")["totals"];
    let found = findings(&v, "no_reuse");
    assert_eq!(found.len(), 1, "{:#?}", v["findings"]);
    let f = &found[0];
    assert_eq!(
        f["evidence"]["connections"].as_f64(),
        want["tcp_connections"].as_f64()
    );
    assert_eq!(
        f["evidence"]["requests"].as_f64(),
        want["requests"].as_f64()
    );
    assert_eq!(f["evidence"]["side_client"].as_f64(), Some(1.0));
    let message = f["message"].as_str().unwrap_or_default();
    assert!(message.contains("client never closed"), "{message}");
    assert!(
        f["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("not read to the end")
    );
}

#[test]
fn server_idle_timeout_is_told_apart() {
    // keepalive_timeout 1s on the server, requests 2 s apart (testdata/README.md).
    let v = report("go-plain-idle.pcap.gz");
    let found = findings(&v, "no_reuse");
    assert_eq!(found.len(), 1, "{:#?}", v["findings"]);
    assert_eq!(found[0]["evidence"]["side_server"].as_f64(), Some(1.0));
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("closed them when idle")
    );
}

#[test]
fn sequential_clients_that_reuse_one_connection_have_no_finding() {
    for capture in [
        "go-h2-sequential.pcap",
        "go-h1-drained.pcap",
        "go-plain-keepalive.pcap",
        "curl-h1-keepalive.pcap",
        "nghttp-h2c.pcap",
    ] {
        let v = report(capture);
        assert_eq!(v["totals"]["tcp_connections"], 1, "{capture}");
        assert_eq!(v["findings"], Value::Array(Vec::new()), "{capture}");
        assert_eq!(v["totals"]["findings"], 0, "{capture}");
    }
}

#[test]
fn repeated_full_handshakes_without_a_session_cache() {
    // The undrained client makes 20 full TLS 1.3 handshakes and offers no
    // PSK (tshark: no pre_shared_key extension in any ClientHello).
    let v = report("go-h1-undrained.pcapng");
    let found = findings(&v, "repeated_full_handshakes");
    assert_eq!(found.len(), 1, "{:#?}", v["findings"]);
    assert_eq!(
        found[0]["evidence"]["offered_resumption"].as_f64(),
        Some(0.0)
    );
    // The resuming clients resume: no such finding.
    for capture in [
        "curl-resume-tls12.pcap",
        "curl-resume-tls13.pcapng",
        "go-resume-tls13.pcapng",
    ] {
        assert!(
            findings(&report(capture), "repeated_full_handshakes").is_empty(),
            "{capture}"
        );
    }
}
