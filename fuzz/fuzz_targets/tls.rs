//! TLS records and handshake messages: one connection's two streams, as the
//! operations of `connreuse_fuzz::ops` (a toggle turns on ciphertext
//! delivery, as a decryptor holding keys would).
#![no_main]

use connreuse::tls::TlsSession;
use connreuse_fuzz::{Op, ops};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut tls = TlsSession::new();
    let mut last = None;
    let mut closed = false;
    for (op, at) in ops(data) {
        last = Some(at);
        match op {
            Op::Data(side, bytes) => tls.on_data(side, bytes, at),
            Op::Gap(side, len) => tls.on_gap(side, len),
            Op::Close(closer) => {
                tls.on_close(closer, at);
                closed = true;
            }
            Op::Toggle => tls.set_deliver_ciphertext(true),
        }
    }
    if !closed {
        tls.on_close(None, last.unwrap_or_default());
    }
    let summary = tls.summary();
    assert!(tls.anomalies().len() <= connreuse::tls::MAX_ANOMALIES);
    assert!(tls.handshakes().len() <= connreuse::tls::MAX_HANDSHAKES);
    serde_json::to_vec(&summary).expect("the summary serialises");
    serde_json::to_vec(tls.handshakes()).expect("handshakes serialise");
});
