//! Sweep over the nDPI project's 544 public captures (../shared/corpus/ndpi,
//! outside the repository): every capture is read without panic or hang,
//! and the number of TCP connections agrees with tshark's count of
//! tcp.stream values (testdata/oracle/ndpi-tcp-streams.tsv, made by
//! scripts/tshark-tcp-streams.sh) on at least 95% of the captures that
//! contain TCP. The known exceptions are explained in docs/CROSSCHECK.md.

use connreuse::analyze;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const CORPUS: &str = "../shared/corpus/ndpi";

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            )
        })
        .collect();
    files.sort();
    Some(files)
}

fn oracle() -> BTreeMap<String, usize> {
    let text = include_str!("../testdata/oracle/ndpi-tcp-streams.tsv");
    text.lines()
        .filter_map(|l| {
            let (name, n) = l.split_once('\t')?;
            Some((name.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

/// Runs one capture on its own thread: a panic or a run over `limit`
/// fails the sweep with the file's name.
fn analyze_bounded(path: &Path, limit: Duration) -> Result<analyze::CaptureResult, String> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(|| analyze::file(&p, &Default::default(), None));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(_)) => Err(format!("{}: panicked", path.display())),
        Err(_) => Err(format!("{}: no result within {limit:?}", path.display())),
    }
}

#[test]
fn ndpi_corpus_reads_without_panic_and_agrees_with_tshark() {
    let Some(files) = corpus() else {
        eprintln!("skipped: {CORPUS} is not there");
        return;
    };
    assert!(
        files.len() > 500,
        "corpus incomplete: {} files",
        files.len()
    );
    let oracle = oracle();
    let mut failures = Vec::new();
    let (mut with_tcp, mut agree) = (0, 0);
    let mut differ = Vec::new();
    for path in &files {
        let result = match analyze_bounded(path, Duration::from_secs(60)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match oracle.get(name) {
            Some(0) | None => {}
            Some(&tshark) => {
                with_tcp += 1;
                if tshark == result.connections.len() {
                    agree += 1;
                } else {
                    differ.push(format!(
                        "{name}: tshark {tshark}, connreuse {}",
                        result.connections.len()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("tcp.stream agreement: {agree} of {with_tcp}; differing: {differ:#?}");
    assert!(with_tcp > 300, "oracle covers {with_tcp} captures with TCP");
    assert!(
        agree * 100 >= with_tcp * 95,
        "agreement {agree}/{with_tcp} is under 95%: {differ:#?}"
    );
}
