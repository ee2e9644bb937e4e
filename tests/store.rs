//! Finished connections set aside and read back (`ledger::store`): what the
//! report reads is what the analysis set aside, whether the records stayed
//! in memory or went to a temporary file, over every real-client capture
//! (decrypted with its key log where it has one, so that requests and
//! anomalies are in the records).

use connreuse::analyze::{self, Keep, Threads};
use connreuse::keys::KeyLog;
use connreuse::ledger::store::{Builder, Encoding};
use connreuse::ledger::{Anomaly, Connection, Connections, Digest, Layer, Ledger};
use connreuse::report::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn captures() -> Vec<(PathBuf, Arc<KeyLog>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures");
    let mut out: Vec<(PathBuf, Arc<KeyLog>)> = std::fs::read_dir(&dir)
        .expect("testdata/captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .map(|p| {
            let keys = std::fs::read(p.with_extension("keys"))
                .map(|text| KeyLog::parse(&text).0)
                .unwrap_or_default();
            (p, Arc::new(keys))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 20, "{} captures", out.len());
    out
}

/// `conns` set aside again, every record in a temporary file.
fn spilled(name: &str, conns: &[Connection]) -> Connections {
    let mut b = Builder::new(Arc::from(name), true).spill_at(0);
    conns.iter().cloned().for_each(|c| b.push(c));
    b.finish()
}

#[test]
fn records_read_back_from_a_temporary_file_are_those_set_aside() {
    let (mut requests, mut anomalies, mut evicted) = (0, 0, 0);
    for (path, keys) in captures() {
        let result = analyze::file(&path, &keys, None);
        assert!(result.error.is_none(), "{}", path.display());
        assert!(
            !result.connections.spilled(),
            "small captures stay in memory"
        );
        let mut conns = result.connections.to_vec().expect("records");
        // The one field left out of the compact form when false, and an
        // anomaly (these captures have none).
        if let Some(c) = conns.first_mut() {
            c.tcp.evicted = true;
            c.anomalies.push(Anomaly {
                connection: 0,
                layer: Layer::Tcp,
                kind: "evicted".into(),
                side: None,
                packet: c.tcp.first_packet,
                bytes: Some(7),
            });
            evicted += 1;
        }
        let back = spilled(&result.info.file, &conns);
        assert!(back.spilled(), "{}", path.display());
        assert_eq!(
            back.to_vec().expect("read back"),
            conns,
            "{}",
            path.display()
        );
        requests += conns.iter().map(|c| c.requests.len()).sum::<usize>();
        anomalies += conns.iter().map(|c| c.anomalies.len()).sum::<usize>();
    }
    // The records carried something to lose.
    assert!(requests > 400, "{requests} requests");
    assert!(anomalies >= 20 && evicted >= 20, "{anomalies} anomalies");
}

#[test]
fn the_json_report_is_the_same_from_memory_or_a_file() {
    for (path, keys) in captures() {
        let memory = analyze::file(&path, &keys, None);
        let conns = memory.connections.to_vec().expect("records");
        let on_disk = spilled(&memory.info.file, &conns);
        let info = memory.info.clone();
        let a = serde_json::to_string(&Ledger::new(vec![(memory.info, memory.connections)]));
        let b = serde_json::to_string(&Ledger::new(vec![(info, on_disk)]));
        assert_eq!(a.expect("JSON"), b.expect("JSON"), "{}", path.display());
    }
}

/// Records set aside on a second thread (`analyze::Threads::Helpers`) give
/// the same reports as on the reading thread: the JSON document from
/// records kept as its text and from decoded records, for every capture
/// with its key log (so that requests and anomalies are in the records),
/// and with the nDPI corpus's WebattackRCE (797 connections carrying requests) when it is there.
#[test]
fn records_set_aside_on_a_second_thread_give_the_same_reports() {
    let mut inputs = captures();
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ndpi/WebattackRCE.pcap");
    if corpus.exists() {
        inputs.push((corpus, Arc::default()));
    }
    let render = |r: analyze::CaptureResult| {
        let mut out = Vec::new();
        json::render(&Ledger::new(vec![(r.info, r.connections)]), &mut out, false)
            .expect("written");
        String::from_utf8(out).expect("UTF-8")
    };
    let mut requests = 0;
    for (path, keys) in inputs {
        for keep in [Keep::JsonText, Keep::Records] {
            let one = render(analyze::file_on(&path, &keys, None, keep, Threads::One));
            let two = render(analyze::file_on(&path, &keys, None, keep, Threads::Helpers));
            assert_eq!(one, two, "{} {keep:?}", path.display());
            let doc: serde_json::Value = serde_json::from_str(&two).expect("JSON");
            requests += doc["requests"].as_array().map_or(0, Vec::len);
        }
    }
    assert!(requests > 800, "{requests} requests listed");
}

/// Digests sorted in runs of three in a temporary file, and grouped by
/// server in runs of three, give the same reports as digests kept in
/// memory: the JSON document (servers' connection lists included), the
/// table with its connections, the CSV files and the HTML page, for every
/// capture alone and all of them in one ledger, and a digest reads back
/// as it was set aside.
#[test]
fn digests_in_runs_on_disk_give_the_same_reports() {
    let reports = |l: &mut Ledger| {
        l.set_findings(connreuse::findings::diagnose(l));
        l.readable().expect("digests read back");
        let json = serde_json::to_string(&*l).expect("JSON");
        let mut table = Vec::new();
        let style = connreuse::report::table::Style {
            colour: false,
            connections: true,
        };
        connreuse::report::table::render(l, &mut table, style).expect("table");
        let mut html = Vec::new();
        connreuse::report::html::write_html(l, &mut html).expect("HTML");
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = connreuse::report::csv::write_csv(l, dir.path(), &[]).expect("CSV");
        let csv: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("CSV file"))
            .collect();
        (json, String::from_utf8(table).expect("UTF-8"), html, csv)
    };
    let (mut memory, mut on_disk) = (Vec::new(), Vec::new());
    for (path, keys) in captures() {
        let result = analyze::file(&path, &keys, None);
        let conns = result.connections.to_vec().expect("records");
        // Last first: the runs must sort what they are given.
        let mut b = Builder::new(Arc::from(result.info.file.as_str()), true).digests_in_memory(3);
        conns.iter().rev().cloned().for_each(|c| b.push(c));
        let runs = b.finish();
        assert_eq!(
            runs.digests.spilled(),
            conns.len() >= 3,
            "{}",
            path.display()
        );
        let kept: Vec<Digest> = result
            .connections
            .digests
            .iter()
            .map(|d| d.expect("digest"))
            .collect();
        let back: Vec<Digest> = runs.digests.iter().map(|d| d.expect("digest")).collect();
        assert_eq!(kept.len(), back.len());
        for (k, b) in kept.iter().zip(&back) {
            // The records were written in another order.
            let mut b = b.clone();
            b.loc = k.loc;
            assert_eq!(k, &b, "{}", path.display());
        }
        let mut a = Ledger::new(vec![(result.info.clone(), result.connections)]);
        let mut b = Ledger::with_digests_in_memory(vec![(result.info.clone(), runs)], 3);
        assert!(reports(&mut a) == reports(&mut b), "{}", path.display());
        memory.push((
            result.info.clone(),
            analyze::file(&path, &keys, None).connections,
        ));
        let mut again =
            Builder::new(Arc::from(result.info.file.as_str()), true).digests_in_memory(3);
        conns.into_iter().rev().for_each(|c| again.push(c));
        on_disk.push((result.info, again.finish()));
    }
    let (mut a, mut b) = (
        Ledger::new(memory),
        Ledger::with_digests_in_memory(on_disk, 3),
    );
    let (a, b) = (reports(&mut a), reports(&mut b));
    assert!(a.0.len() > 100_000, "{} bytes of JSON", a.0.len());
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert!(a == b);
}

/// Records kept as the compact JSON report's text (`Keep::JsonText`, a run
/// whose only report is that document) give it byte for byte as serde_json
/// writes it from the decoded records: in memory or from a temporary file,
/// one capture or all of them in one ledger, with an anomaly added to a
/// record of each capture (these captures have none).
#[test]
fn records_kept_as_json_text_give_the_same_document() {
    let mut as_records = Vec::new();
    let mut as_text = Vec::new();
    for (path, keys) in captures() {
        let decoded = analyze::file(&path, &keys, None);
        let text = analyze::file_keeping(&path, &keys, None, Keep::JsonText);
        assert_eq!(text.connections.store.encoding(), Encoding::Json);
        let mut conns = decoded.connections.to_vec().expect("records");
        if let Some(c) = conns.first_mut() {
            c.anomalies.push(Anomaly {
                connection: 0,
                layer: Layer::Http,
                kind: "bad_content_length".into(),
                side: Some(connreuse::Side::Client),
                packet: c.tcp.first_packet,
                bytes: None,
            });
        }
        let name = decoded.info.file.clone();
        let mut text_spilled = Builder::new(Arc::from(name.as_str()), true)
            .encoding(Encoding::Json)
            .spill_at(0);
        conns.iter().cloned().for_each(|c| text_spilled.push(c));
        let text_spilled = text_spilled.finish();
        assert!(text_spilled.spilled());
        let reference = |info, conns| {
            serde_json::to_string(&Ledger::new(vec![(info, conns)])).expect("JSON") + "\n"
        };
        let rendered = |l: &Ledger, pretty| {
            let mut out = Vec::new();
            json::render(l, &mut out, pretty).expect("written");
            String::from_utf8(out).expect("UTF-8")
        };
        let want = reference(decoded.info.clone(), spilled(&name, &conns));
        let ledger = Ledger::new(vec![(decoded.info.clone(), text_spilled)]);
        assert!(ledger.records_as_json_text());
        assert_eq!(rendered(&ledger, false), want, "{}", path.display());
        // Nothing else reads them, so even asked for indented JSON it is
        // the compact document.
        assert_eq!(rendered(&ledger, true), want, "{}", path.display());
        let plain = Ledger::new(vec![(text.info, text.connections)]);
        assert_eq!(
            rendered(&plain, false),
            reference(decoded.info, decoded.connections),
            "{}",
            path.display()
        );
        as_records.push(analyze::file(&path, &keys, None));
        as_text.push(analyze::file_keeping(&path, &keys, None, Keep::JsonText));
    }
    let all = |results: Vec<analyze::CaptureResult>| {
        Ledger::new(
            results
                .into_iter()
                .map(|r| (r.info, r.connections))
                .collect(),
        )
    };
    let (records, text) = (all(as_records), all(as_text));
    let mut out = Vec::new();
    json::render(&text, &mut out, false).expect("written");
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert!(doc["requests"].as_array().is_some_and(|r| r.len() > 400));
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        serde_json::to_string(&records).expect("JSON") + "\n"
    );
}

/// Text that JSON escapes (line breaks, quotes, backslashes, control and
/// non-ASCII characters) in a request and an anomaly kept as JSON text:
/// escaped as serde_json escapes it, and no line break left raw to be
/// taken for the end of an item.
#[test]
fn json_text_records_escape_what_json_escapes() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures/go-plain-keepalive.pcap");
    let result = analyze::file(&path, &Arc::default(), None);
    let mut conns = result.connections.to_vec().expect("records");
    let odd = "/a\nb\r\"q\"\\\u{1}\u{7f}\u{2028}é\n";
    let c = conns.first_mut().expect("a connection");
    let r = c.requests.first_mut().expect("a request");
    r.path = odd.to_string();
    r.authority = Some("x\ny".to_string());
    c.anomalies.push(Anomaly {
        connection: 0,
        layer: Layer::Http,
        kind: "two\nlines".into(),
        side: None,
        packet: 1,
        bytes: None,
    });
    let name = result.info.file.clone();
    let mut text = Builder::new(Arc::from(name.as_str()), true).encoding(Encoding::Json);
    conns.iter().cloned().for_each(|c| text.push(c));
    let mut out = Vec::new();
    let ledger = Ledger::new(vec![(result.info.clone(), text.finish())]);
    json::render(&ledger, &mut out, false).expect("written");
    let want = serde_json::to_string(&Ledger::new(vec![(result.info, spilled(&name, &conns))]))
        .expect("JSON");
    let doc: serde_json::Value = serde_json::from_str(&want).expect("JSON");
    assert_eq!(String::from_utf8(out).expect("UTF-8"), want + "\n");
    assert_eq!(doc["requests"][0]["path"], odd);
    assert_eq!(doc["anomalies"][0]["kind"], "two\nlines");
}

/// The table needs no record: the figures and findings are the same
/// without them, and a report that would list connections says they were
/// not kept rather than listing none.
#[test]
fn without_records_the_figures_are_the_same_and_listing_fails() {
    for (path, keys) in captures() {
        let full = analyze::file(&path, &keys, None);
        let lean = analyze::file_keeping(&path, &keys, None, Keep::Digests);
        let mut full = Ledger::new(vec![(full.info, full.connections)]);
        let mut lean = Ledger::new(vec![(lean.info, lean.connections)]);
        full.set_findings(connreuse::findings::diagnose(&full));
        lean.set_findings(connreuse::findings::diagnose(&lean));
        let figures = |l: &Ledger| {
            serde_json::to_string(&(&l.captures, &l.totals, &l.servers, &l.findings)).expect("JSON")
        };
        assert_eq!(figures(&full), figures(&lean), "{}", path.display());
        let digests = |l: &Ledger| -> Vec<Digest> {
            l.digests()
                .collect::<std::io::Result<_>>()
                .expect("digests")
        };
        let (f, l) = (digests(&full), digests(&lean));
        assert_eq!(f.len(), l.len());
        for (f, l) in f.iter().zip(&l) {
            // Only where the record would be differs.
            let mut l = l.clone();
            l.loc = f.loc;
            assert_eq!(&l, f, "{}", path.display());
        }
        if lean.connection_count() > 0 {
            let err = serde_json::to_string(&lean).expect_err("no records");
            assert!(err.to_string().contains("not kept"), "{err}");
        }
    }
}

/// Connections listed in another order than they began (their first
/// packets reversed, as in a capture whose packets are out of time order):
/// each server's figures and findings are those of the same connections
/// listed in order, the findings' indices mapped, though the rules must
/// then sort each server's connections rather than read them as listed
/// (here in runs of three in the temporary file).
#[test]
fn connections_listed_out_of_the_order_they_began_give_the_same_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = std::collections::BTreeSet::new();
    for capture in [
        "testdata/captures/go-h1-undrained.pcapng",
        "testdata/captures/go-h2-concurrent-tls12.pcap",
        "testdata/captures/curl-h2c.pcap",
        // HTTP/1.1 where h2 was offered (an nDPI capture).
        "../shared/corpus/ndpi/6in4tunnel.pcap",
    ] {
        let path = root.join(capture);
        if !path.exists() && capture.starts_with("../shared") {
            eprintln!("skipped: {capture} not present");
            continue;
        }
        let result = analyze::file(&path, &Arc::default(), None);
        let conns = result.connections.to_vec().expect("records");
        let n = conns.len();
        assert!(n > 1, "{capture}");
        let mut reversed = conns.clone();
        for (i, c) in reversed.iter_mut().enumerate() {
            c.tcp.first_packet = (n - i) as u64;
        }
        // The second sorted by start in runs of three.
        let diagnosed = |conns: Vec<Connection>, batch| {
            let set = Connections::from_vec(&result.info.file, conns);
            let mut l = Ledger::with_digests_in_memory(vec![(result.info.clone(), set)], batch);
            l.set_findings(connreuse::findings::diagnose(&l));
            l
        };
        let (a, b) = (diagnosed(conns, 1 << 16), diagnosed(reversed, 3));
        if b.servers.iter().any(|s| s.connections > 1) {
            assert!(
                b.servers.iter().any(|s| s.in_order == Some(false)),
                "{capture}"
            );
        }
        // Servers come in the order their first listed connection began:
        // compared by name.
        let servers = |l: &Ledger| -> std::collections::BTreeMap<String, String> {
            l.servers
                .iter()
                .map(|s| (s.server.clone(), serde_json::to_string(s).expect("JSON")))
                .collect()
        };
        assert_eq!(servers(&a), servers(&b), "{capture}");
        let findings = |l: &Ledger, map: &dyn Fn(usize) -> usize| {
            let mut all: Vec<(String, String, String, Vec<usize>)> = l
                .findings
                .iter()
                .map(|f| {
                    let mut ids: Vec<usize> = f.connections.iter().map(|&i| map(i)).collect();
                    ids.sort_unstable();
                    let evidence = serde_json::to_string(&f.evidence).expect("JSON");
                    (f.server.clone(), f.message.clone(), evidence, ids)
                })
                .collect();
            all.sort();
            all
        };
        assert_eq!(
            findings(&a, &|i| i),
            findings(&b, &|i| n - 1 - i),
            "{capture}"
        );
        seen.extend(a.findings.iter().map(|f| f.kind));
    }
    // Every rule had a finding to compare (HTTP/1.1 where h2 was offered
    // only in the nDPI capture, when the corpus is there).
    let corpus = root.join("../shared/corpus/ndpi").exists();
    assert_eq!(seen.len(), if corpus { 5 } else { 4 }, "{seen:?}");
}
