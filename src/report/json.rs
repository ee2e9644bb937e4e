//! The whole ledger as one JSON document (layout in docs/JSON.md).

use crate::ledger::Ledger;
use std::io::{self, Write};

/// Writes the ledger indented for reading when `pretty`, else on one line
/// (the only form that can copy records kept as JSON text: a ledger whose
/// records were kept so is written compact, `pretty` or not).
pub fn render(ledger: &Ledger, out: &mut dyn Write, pretty: bool) -> io::Result<()> {
    ledger.readable()?;
    // serde_json writes in pieces of a few bytes: a buffer of a known type
    // takes them without a dynamic call each.
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    if pretty && !ledger.records_as_json_text() {
        serde_json::to_writer_pretty(&mut out, ledger)?;
    } else {
        ledger.write_compact_json(&mut out)?;
    }
    out.write_all(b"\n")?;
    out.flush()
}
