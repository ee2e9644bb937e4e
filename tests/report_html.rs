//! The HTML report over the real-client captures, without a browser: one
//! bar per connection, one TLS mark per captured ClientHello, bars of
//! connections that carried requests as many as tshark counts
//! (testdata/expected/NAME.json, made by testdata/expected.sh), no external
//! reference, every capture string escaped. When Chromium is installed the
//! page is also loaded headless and the bars counted in its DOM.
//!
//! `CONNREUSE_HTML_OUT=PATH` (and optionally `CONNREUSE_HTML_CAPTURE=FILE`)
//! makes `page_file_is_written_atomically` leave the page of that capture at
//! PATH: scripts/render-html.sh uses it to take the screenshot.

use connreuse::cli::Config;
use connreuse::ledger::{Finding, FindingKind, Ledger, Request};
use connreuse::report::html::{write_html, write_html_file};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn capture(name: &str) -> PathBuf {
    root().join("testdata/captures").join(name)
}

fn ledger(path: &Path) -> Ledger {
    let mut config = Config::new(vec![path.to_path_buf()]);
    config.html = Some(PathBuf::from("unused.html"));
    let outcome = connreuse::run(&config, None);
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    outcome.ledger
}

fn page(ledger: &Ledger) -> String {
    let mut out = Vec::new();
    write_html(ledger, &mut out).expect("rendered");
    String::from_utf8(out).expect("UTF-8")
}

fn expected(file: &str) -> Value {
    let stem = file.split('.').next().expect("stem");
    let path = root()
        .join("testdata/expected")
        .join(format!("{stem}.json"));
    serde_json::from_slice(&std::fs::read(path).expect("expected file")).expect("JSON")
}

/// Every tag of the page: all literal `<` in text are escaped, so each `<`
/// opens a tag that ends at the next `>`.
fn tags(page: &str) -> Vec<&str> {
    page.split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(tag, _)| tag))
        .collect()
}

fn check_self_contained(name: &str, page: &str) {
    for tag in tags(page) {
        let lower = tag.to_ascii_lowercase();
        for bad in [
            "src=", "http:", "https:", "//", "url(", "@import", "<script", "xlink",
        ] {
            if bad == "//" && lower.starts_with("!--") {
                continue;
            }
            assert!(!lower.contains(bad), "{name}: tag <{tag}> has {bad}");
        }
        if let Some(i) = lower.find("href=") {
            assert!(
                lower[i + 5..].trim_start_matches('"').starts_with('#'),
                "{name}: <{tag}>"
            );
        }
        assert!(!lower.starts_with("script"), "{name}: no script");
    }
    assert!(!page.contains("<link"), "{name}: no stylesheet link");
}

const CAPTURES: &[&str] = &[
    "go-h2-concurrent-tls13.pcapng",
    "go-h2-concurrent-tls12.pcap",
    "curl-h1-keepalive.pcap",
    "go-resume-tls12-ticket.pcap",
    "go-plain-keepalive.pcap",
    "curl-h2c.pcap",
    "nghttp-h2c.pcap",
];

#[test]
fn one_bar_per_connection_agreeing_with_tshark() {
    for file in CAPTURES {
        let ledger = ledger(&capture(file));
        let page = page(&ledger);
        let want = expected(file);
        let conns = want["per_connection"].as_array().expect("per_connection");
        let bars = page.matches("<rect class=\"conn ").count();
        assert_eq!(bars, conns.len(), "{file}: bars against tshark's streams");
        assert_eq!(bars, ledger.connection_count(), "{file}: bars");
        // Every bar has its hover title, opened right after the rect.
        let titled = page.matches("rx=\"1.5\"><title>#").count();
        assert_eq!(titled, bars, "{file}: titles");
        // One handshake mark per connection whose ClientHello tshark saw.
        let hellos = conns
            .iter()
            .filter(|c| c["client_hellos"].as_u64().unwrap_or(0) > 0)
            .count();
        let marks = page.matches("<rect class=\"tls ").count();
        assert_eq!(
            marks, hellos,
            "{file}: TLS marks against tshark's ClientHellos"
        );
        // Bars of connections that carried requests, as tshark counts them
        // (with the key log where there is one).
        let used = page.matches("<rect class=\"conn used\"").count() as u64;
        assert_eq!(
            Some(used),
            want["totals"]["connections_with_requests"].as_u64(),
            "{file}: connections with requests"
        );
        // Each observed request is ticked (merged ticks list their count).
        let ticks = page.matches("<line class=\"req\"").count();
        let merged: usize = page
            .match_indices(" requests from +")
            .map(|(i, _)| {
                let head = &page[..i];
                let start = head.rfind("<title>").expect("title") + 7;
                head[start..].parse::<usize>().expect("count") - 1
            })
            .sum();
        assert_eq!(
            ticks + merged,
            ledger.requests().count(),
            "{file}: request ticks"
        );
        check_self_contained(file, &page);
        assert_eq!(page.matches("<svg").count(), 1, "{file}: one timeline");
    }
}

#[test]
fn go_h2_concurrent_shows_one_busy_connection_among_idle_ones() {
    // testdata/README.md: Go dials 100 connections at once and sends every
    // request on the first; tshark with the key log counts 100 requests on
    // stream 0 and none on the other 99.
    let file = "go-h2-concurrent-tls13.pcapng";
    let page = page(&ledger(&capture(file)));
    assert_eq!(page.matches("<rect class=\"conn idle\"").count(), 99);
    let busy = page.find("<rect class=\"conn used\"").expect("busy bar");
    assert!(page[busy..].starts_with("<rect class=\"conn used\" x=\"262.0\""));
    assert!(page.contains("100 connections, 1 with requests, peak 100 open"));
    assert_eq!(page.matches("<rect class=\"tls completed").count(), 100);
}

#[test]
fn capture_strings_are_escaped() {
    let path = capture("curl-h1-keepalive.pcap");
    let result = connreuse::analyze::file(&path, &Default::default(), None);
    let mut conns = result.connections.to_vec().expect("records");
    let evil = "<script>alert(\"x\")</script>&'";
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";
    if let Some(tls) = conns[0].tls.as_mut() {
        tls.sni = Some(evil.into());
        tls.version = Some("<b>TLS</b>".into());
    }
    let start = conns[0].tcp.start;
    conns[0].requests.push(Request {
        connection: 0,
        method: "GET".into(),
        authority: Some(evil.into()),
        path: "/\"><img src=x onerror=alert(1)>?a=1&b=http://evil.test/".into(),
        start,
        ..Request::default()
    });
    let mut ledger = Ledger::from_vecs(vec![(result.info, conns)]);
    ledger.servers[0].server = evil.into();
    ledger.captures[0].file = "cap<1>.pcap".into();
    ledger.set_findings(vec![Finding {
        kind: FindingKind::NoReuse,
        capture: "cap<1>.pcap".into(),
        server: evil.into(),
        message: "<i>message</i>".into(),
        cause: "</article><h1>cause".into(),
        fix: "<style>*{display:none}</style>".into(),
        evidence: [("requests", 3.0)].into_iter().collect(),
        connections: vec![0],
    }]);
    let page = page(&ledger);
    for raw in [
        "<script",
        "<b>TLS",
        "<img",
        "<i>message",
        "</article><h1>",
        "<style>*",
        "cap<1>",
    ] {
        assert!(!page.contains(raw), "unescaped {raw}");
    }
    assert!(page.contains(escaped));
    assert!(page.contains("&lt;/article&gt;&lt;h1&gt;cause"));
    assert!(
        page.contains("/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;?a=1&amp;b=http://evil.test/")
    );
    // The URL is text inside a title, never a reference.
    check_self_contained("hostile", &page);
    assert!(page.contains("<h3>One request per connection \u{2014} &lt;script&gt;"));
}

fn chromium() -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// Runs `cmd`, killing it after `limit`.
fn run_with_limit(mut cmd: Command, limit: Duration) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("connreuse-dom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let out_path = dir.join("dom.html");
    let out = std::fs::File::create(&out_path).ok()?;
    let mut child = cmd
        .stdout(out)
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dom = std::fs::read(&out_path).ok();
    let _ = std::fs::remove_dir_all(&dir);
    dom
}

#[test]
fn chromium_builds_every_bar_into_its_dom() {
    let Some(chromium) = chromium() else {
        eprintln!("chromium is not installed: DOM check skipped");
        return;
    };
    let file = "go-h2-concurrent-tls13.pcapng";
    let ledger = ledger(&capture(file));
    let dir = std::env::temp_dir().join(format!("connreuse-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let html = dir.join("report.html");
    write_html_file(&ledger, &html, &[]).expect("written");
    let profile = dir.join("profile");
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg("--dump-dom")
    .arg(format!("file://{}", html.display()));
    let dom = run_with_limit(cmd, Duration::from_secs(120)).expect("chromium ran");
    let dom = String::from_utf8_lossy(&dom);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        dom.matches("<rect class=\"conn ").count(),
        100,
        "bars in the DOM"
    );
    assert_eq!(
        dom.matches("<rect class=\"tls ").count(),
        100,
        "TLS marks in the DOM"
    );
    assert!(dom.contains("</svg>"));
}

#[test]
fn page_file_is_written_atomically_and_never_over_an_input() {
    let file = std::env::var("CONNREUSE_HTML_CAPTURE")
        .unwrap_or_else(|_| "go-h2-concurrent-tls13.pcapng".to_string());
    let path = capture(&file);
    let ledger = ledger(&path);
    let dir = std::env::temp_dir().join(format!("connreuse-htmlfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // A copy of the capture standing in as the output path: refused.
    let input = dir.join("report.html");
    std::fs::copy(&path, &input).expect("copy");
    let err = write_html_file(&ledger, &input, std::slice::from_ref(&input)).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(
        std::fs::read(&input).expect("read"),
        std::fs::read(&path).expect("read")
    );
    // Any other existing file is replaced, and no temporary file stays.
    write_html_file(&ledger, &input, std::slice::from_ref(&path)).expect("replaced");
    let written = std::fs::read_to_string(&input).expect("page");
    assert_eq!(written, page(&ledger));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.html"]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(out) = std::env::var("CONNREUSE_HTML_OUT") {
        // Named as a user would type it from the repository's root (where
        // cargo runs the tests), not by this checkout's absolute path.
        let relative = Path::new("testdata/captures").join(&file);
        let ledger = self::ledger(&relative);
        write_html_file(&ledger, Path::new(&out), &[relative]).expect("page for the screenshot");
    }
}

#[test]
fn handshake_marks_run_from_the_client_hello_to_completion() {
    // tshark -r go-h2-concurrent-tls13.pcapng, tcp.stream == 4: SYN in
    // frame 21 at +0.002113 s, ClientHello in frame 272 at +0.016756 s, the
    // client's ChangeCipherSpec and Finished in frame 772 at +0.115588 s.
    let go = page(&ledger(&capture("go-h2-concurrent-tls13.pcapng")));
    assert!(
        go.contains("ClientHello at +0.016756 s (packet 272)\nends at +0.115588 s (packet 772)"),
        "exact handshake times"
    );
    // discord.pcap of nDPI's test corpus, when present: tshark puts the
    // ClientHello in frame 3 at +0.016576 s and the server's Finished with
    // the first application data in frame 7 at +0.054631 s.
    let discord = root().join("../shared/corpus/ndpi/discord.pcap");
    if !discord.exists() {
        eprintln!("{}: not present, exact case skipped", discord.display());
        return;
    }
    let page = page(&ledger(&discord));
    assert!(
        page.contains("ClientHello at +0.016576 s (packet 3)\nends at +0.054631 s (packet 7)"),
        "exact handshake times"
    );
}
