//! The JSON report against its schema (docs/schema.json, draft 2020-12): the
//! binary's `--format json` output for every capture in testdata/captures and
//! testdata/unit, for captures cut short (exit 3) or unreadable (exit 2), and
//! for a varied sample of the nDPI corpus when ../shared/corpus/ndpi exists,
//! must validate; a document with a field removed, renamed or added, or with
//! an unknown enum value, must not. References the schema cannot express
//! (indices into `connections[]`, totals that are lengths) are checked here.

use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CORPUS: &str = "../shared/corpus/ndpi";

/// nDPI captures chosen so that every enum value and null/non-null case the
/// corpus produces appears at least once (a greedy cover over all 544 runs),
/// plus named kinds: TLS 1.2 and 1.3 clients, ECH, Facebook's TLS 1.3 draft,
/// HTTP/1 (IPv6, split lines, CONNECT, WebDAV, a reply first), h2c,
/// mid-stream pickups, fuzzed and damaged files (fuzz-2021-10-13.pcap is
/// truncated: exit 3; README.txt is no capture: exit 2) and non-HTTP TCP.
const CORPUS_SAMPLE: &[&str] = &[
    "1kxun.pcap",
    "443-chrome.pcap",
    "443-curl.pcap",
    "443-firefox.pcap",
    "443-safari.pcap",
    "6in4tunnel.pcap",
    "README.txt",
    "android.pcap",
    "badpackets.pcap",
    "bittorrent_tcp_miss.pcapng",
    "discord_mid_flow.pcap",
    "dlt_ppp.pcap",
    "fuzz-2006-06-26-2594.pcap",
    "fuzz-2006-09-29-28586.pcap",
    "fuzz-2020-02-16-11740.pcap",
    "fuzz-2021-06-07-c6c72a0a56.pcap",
    "fuzz-2021-10-13.pcap",
    "http-lines-split.pcap",
    "http.pcapng",
    "http2.pcapng",
    "http_connect.pcap",
    "http_ipv6.pcap",
    "http_origin_different_than_host.pcap",
    "http_starting_with_reply.pcapng",
    "instagram.pcap",
    "ip_fragmented_garbage.pcap",
    "iphone.pcap",
    "long_tls_certificate.pcap",
    "reasm_crash_anon.pcapng",
    "reasm_segv_anon.pcapng",
    "rtsp.pcap",
    "sctp.cap",
    "smtps.pcapng",
    "ssh.pcap",
    "steam.pcapng",
    "tls-appdata.pcap",
    "tls_1.2_unidirectional_client_no_cert.pcapng",
    "tls_1.3_unidirectional_server.pcapng",
    "tls_alert.pcap",
    "tls_ech.pcapng",
    "tls_esni_sni_both.pcap",
    "tls_missing_ch_frag.pcap",
    "tls_with_huge_ch.pcapng",
    "webdav.pcap",
    "webex.pcap",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for derived inputs, inside the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn validator() -> jsonschema::Validator {
    let path = root().join("docs/schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/schema.json is readable");
    let schema: Value = serde_json::from_str(&text).expect("docs/schema.json is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("docs/schema.json is a valid draft 2020-12 schema")
}

/// Runs `connreuse --format json` on `inputs`; returns the exit code and
/// the document on stdout.
fn report<S: AsRef<OsStr>>(inputs: &[S], stdin: Option<&Path>) -> (i32, Value) {
    let stdin = match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).expect("stdin file")),
        None => Stdio::null(),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_connreuse"))
        .args(["--quiet", "--format", "json"])
        .args(inputs)
        .current_dir(root())
        .stdin(stdin)
        .stderr(Stdio::null())
        .output()
        .expect("connreuse runs");
    let code = out.status.code().expect("connreuse exits with a code");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of connreuse {:?} is no JSON document ({e})",
            inputs.iter().map(|i| i.as_ref()).collect::<Vec<_>>()
        )
    });
    (code, doc)
}

/// The schema's complaints about `doc`, plus the references it cannot check.
fn problems(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .iter_errors(doc)
        .map(|e| {
            let mut text = format!("{}: {e}", e.instance_path());
            if let Some((cut, _)) = text.char_indices().nth(300) {
                text.truncate(cut);
                text.push_str("...");
            }
            text
        })
        .collect();
    if out.is_empty() {
        out.extend(reference_problems(doc));
    }
    out
}

fn len(doc: &Value, key: &str) -> usize {
    doc[key].as_array().map_or(0, Vec::len)
}

/// Indices into `connections[]` in range; totals that are lengths agree.
fn reference_problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let conns = len(doc, "connections");
    for (total, list) in [
        ("captures", "captures"),
        ("tcp_connections", "connections"),
        ("servers", "servers"),
        ("findings", "findings"),
    ] {
        if doc["totals"][total].as_u64() != Some(len(doc, list) as u64) {
            out.push(format!("totals.{total} is not the length of {list}[]"));
        }
    }
    let index = |v: &Value| v.as_u64().is_some_and(|i| (i as usize) < conns);
    for (list, field) in [("requests", "connection"), ("anomalies", "connection")] {
        for (i, item) in doc[list].as_array().into_iter().flatten().enumerate() {
            if !index(&item[field]) {
                out.push(format!(
                    "{list}[{i}].{field} is no index into connections[]"
                ));
            }
        }
    }
    let mut grouped = 0;
    for (list, field) in [("servers", "connection_ids"), ("findings", "connections")] {
        for (i, item) in doc[list].as_array().into_iter().flatten().enumerate() {
            let ids = item[field].as_array().map_or(&[][..], Vec::as_slice);
            if !ids.iter().all(index) {
                out.push(format!(
                    "{list}[{i}].{field} holds no index into connections[]"
                ));
            }
            if list == "servers" {
                grouped += ids.len();
            }
        }
    }
    if grouped != conns {
        out.push(format!(
            "servers[] group {grouped} connections, connections[] has {conns}"
        ));
    }
    out
}

/// Validates every document; fails once, naming every input that failed.
fn check_all(v: &jsonschema::Validator, runs: &[(String, i32, Value)]) {
    let failures: Vec<String> = runs
        .iter()
        .filter_map(|(name, _, doc)| {
            let p = problems(v, doc);
            (!p.is_empty()).then(|| {
                let shown: Vec<&str> = p.iter().take(5).map(String::as_str).collect();
                format!("{name} ({} problems):\n  {}", p.len(), shown.join("\n  "))
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} documents do not match docs/schema.json:\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n")
    );
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("pcap" | "pcapng" | "gz")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Copies the first `n` bytes of `src` to `dir`, named after `src` and `n`.
fn cut(src: &Path, n: u64, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(src).expect("capture is readable");
    let n = usize::try_from(n).expect("offset fits");
    let dst = dir.join(format!("{}-cut{n}", name(src)));
    std::fs::write(&dst, bytes.get(..n).expect("offset inside the file")).expect("cut written");
    dst
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).expect("capture exists").len()
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let text = std::fs::read_to_string(root().join("docs/schema.json")).expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("docs/schema.json against the draft 2020-12 meta-schema: {e}");
    }
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "the schema names its draft"
    );
    assert_eq!(schema["properties"]["schema_version"]["const"], 1);
}

#[test]
fn reports_on_the_bundled_captures_match_the_schema() {
    let v = validator();
    let mut inputs = captures_in(&root().join("testdata/captures"));
    let bundled = inputs.len();
    inputs.extend(captures_in(&root().join("testdata/unit")));
    assert!(bundled >= 20, "testdata/captures holds its 20 captures");
    let mut runs: Vec<(String, i32, Value)> = inputs
        .iter()
        .map(|p| {
            let (code, doc) = report(&[p], None);
            (name(p), code, doc)
        })
        .collect();
    // Every bundled capture at once: one document, several captures.
    let all = &inputs[..bundled];
    let (code, doc) = report(all, None);
    assert_eq!(doc["captures"].as_array().map(Vec::len), Some(bundled));
    runs.push(("testdata/captures/* together".to_string(), code, doc));
    // stdin.
    let h2c = root().join("testdata/captures/nghttp-h2c.pcap");
    let (code, doc) = report(&["-"], Some(&h2c));
    assert_eq!(doc["captures"][0]["file"], "-");
    runs.push(("nghttp-h2c.pcap on stdin".to_string(), code, doc));
    for (name, code, _) in &runs {
        assert_eq!(*code, 0, "{name}: exit status");
    }
    check_all(&v, &runs);
}

#[test]
fn reports_on_damaged_and_unreadable_inputs_match_the_schema() {
    let v = validator();
    let dir = scratch("schema-damaged");
    let mut runs = Vec::new();
    // Cut inside a record: the last one (length - 1) and one two thirds in.
    // The report covers the records before the cut and exits 3.
    for capture in [
        "go-h2-concurrent-cancelled.pcap",
        "curl-h2-parallel.pcapng",
        "go-h1-drained.pcap",
        "go-resume-tls13.pcapng",
        "nghttp-h2c.pcap",
    ] {
        let src = root().join("testdata/captures").join(capture);
        let size = file_len(&src);
        for n in [size - 1, size * 2 / 3] {
            let p = cut(&src, n, &dir);
            let (code, doc) = report(&[&p], None);
            assert_eq!(code, 3, "{capture} cut at {n}: exit status");
            assert!(
                doc["captures"][0]["error"].is_string(),
                "{capture} cut at {n}: error"
            );
            runs.push((name(&p), code, doc));
        }
    }
    // A gzip stream cut short stops reading with an error (exit 2 or 3).
    let gz = cut(
        &root().join("testdata/captures/go-plain-idle.pcap.gz"),
        600,
        &dir,
    );
    let (code, doc) = report(&[&gz], None);
    assert!(matches!(code, 2 | 3), "cut gzip: exit status {code}");
    assert!(doc["captures"][0]["error"].is_string(), "cut gzip: error");
    runs.push((name(&gz), code, doc));
    // Not a capture, and no file at all: exit 2, still one document.
    for p in [
        root().join("testdata/README.md"),
        dir.join("no-such-file.pcap"),
    ] {
        let (code, doc) = report(&[&p], None);
        assert_eq!(code, 2, "{}: exit status", p.display());
        assert_eq!(doc["captures"][0]["format"], Value::Null);
        runs.push((name(&p), code, doc));
    }
    check_all(&v, &runs);
}

#[test]
fn reports_on_a_corpus_sample_match_the_schema() {
    let corpus = root().join(CORPUS);
    if !corpus.is_dir() {
        eprintln!("{CORPUS} is absent: corpus sample skipped");
        return;
    }
    let v = validator();
    let dir = scratch("schema-corpus");
    let mut runs = Vec::new();
    let mut exits: BTreeSet<i32> = BTreeSet::new();
    for file in CORPUS_SAMPLE {
        let p = corpus.join(file);
        if !p.is_file() {
            eprintln!("{file}: not in the corpus, skipped");
            continue;
        }
        let (code, doc) = report(&[&p], None);
        assert!(matches!(code, 0 | 2 | 3), "{file}: exit status {code}");
        exits.insert(code);
        runs.push((file.to_string(), code, doc));
    }
    // Corpus captures cut inside a record: exit 3.
    for file in ["443-chrome.pcap", "http.pcapng", "tls_ech.pcapng"] {
        let src = corpus.join(file);
        if !src.is_file() {
            continue;
        }
        let size = file_len(&src);
        for n in [size - 1, size * 2 / 3] {
            let p = cut(&src, n, &dir);
            let (code, doc) = report(&[&p], None);
            assert_eq!(code, 3, "{file} cut at {n}: exit status");
            exits.insert(code);
            runs.push((name(&p), code, doc));
        }
    }
    assert!(
        runs.len() >= 40,
        "only {} corpus runs: the corpus changed",
        runs.len()
    );
    assert_eq!(exits, BTreeSet::from([0, 2, 3]), "exit statuses seen");
    check_all(&v, &runs);
}

/// Appends one legacy pcap record (LINKTYPE_RAW): IPv4 and a 20-byte TCP
/// header from `src` to `dst` with `flags`, then `payload`.
fn pcap_record(
    out: &mut Vec<u8>,
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) {
    let len = 40 + payload.len();
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    // IPv4 (RFC 791) without options; TCP (RFC 9293 section 3.1).
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.1.to_be_bytes());
    out.extend_from_slice(&dst.1.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// A capture of one connection that makes the TCP layer give up: after the
/// handshake, a server segment 2^31 bytes off its stream (out_of_window),
/// then 3000 client segments of 1400 bytes behind a 1400-byte hole, more
/// than the 4 MiB a direction buffers (reassembly_cap).
fn capture_with_tcp_limits(dir: &Path) -> PathBuf {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    let (client, server) = (([10, 0, 0, 1], 40_000), ([10, 0, 0, 2], 8080));
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    pcap_record(&mut out, client, server, 100, SYN, &[]);
    pcap_record(&mut out, server, client, 900, SYN | ACK, &[]);
    pcap_record(&mut out, server, client, 901 + (1 << 31), ACK, b"far");
    let payload = [0x61u8; 1400];
    for k in 1..=3000u32 {
        pcap_record(&mut out, client, server, 101 + 1400 * k, ACK, &payload);
    }
    let p = dir.join("tcp-limits.pcap");
    std::fs::write(&p, out).expect("capture written");
    p
}

/// A document holding every object type: two TLS 1.2 connections with a
/// finding, a session ticket and TLS anomalies (one application-data
/// record's type byte set to 0x40: bad_record_header, then resync), HTTP/1
/// requests with an HTTP anomaly (`Content-Length: 4x0`: bad_content_length),
/// h2c requests with stream ids on three connections (a parallel_h2
/// finding), and a connection with TCP anomalies and nonzero limits.
/// Made once: the tests that read it run in parallel, and each writing the
/// same captures while another read them made it cut short at times.
fn document_with_every_object() -> Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(make_document_with_every_object).clone()
}

fn make_document_with_every_object() -> Value {
    let dir = scratch("schema-mutations");
    let edit = |capture: &str, find: &[u8], replace: &[u8]| {
        let mut bytes = std::fs::read(root().join("testdata/captures").join(capture))
            .expect("capture is readable");
        let at = bytes
            .windows(find.len())
            .position(|w| w == find)
            .expect("bytes to edit are in the capture");
        bytes
            .get_mut(at..at + replace.len())
            .expect("edit inside the file")
            .copy_from_slice(replace);
        let p = dir.join(format!("edited-{capture}"));
        std::fs::write(&p, bytes).expect("edited capture written");
        p
    };
    let tls = edit("go-resume-tls12-ticket.pcap", b"\x17\x03\x03", b"\x40");
    let http1 = edit(
        "go-plain-keepalive.pcap",
        b"Content-Length: 400",
        b"Content-Length: 4x0",
    );
    let h2c = root().join("testdata/captures/curl-h2c.pcap");
    let tcp = capture_with_tcp_limits(&dir);
    let (code, doc) = report(&[tls, http1, h2c, tcp], None);
    assert_eq!(code, 0);
    let layers: BTreeSet<&str> = doc["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["layer"].as_str())
        .collect();
    assert_eq!(
        layers,
        BTreeSet::from(["http", "tcp", "tls"]),
        "anomalies of every layer"
    );
    let tcp_kinds: BTreeSet<&str> = doc["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["layer"] == "tcp")
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(
        tcp_kinds,
        BTreeSet::from(["out_of_window", "reassembly_cap"])
    );
    assert_eq!(doc["captures"][3]["limits"]["reassembly_cap_hits"], 1);
    assert_eq!(doc["totals"]["limits"]["segments_out_of_window"], 1);
    assert!(doc.pointer("/findings/0/evidence").is_some(), "a finding");
    assert!(
        doc["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["stream_id"].is_u64()),
        "an HTTP/2 request"
    );
    doc
}

/// JSON pointers to the first object at each place in the document (array
/// positions taken as one), e.g. "/connections/0/tls".
fn object_places(
    v: &Value,
    pointer: String,
    shape: String,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    match v {
        Value::Object(map) => {
            if seen.insert(shape.clone()) {
                out.push(pointer.clone());
            }
            for (k, x) in map {
                object_places(
                    x,
                    format!("{pointer}/{k}"),
                    format!("{shape}/{k}"),
                    seen,
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                object_places(
                    x,
                    format!("{pointer}/{i}"),
                    format!("{shape}/[]"),
                    seen,
                    out,
                );
            }
        }
        _ => {}
    }
}

#[test]
fn schema_rejects_removed_renamed_and_added_fields() {
    let v = validator();
    let doc = document_with_every_object();
    assert!(problems(&v, &doc).is_empty(), "{:?}", problems(&v, &doc));
    let mut places = Vec::new();
    object_places(
        &doc,
        String::new(),
        String::new(),
        &mut BTreeSet::new(),
        &mut places,
    );
    let mut accepted = Vec::new();
    let mut tried = 0;
    for place in &places {
        let keys: Vec<String> = doc
            .pointer(place)
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        // Evidence names depend on the finding's kind; some are optional.
        let optional = place.ends_with("/evidence");
        for key in keys {
            let mut mutations = vec![("renamed", format!("{key}_renamed"))];
            if !optional {
                mutations.push(("removed", String::new()));
            }
            for (what, new_key) in mutations {
                let mut changed = doc.clone();
                let obj = changed
                    .pointer_mut(place)
                    .and_then(Value::as_object_mut)
                    .expect("object");
                let value = obj.remove(&key).expect("key");
                if !new_key.is_empty() {
                    obj.insert(new_key, value);
                }
                tried += 1;
                if v.is_valid(&changed) {
                    accepted.push(format!("{place}/{key} {what}"));
                }
            }
        }
        let mut changed = doc.clone();
        if let Some(obj) = changed.pointer_mut(place).and_then(Value::as_object_mut) {
            obj.insert("added_field".to_string(), Value::Bool(true));
            tried += 1;
            if v.is_valid(&changed) {
                accepted.push(format!("{place}/added_field added"));
            }
        }
    }
    for place in [
        "/captures/0",
        "/totals/tls_handshakes",
        "/servers/0/tls_handshakes",
        "/findings/0/evidence",
        "/connections/0/packets",
        "/connections/0/tls/session_ticket",
        "/connections/0/tls/client_app",
        "/connections/0/http",
        "/requests/0",
        "/anomalies/0",
        "/captures/0/limits",
        "/totals/limits",
    ] {
        let shape = |p: &str| -> String {
            p.split('/')
                .map(|s| if s.parse::<usize>().is_ok() { "0" } else { s })
                .collect::<Vec<_>>()
                .join("/")
        };
        assert!(
            places.iter().any(|p| shape(p) == place),
            "{place} not mutated"
        );
    }
    assert!(
        tried > 150,
        "only {tried} mutations: the document lost objects"
    );
    assert!(
        accepted.is_empty(),
        "docs/schema.json accepts changed documents:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn schema_rejects_unknown_enum_values_and_malformed_strings() {
    let v = validator();
    let doc = document_with_every_object();
    let cases: &[(&str, Value)] = &[
        ("/schema_version", Value::from(2)),
        ("/captures/0/format", Value::from("erf")),
        ("/connections/0/protocol", Value::from("quic")),
        ("/connections/0/close", Value::from("timeout")),
        ("/connections/0/closed_by", Value::from("both")),
        (
            "/connections/0/start",
            Value::from("2026-11-26T01:47:52.223117Z"),
        ),
        (
            "/connections/0/start",
            Value::from("2026-11-26 01:47:52.223117000Z"),
        ),
        (
            "/connections/0/end",
            Value::from("2026-02-30T01:47:52.223117000Z"),
        ),
        ("/connections/0/client", Value::from("127.0.0.1")),
        ("/connections/0/server", Value::from("::1:443")),
        ("/connections/0/tls/outcome", Value::from("done")),
        ("/connections/0/tls/alpn_source", Value::from("alpn")),
        ("/connections/0/tls/version", Value::from("TLSv1.2")),
        (
            "/connections/0/tls/ja3",
            Value::from("1AEC235EC8DD0322C68D253A863B5EED"),
        ),
        ("/connections/0/tls/session_ticket", Value::from("ticket")),
        (
            "/connections/0/tls/late_handshake_records",
            serde_json::json!([0, 1, 2]),
        ),
        ("/connections/0/http/requests_basis", Value::from("guessed")),
        ("/connections/0/http/protocol_basis", Value::from("port")),
        ("/servers/0/name_source", Value::from("dns")),
        ("/servers/0/protocols", serde_json::json!(["h3"])),
        ("/findings/0/kind", Value::from("slow_start")),
        ("/anomalies/0/layer", Value::from("ip")),
        ("/anomalies/0/kind", Value::from("bad_content_length")),
        ("/anomalies/0/kind", Value::from("evicted")),
        ("/requests/0/stream_id", Value::from(0)),
    ];
    let mut accepted = Vec::new();
    for (pointer, value) in cases {
        let mut changed = doc.clone();
        *changed
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer} is in the document")) = value.clone();
        if v.is_valid(&changed) {
            accepted.push(format!("{pointer} = {value}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "docs/schema.json accepts:\n{}",
        accepted.join("\n")
    );
}

/// What the schema must accept beyond the bundled captures: an evicted
/// connection (the field appears only then) and each TCP anomaly kind,
/// which only the layer `tcp` may carry.
#[test]
fn schema_accepts_evicted_connections_and_every_tcp_anomaly() {
    let v = validator();
    let doc = document_with_every_object();
    let mut evicted = doc.clone();
    evicted["connections"][0]["evicted"] = Value::Bool(true);
    assert_eq!(problems(&v, &evicted), Vec::<String>::new());
    evicted["connections"][0]["evicted"] = Value::Bool(false);
    assert!(!v.is_valid(&evicted), "evicted: false is never printed");
    for kind in [
        "evicted",
        "reassembly_cap",
        "reassembly_budget",
        "out_of_window",
    ] {
        let mut changed = doc.clone();
        let a = serde_json::json!({"connection": 0, "layer": "tcp", "kind": kind,
            "side": null, "packet": 1, "bytes": null});
        changed["anomalies"]
            .as_array_mut()
            .expect("anomalies[]")
            .push(a);
        assert_eq!(problems(&v, &changed), Vec::<String>::new(), "{kind}");
        let last = changed["anomalies"].as_array().map_or(0, Vec::len) - 1;
        changed["anomalies"][last]["layer"] = Value::from("http");
        assert!(!v.is_valid(&changed), "{kind} accepted at the http layer");
    }
}
