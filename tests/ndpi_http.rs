//! Cleartext HTTP requests over the nDPI corpus against tshark: HTTP/1.x
//! requests over TCP plus HTTP/2 streams carrying a :method
//! (testdata/oracle/ndpi-http-requests.tsv, made by
//! scripts/tshark-http-requests.sh with the commands written there). On at
//! least 95% of the captures where tshark finds any, connreuse's observed
//! request count must be the same; docs/CROSSCHECK.md explains the others.

use connreuse::analyze;
use std::path::Path;

#[test]
fn cleartext_request_counts_agree_with_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ndpi");
    if !root.is_dir() {
        eprintln!("skipped: ../shared/corpus/ndpi is not there");
        return;
    }
    let oracle = include_str!("../testdata/oracle/ndpi-http-requests.tsv");
    let (mut total, mut same, mut differ) = (0, 0, Vec::new());
    for line in oracle.lines() {
        let mut cols = line.split('\t');
        let (Some(name), Some(h1), Some(h2)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let tshark = h1.parse::<u64>().unwrap_or(0) + h2.parse::<u64>().unwrap_or(0);
        if tshark == 0 {
            continue;
        }
        let result = analyze::file(&root.join(name), &Default::default(), None);
        let ours: u64 = result
            .connections
            .to_vec()
            .expect("records")
            .iter()
            .filter_map(|c| c.http.as_ref())
            .filter(|h| h.requests_basis == connreuse::ledger::Basis::Observed)
            .filter_map(|h| h.requests)
            .sum();
        total += 1;
        if ours == tshark {
            same += 1;
        } else {
            differ.push(format!(
                "{name}: tshark {tshark} ({h1} + {h2}), connreuse {ours}"
            ));
        }
    }
    eprintln!("HTTP requests: {same} of {total} captures agree; differing: {differ:#?}");
    assert!(total > 50, "only {total} captures with requests");
    assert!(same * 100 >= total * 95, "{same} of {total}: {differ:#?}");
}
