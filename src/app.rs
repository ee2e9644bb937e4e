//! Per-connection protocol dispatch: looks at the first bytes of a
//! connection's streams and hands them to the parser that speaks them.

use crate::flow::Analyzer;
use crate::ledger::Close;
use crate::{At, Side};
use serde::Serialize;

/// What a connection's streams were recognised as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// No payload yet, or not enough to tell.
    #[default]
    Unknown,
    Tls,
    Http1,
    H2c,
    /// Payload that none of our parsers reads.
    Other,
}

/// The analyzer of one connection.
#[derive(Debug, Default)]
pub struct Session {
    pub protocol: Protocol,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }
}

impl Analyzer for Session {
    fn on_data(&mut self, side: Side, data: &[u8], _at: At) {
        if self.protocol == Protocol::Unknown {
            self.protocol = match crate::flow::payload_role(data) {
                Some(_) if data.first() == Some(&0x16) => Protocol::Tls,
                Some(Side::Client) if data.starts_with(b"PRI * HTTP/2.0") => Protocol::H2c,
                Some(_) => Protocol::Http1,
                None => Protocol::Other,
            };
            let _ = side;
        }
    }

    fn on_gap(&mut self, _side: Side, _len: u64, _at: At) {}

    fn on_close(&mut self, _closer: Option<(Side, Close)>, _at: At) {}
}
