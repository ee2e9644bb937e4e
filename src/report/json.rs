//! The whole ledger as one JSON document (layout in docs/JSON.md).

use crate::ledger::Ledger;
use std::io::{self, Write};

pub fn render(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, ledger)?;
    out.write_all(b"\n")
}
