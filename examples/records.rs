//! Prints the first application-data records of each TLS connection.
use connreuse::analyze;
fn main() {
    for p in std::env::args().skip(1) {
        let r = analyze::file(std::path::Path::new(&p));
        for c in r.connections.iter().take(3) {
            if let Some(t) = &c.tls {
                let recs: Vec<String> = t.first_records.iter().map(|a| format!("{}{}@{}", if a.side == connreuse::Side::Client { "c" } else { "s" }, a.len, a.packet)).collect();
                let h = &c.handshakes[0];
                println!("{} {:?} sh@{:?} done@{:?} {}", c.tcp.first_packet, t.version, h.server_hello_packet, h.completed_packet, recs.join(" "));
            }
        }
    }
}
