//! A readable table for the terminal.

use crate::ledger::{Close, Ledger};
use std::io::{self, Write};

pub fn render(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    let t = &ledger.totals;
    for c in &ledger.captures {
        writeln!(
            out,
            "{}: {} packets, {} TCP",
            c.file, c.packets, c.tcp_packets
        )?;
    }
    writeln!(
        out,
        "{} TCP connections, {} TCP handshakes (client SYN seen)\n",
        t.tcp_connections, t.tcp_handshakes
    )?;
    if ledger.connections.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{:>5}  {:<22} {:<22} {:>6} {:>9} {:>13} {:>8}  {:<8}",
        "first", "client", "server", "syn", "secs", "packets c/s", "close", "protocol"
    )?;
    for c in &ledger.connections {
        let tcp = &c.tcp;
        let close = match (tcp.closed_by, tcp.close) {
            (Some(side), Some(how)) => format!(
                "{}:{}",
                match side {
                    crate::Side::Client => "c",
                    crate::Side::Server => "s",
                },
                match how {
                    Close::Fin => "fin",
                    Close::Rst => "rst",
                }
            ),
            _ => "open".to_string(),
        };
        let syn = match (tcp.syn_seen, tcp.role_inferred) {
            (true, _) => "yes",
            (false, true) => "no*",
            (false, false) => "no",
        };
        writeln!(
            out,
            "{:>5}  {:<22} {:<22} {:>6} {:>9.3} {:>13} {:>8}  {:<8}",
            tcp.first_packet,
            tcp.client.to_string(),
            tcp.server.to_string(),
            syn,
            tcp.end.secs_since(tcp.start),
            format!("{}/{}", tcp.packets.client, tcp.packets.server),
            close,
            serde_json::to_value(c.protocol)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        )?;
    }
    writeln!(
        out,
        "\nno* = capture began mid-connection; client and server inferred"
    )
}
