//! The ledger: everything the analysis learned, as plain serialisable data.
//! No I/O here; `findings` reads it and `report` renders it.

use crate::Ts;
use serde::Serialize;

/// One HTTP request (HTTP/1.x or one HTTP/2 stream) and its response.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Request {
    /// Index into the report's `connections[]`; filled in when the
    /// connection is entered into the ledger.
    pub connection: usize,
    pub method: String,
    /// `:authority` in HTTP/2, the Host header in HTTP/1.x.
    pub authority: Option<String>,
    pub path: String,
    /// Final (non-1xx) response status; None when no response was seen.
    pub status: Option<u16>,
    /// The HTTP/2 stream id; None for HTTP/1.x.
    pub stream_id: Option<u32>,
    /// Time of the packet carrying the first byte of the request.
    pub start: Ts,
    /// Time of the packet carrying the last byte of the response, if seen.
    pub end: Option<Ts>,
    /// Response body bytes as delivered on the wire (after de-chunking,
    /// before content decoding); None when unknown.
    pub response_bytes: Option<u64>,
}
