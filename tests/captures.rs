//! End-to-end over the real-client captures in testdata/captures: each
//! figure connreuse reports is compared with testdata/expected/NAME.json,
//! which testdata/expected.sh computes with tshark (the exact commands are
//! in that script and in testdata/README.md) and cross-checks against the
//! client's and nginx's own logs.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn expected() -> Vec<(String, Value)> {
    let dir = root().join("testdata/expected");
    let mut all: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("testdata/expected")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v: Value =
                serde_json::from_slice(&std::fs::read(&p).expect("readable")).expect("JSON");
            (
                p.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string(),
                v,
            )
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(all.len() >= 20, "expected files: {}", all.len());
    all
}

fn run(capture: &str, extra: &[&str]) -> Value {
    let path = root().join("testdata/captures").join(capture);
    let out = Command::new(env!("CARGO_BIN_EXE_connreuse"))
        .arg("--format")
        .arg("json")
        .args(extra)
        .arg(&path)
        .output()
        .expect("connreuse runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{capture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// Compares named figures; collects every mismatch rather than stopping at one.
struct Diff(Vec<String>);

impl Diff {
    fn eq(&mut self, what: String, ours: &Value, theirs: &Value) {
        if ours != theirs {
            self.0
                .push(format!("{what}: connreuse {ours}, tshark {theirs}"));
        }
    }
}

#[test]
fn tcp_figures_agree_with_tshark() {
    let mut diff = Diff(Vec::new());
    for (name, want) in expected() {
        let capture = want["capture"].as_str().expect("capture name");
        let ours = run(capture, &[]);
        for figure in ["tcp_connections", "tcp_handshakes"] {
            diff.eq(
                format!("{name} totals.{figure}"),
                &ours["totals"][figure],
                &want["totals"][figure],
            );
        }
        let conns = ours["connections"].as_array().expect("connections");
        for theirs in want["per_connection"].as_array().expect("per_connection") {
            let Some(c) = conns
                .iter()
                .find(|c| c["first_packet"] == theirs["first_frame"])
            else {
                diff.0.push(format!(
                    "{name}: no connection starts at frame {}",
                    theirs["first_frame"]
                ));
                continue;
            };
            let at = format!("{name} stream {}", theirs["stream"]);
            diff.eq(format!("{at} client"), &c["client"], &theirs["client"]);
            diff.eq(format!("{at} server"), &c["server"], &theirs["server"]);
            diff.eq(format!("{at} syn_seen"), &c["syn_seen"], &theirs["syn"]);
            let packets = c["packets"]["client"].as_u64().unwrap_or(0)
                + c["packets"]["server"].as_u64().unwrap_or(0);
            diff.eq(
                format!("{at} packets"),
                &Value::from(packets),
                &theirs["frames"],
            );
        }
    }
    assert!(
        diff.0.is_empty(),
        "{} differences:\n{}",
        diff.0.len(),
        diff.0.join("\n")
    );
}

/// TLS handshakes: ClientHellos as tshark counts them (`tls.handshake.type
/// == 1`), completed handshakes as tshark sees both Finished messages with
/// the key log, resumptions, and per connection the hello facts.
#[test]
fn tls_figures_agree_with_tshark() {
    let mut diff = Diff(Vec::new());
    for (name, want) in expected() {
        // Keys inside the capture decrypt it: see decryption_*.
        if want["keys_embedded"] == true {
            continue;
        }
        let capture = want["capture"].as_str().expect("capture name");
        let ours = run(capture, &[]);
        let (t, w) = (&ours["totals"], &want["totals"]);
        diff.eq(
            format!("{name} tls_client_hellos"),
            &t["tls_client_hellos"],
            &w["tls_client_hellos"],
        );
        diff.eq(
            format!("{name} tls completed"),
            &t["tls_handshakes"]["completed"],
            &w["tls_handshakes_finished"],
        );
        diff.eq(
            format!("{name} tls resumed"),
            &t["tls_handshakes"]["resumed"],
            &w["tls_resumed"],
        );
        let conns = ours["connections"].as_array().expect("connections");
        for theirs in want["per_connection"].as_array().expect("per_connection") {
            let Some(c) = conns
                .iter()
                .find(|c| c["first_packet"] == theirs["first_frame"])
            else {
                continue;
            };
            let at = format!("{name} stream {}", theirs["stream"]);
            if theirs["client_hellos"] == 0 {
                diff.eq(format!("{at} tls"), &c["tls"], &Value::Null);
                continue;
            }
            let tls = &c["tls"];
            for field in ["sni", "alpn_offered", "version", "cipher", "resumed"] {
                diff.eq(format!("{at} tls.{field}"), &tls[field], &theirs[field]);
            }
            // Without keys the ALPN a TLS 1.3 server chose is encrypted.
            if theirs["version"] == "TLS 1.3" {
                diff.eq(format!("{at} tls.alpn"), &tls["alpn"], &Value::Null);
                diff.eq(
                    format!("{at} tls.alpn_source"),
                    &tls["alpn_source"],
                    &Value::from("encrypted"),
                );
            } else {
                diff.eq(format!("{at} tls.alpn"), &tls["alpn"], &theirs["alpn"]);
            }
        }
    }
    assert!(
        diff.0.is_empty(),
        "{} differences:\n{}",
        diff.0.len(),
        diff.0.join("\n")
    );
}

/// HTTP requests. In cleartext every request is observed and must equal
/// tshark's count (`http.request` plus HTTP/2 streams with a `:method`) and
/// the connections that carried them. Inside TLS without keys, HTTP/1.x
/// requests are estimated as client flights: on these captures the estimate
/// must equal tshark's count made with the key log; HTTP/2 inside TLS stays
/// unknown.
#[test]
fn http_figures_agree_with_tshark() {
    let mut diff = Diff(Vec::new());
    for (name, want) in expected() {
        if want["keys_embedded"] == true {
            continue;
        }
        let capture = want["capture"].as_str().expect("capture name");
        let ours = run(capture, &[]);
        let (t, w) = (&ours["totals"], &want["totals"]);
        let tls = w["tls_client_hellos"].as_u64().unwrap_or(0) > 0;
        let h2 = w["http2_requests"].as_u64().unwrap_or(0) > 0;
        if !(tls && h2) {
            diff.eq(
                format!("{name} connections_unknown_requests"),
                &t["connections_unknown_requests"],
                &Value::from(0),
            );
        }
        match (tls, h2) {
            (false, _) => {
                diff.eq(format!("{name} requests"), &t["requests"], &w["requests"]);
                diff.eq(
                    format!("{name} requests_estimated"),
                    &t["requests_estimated"],
                    &Value::from(0),
                );
                diff.eq(
                    format!("{name} connections_with_requests"),
                    &t["connections_with_requests"],
                    &w["connections_with_requests"],
                );
                let listed = ours["requests"].as_array().map_or(0, Vec::len);
                diff.eq(
                    format!("{name} requests[]"),
                    &Value::from(listed),
                    &w["requests"],
                );
            }
            (true, false) => {
                diff.eq(format!("{name} requests"), &t["requests"], &Value::from(0));
                diff.eq(
                    format!("{name} requests_estimated"),
                    &t["requests_estimated"],
                    &w["requests"],
                );
                diff.eq(
                    format!("{name} connections_with_requests"),
                    &t["connections_with_requests"],
                    &w["connections_with_requests"],
                );
            }
            (true, true) => {
                diff.eq(format!("{name} requests"), &t["requests"], &Value::from(0));
                diff.eq(
                    format!("{name} requests_estimated"),
                    &t["requests_estimated"],
                    &Value::from(0),
                );
                // Every connection that carried requests (tshark's count
                // with the key log) is one whose count cannot be told.
                diff.eq(
                    format!("{name} connections_unknown_requests"),
                    &t["connections_unknown_requests"],
                    &w["connections_with_requests"],
                );
                for c in ours["connections"].as_array().expect("connections") {
                    diff.eq(
                        format!("{name} {} requests_basis", c["client"]),
                        &c["http"]["requests_basis"],
                        &Value::from("unknown"),
                    );
                }
            }
        }
    }
    assert!(
        diff.0.is_empty(),
        "{} differences:\n{}",
        diff.0.len(),
        diff.0.join("\n")
    );
}

/// With each capture's key log (or the secrets embedded in the pcapng),
/// every TLS connection decrypts and every request is observed: the counts
/// equal tshark's with the same keys (`tshark -o tls.keylog_file:KEYS`, see
/// testdata/expected.sh), per connection too, and the ALPN a TLS 1.3 server
/// chose is read from the decrypted EncryptedExtensions.
#[test]
fn decryption_makes_every_request_observed() {
    let mut diff = Diff(Vec::new());
    let mut decrypted = 0;
    for (name, want) in expected() {
        if want["totals"]["tls_client_hellos"] == 0 {
            continue;
        }
        let capture = want["capture"].as_str().expect("capture name");
        let keylog = want["keylog"]
            .as_str()
            .map(|k| root().join("testdata/captures").join(k));
        let args: Vec<String> = keylog
            .iter()
            .flat_map(|k| ["--keylog".to_string(), k.display().to_string()])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = run(capture, &args);
        let (t, w) = (&ours["totals"], &want["totals"]);
        diff.eq(format!("{name} requests"), &t["requests"], &w["requests"]);
        diff.eq(
            format!("{name} requests_estimated"),
            &t["requests_estimated"],
            &Value::from(0),
        );
        diff.eq(
            format!("{name} connections_with_requests"),
            &t["connections_with_requests"],
            &w["connections_with_requests"],
        );
        // A connection can be decrypted when the key log has its secrets
        // (Go logs them only for handshakes it completes) or when it
        // resumed a session whose secrets are known.
        let per = want["per_connection"].as_array().expect("per_connection");
        let decryptable = |c: &Value| {
            c["server_hellos"] != 0 && (c["keys_logged"] == true || c["resumed"] == true)
        };
        let expected_decrypted = per.iter().filter(|c| decryptable(c)).count();
        diff.eq(
            format!("{name} connections_decrypted"),
            &t["connections_decrypted"],
            &Value::from(expected_decrypted),
        );
        let conns = ours["connections"].as_array().expect("connections");
        for theirs in per {
            let Some(c) = conns
                .iter()
                .find(|c| c["first_packet"] == theirs["first_frame"])
            else {
                continue;
            };
            let at = format!("{name} stream {}", theirs["stream"]);
            if !decryptable(theirs) {
                if theirs["server_hellos"] != 0 {
                    diff.eq(
                        format!("{at} decrypt_error"),
                        &c["tls"]["decrypt_error"],
                        &Value::from("no key"),
                    );
                }
                continue;
            }
            decrypted += 1;
            diff.eq(
                format!("{at} decrypted"),
                &c["tls"]["decrypted"],
                &Value::Bool(true),
            );
            // Early data the server rejected (tshark: no early_data in the
            // decrypted EncryptedExtensions) is decrypted and said so.
            let note = match theirs["early_data"]["accepted"] {
                Value::Bool(false) => Value::from(format!(
                    "early data rejected by the server: {} not counted",
                    records(&theirs["early_data"])
                )),
                _ => Value::Null,
            };
            diff.eq(
                format!("{at} decrypt_error"),
                &c["tls"]["decrypt_error"],
                &note,
            );
            diff.eq(format!("{at} alpn"), &c["tls"]["alpn"], &theirs["alpn"]);
            let requests = if theirs["requests"] == 0 && c["http"]["requests"].is_null() {
                Value::from(0)
            } else {
                c["http"]["requests"].clone()
            };
            diff.eq(format!("{at} requests"), &requests, &theirs["requests"]);
            if theirs["version"] == "TLS 1.3" {
                diff.eq(
                    format!("{at} alpn_source"),
                    &c["tls"]["alpn_source"],
                    &Value::from("decrypted"),
                );
            }
        }
    }
    assert!(
        diff.0.is_empty(),
        "{} differences:\n{}",
        diff.0.len(),
        diff.0.join("\n")
    );
    assert!(decrypted > 200, "{decrypted} connections decrypted");
}

/// The early records of a connection as the report words them: in these
/// captures each early request is one record (s_client writes its file at
/// once).
fn records(early: &Value) -> String {
    match early["early_http1_requests"].as_u64() {
        Some(1) => "1 record".to_string(),
        n => format!("{} records", n.unwrap_or(0)),
    }
}

fn with_keys(capture: &str) -> Value {
    let keys = root()
        .join("testdata/captures")
        .join(capture.replace(".pcap", ".keys"));
    run(capture, &["--keylog", keys.to_str().expect("path")])
}

fn expected_of(name: &str) -> Value {
    expected()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("testdata/expected/{name}.json"))
}

/// TLS 1.3 0-RTT accepted (openssl s_client to nginx with ssl_early_data
/// on): the GET sent as early data is a request of the resumed connection,
/// observed, with its response, as tshark (which decrypts early data with
/// the key log's CLIENT_EARLY_TRAFFIC_SECRET) and nginx's log (early=1)
/// count it.
#[test]
fn accepted_early_data_carries_a_request_of_its_connection() {
    let want = expected_of("openssl-0rtt-accepted");
    let ours = with_keys("openssl-0rtt-accepted.pcap");
    let early = &want["per_connection"][1];
    assert_eq!(early["early_data"]["accepted"], true);
    assert_eq!(early["early_data"]["early_http1_requests"], 1);
    let c = ours["connections"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .position(|c| c["first_packet"] == early["first_frame"])
        })
        .expect("the 0-RTT connection");
    let conn = &ours["connections"][c];
    assert_eq!(conn["tls"]["early_data"], true);
    assert_eq!(conn["tls"]["resumed"], true);
    assert_eq!(conn["tls"]["decrypted"], true);
    assert_eq!(conn["tls"]["decrypt_error"], Value::Null);
    assert_eq!(conn["http"]["requests"], early["requests"]);
    let requests: Vec<&Value> = ours["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| r["connection"] == c)
        .collect();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (
            &requests[0]["method"],
            &requests[0]["path"],
            &requests[0]["status"]
        ),
        (
            &Value::from("GET"),
            &Value::from("/index.html"),
            &Value::from(200)
        )
    );
    assert_eq!(ours["totals"]["requests"], want["totals"]["requests"]);
}

/// TLS 1.3 0-RTT rejected (the PSK is accepted by a server with early data
/// off, RFC 8446 4.2.10): the GET in the early data was never served
/// (nginx logged nothing, s_client said "Early data was rejected"), so it
/// is no request; tshark decrypts it and shows it as one, which
/// testdata/expected.jq takes out again (`early_http1_requests`).
#[test]
fn rejected_early_data_is_not_a_request() {
    let want = expected_of("openssl-0rtt-rejected");
    let ours = with_keys("openssl-0rtt-rejected.pcap");
    let early = &want["per_connection"][1];
    assert_eq!(early["early_data"]["accepted"], false);
    assert_eq!(early["early_data"]["early_http1_requests"], 1);
    assert_eq!(early["requests"], 0);
    assert_eq!(want["cross_check"]["client"]["early_data_rejected"], 1);
    let conn = ours["connections"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["first_packet"] == early["first_frame"])
        })
        .expect("the 0-RTT connection");
    assert_eq!(conn["tls"]["decrypted"], true);
    assert_eq!(
        conn["tls"]["decrypt_error"],
        "early data rejected by the server: 1 record not counted"
    );
    assert_eq!(conn["http"]["requests"], 0);
    assert_eq!(ours["totals"]["requests"], 1);
    // Without keys the rejected 0-RTT flight is no request estimate either.
    let plain = run("openssl-0rtt-rejected.pcap", &[]);
    assert_eq!(plain["totals"]["requests_estimated"], 1);
}

/// A key log without the CLIENT_EARLY_TRAFFIC_SECRET lines: the 0-RTT
/// records are skipped as before, the rest decrypts, and the connection
/// says that its early data was not read (so not every record was
/// decrypted); the early request is missing from the count.
#[test]
fn early_data_without_its_secret_is_said() {
    let keys = std::fs::read_to_string(root().join("testdata/captures/openssl-0rtt-accepted.keys"))
        .expect("keys");
    let stripped: String = keys
        .lines()
        .filter(|l| !l.starts_with("CLIENT_EARLY_TRAFFIC_SECRET "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(stripped.len() < keys.len());
    let path = std::env::temp_dir().join(format!("connreuse-no-early-{}.keys", std::process::id()));
    std::fs::write(&path, stripped).expect("write");
    let ours = run(
        "openssl-0rtt-accepted.pcap",
        &["--keylog", path.to_str().expect("path")],
    );
    let _ = std::fs::remove_file(&path);
    let conn = &ours["connections"][1];
    assert_eq!(conn["tls"]["early_data"], true);
    assert_eq!(conn["tls"]["decrypted"], false);
    let why = conn["tls"]["decrypt_error"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("early data not decrypted: no CLIENT_EARLY_TRAFFIC_SECRET"),
        "{why}"
    );
    assert_eq!(ours["connections"][0]["tls"]["decrypted"], true);
    assert_eq!(ours["totals"]["requests"], 1);
}

/// The capture with a Decryption Secrets Block decrypts with no --keylog.
#[test]
fn embedded_secrets_decrypt_without_a_key_log() {
    let (_, want) = expected()
        .into_iter()
        .find(|(_, w)| w["keys_embedded"] == true)
        .expect("a DSB capture");
    let ours = run(want["capture"].as_str().expect("name"), &[]);
    assert_eq!(ours["captures"][0]["embedded_secrets"], true);
    assert_eq!(
        ours["totals"]["connections_decrypted"],
        want["totals"]["tls_server_hellos"]
    );
    assert_eq!(ours["totals"]["requests"], want["totals"]["requests"]);
}

/// The same capture with its Decryption Secrets Block moved later, so that
/// the connection began while no secret was known (its decryptor is made
/// when the first one arrives, and told of the hellos it missed). Moved
/// before the server's flight (ServerHello and its encrypted records, frame
/// 6), it still opens the connection: the same three requests. Moved after
/// it, the server's first encrypted records have gone unread: not
/// decrypted, and the report says why. tshark agrees on both files:
///   tshark -r F -Y http2.headers.method -T fields -e frame.number
/// prints frames 10, 17 and 20 for the first and nothing for the second.
#[test]
fn secrets_that_arrive_after_the_connection_began() {
    let file = root().join("testdata/captures/curl-tls13-chacha20.pcapng");
    let bytes = std::fs::read(&file).expect("capture");
    // Its blocks (little-endian): SHB, DSB, IDB, then the packets.
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(len) = bytes
        .get(at + 4..at + 8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize)
    {
        blocks.push(bytes.get(at..at + len).expect("whole block"));
        at += len;
    }
    assert_eq!(
        blocks.get(1).map(|b| b.get(..4)),
        Some(Some(&[10, 0, 0, 0][..]))
    );
    let dsb = blocks.remove(1);
    let moved = |after_frame: usize| {
        let mut b = blocks.clone();
        // SHB and IDB, then the packets.
        b.insert(2 + after_frame, dsb);
        let path = std::env::temp_dir().join(format!(
            "connreuse-late-dsb-{after_frame}-{}.pcapng",
            std::process::id()
        ));
        std::fs::write(&path, b.concat()).expect("write");
        let report = run(path.to_str().expect("path"), &[]);
        let _ = std::fs::remove_file(&path);
        report
    };
    // After the client's ClientHello (frame 4) and the ACK (frame 5).
    let before = moved(5);
    assert_eq!(before["captures"][0]["embedded_secrets"], true);
    assert_eq!(before["connections"][0]["tls"]["decrypted"], true);
    assert_eq!(before["totals"]["requests"], 3);
    let after = moved(6);
    let tls = &after["connections"][0]["tls"];
    assert_eq!(tls["decrypted"], false);
    assert!(
        tls["decrypt_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("its secrets came after its first encrypted records")),
        "{tls}"
    );
    // Not one request read; how many there were is unknown.
    let http = &after["connections"][0]["http"];
    assert!(http["requests"].is_null(), "{http}");
    assert_eq!(http["requests_basis"], "unknown");
}

/// A key log for other connections says "no key"; a damaged secret says
/// where authentication failed; neither yields a single made-up request.
#[test]
fn wrong_keys_give_a_reason_never_garbage() {
    let other = root().join("testdata/captures/curl-tls13-aes256.keys");
    let ours = run(
        "go-h2-sequential.pcap",
        &["--keylog", other.to_str().expect("path")],
    );
    let c = &ours["connections"][0];
    assert_eq!(c["tls"]["decrypt_error"], "no key");
    assert_eq!(ours["totals"]["requests"], 0);

    // One hex digit changed in every secret of the right key log.
    let keys = std::fs::read_to_string(root().join("testdata/captures/go-h2-sequential.keys"))
        .expect("keys");
    let damaged: String = keys
        .lines()
        .map(|l| {
            let mut parts: Vec<String> = l.split(' ').map(str::to_string).collect();
            if let Some(secret) = parts.get_mut(2) {
                let flipped = if secret.starts_with('0') { "1" } else { "0" };
                secret.replace_range(0..1, flipped);
            }
            parts.join(" ") + "\n"
        })
        .collect();
    let path = std::env::temp_dir().join(format!("connreuse-damaged-{}.keys", std::process::id()));
    std::fs::write(&path, damaged).expect("write");
    let ours = run(
        "go-h2-sequential.pcap",
        &["--keylog", path.to_str().expect("path")],
    );
    let _ = std::fs::remove_file(&path);
    let c = &ours["connections"][0];
    let why = c["tls"]["decrypt_error"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("authentication failed at record 0"),
        "{why}"
    );
    assert_eq!(c["tls"]["decrypted"], false);
    assert_eq!(ours["totals"]["requests"], 0);
    assert_eq!(ours["requests"], Value::Array(Vec::new()));
}
