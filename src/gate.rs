//! `--fail-if` gates: conditions over named figures that fail a CI run.
//!
//! Grammar (whitespace between tokens is free):
//!
//! ```text
//! gate   := scope? figure op number
//! scope  := "server." | "server(" name ")."
//! op     := ">" | ">=" | "<" | "<=" | "==" | "!="
//! figure := [a-z_]+            (see FIGURES)
//! number := a decimal number, e.g. 0, 0.5, 12
//! ```
//!
//! Without a scope the figure is the overall one. `server.` trips when any
//! server's figure meets the condition; `server(NAME).` only for that
//! server. A figure that is unknown (for example requests hidden inside TLS
//! without keys) never trips a gate; the report says it could not be judged.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fmt;

/// The figures a gate may name, with what they mean (for `--help` and docs).
pub const FIGURES: &[(&str, &str)] = &[
    ("connections", "TCP connections"),
    (
        "tcp_handshakes",
        "TCP connections whose client SYN was seen",
    ),
    ("tls_handshakes", "TLS handshakes begun (ClientHellos)"),
    ("full_handshakes", "TLS handshakes that were not resumed"),
    (
        "resumed_handshakes",
        "TLS handshakes that resumed a session",
    ),
    (
        "abandoned_handshakes",
        "TLS handshakes closed before completing",
    ),
    ("failed_handshakes", "TLS handshakes ended by an alert"),
    ("requests", "HTTP requests, observed or estimated"),
    ("unused_connections", "connections that carried no request"),
    (
        "handshakes_per_request",
        "TLS handshakes (TCP when no TLS) per request",
    ),
    (
        "requests_per_handshake",
        "requests per TLS handshake (TCP when no TLS)",
    ),
    ("findings", "findings of waste"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Overall,
    AnyServer,
    Server(String),
}

/// One parsed `--fail-if` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    pub text: String,
    pub scope: Scope,
    pub figure: &'static str,
    pub op: Op,
    pub value: f64,
}

/// Why a gate expression did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    UnknownFigure(String),
    MissingOperator,
    BadNumber(String),
    BadScope,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownFigure(name) => {
                let names: Vec<&str> = FIGURES.iter().map(|(n, _)| *n).collect();
                write!(f, "unknown figure `{name}`; known: {}", names.join(", "))
            }
            ParseError::MissingOperator => {
                write!(
                    f,
                    "expected FIGURE OP NUMBER with OP one of > >= < <= == !="
                )
            }
            ParseError::BadNumber(s) => write!(f, "`{s}` is not a number"),
            ParseError::BadScope => write!(f, "scope must be `server.` or `server(NAME).`"),
        }
    }
}

impl std::error::Error for ParseError {}

impl std::str::FromStr for Gate {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Gate, ParseError> {
        // Two-character operators first, so ">=" is not read as ">".
        const OPS: [(&str, Op); 6] = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (at, sym, op) = OPS
            .iter()
            .filter_map(|&(sym, op)| text.find(sym).map(|at| (at, sym, op)))
            .min_by_key(|&(at, sym, _)| (at, std::cmp::Reverse(sym.len())))
            .ok_or(ParseError::MissingOperator)?;
        let lhs = text.get(..at).unwrap_or_default().trim();
        let rhs = text.get(at + sym.len()..).unwrap_or_default().trim();
        let value: f64 = rhs
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| ParseError::BadNumber(rhs.to_string()))?;
        let (scope, name) = if let Some(rest) = lhs.strip_prefix("server(") {
            let (server, name) = rest.split_once(").").ok_or(ParseError::BadScope)?;
            (Scope::Server(server.to_string()), name)
        } else if let Some(name) = lhs.strip_prefix("server.") {
            (Scope::AnyServer, name)
        } else {
            (Scope::Overall, lhs)
        };
        let figure = FIGURES
            .iter()
            .map(|(n, _)| *n)
            .find(|n| *n == name.trim())
            .ok_or_else(|| ParseError::UnknownFigure(name.trim().to_string()))?;
        Ok(Gate {
            text: text.trim().to_string(),
            scope,
            figure,
            op,
            value,
        })
    }
}

/// Something that has figures: the whole report, or one server.
pub trait Figures {
    /// The figure's value, or None when it is unknown.
    fn figure(&self, name: &str) -> Option<f64>;
}

/// The verdict of one gate.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass,
    /// Tripped, with the places and values that tripped it.
    Tripped(Vec<(String, f64)>),
    /// The figure was unknown where it mattered.
    Unknown(Vec<String>),
}

impl Gate {
    /// Judges the gate over the overall figures and each named server's.
    pub fn judge<'a>(
        &self,
        overall: &dyn Figures,
        servers: impl IntoIterator<Item = (&'a str, &'a dyn Figures)>,
    ) -> Verdict {
        let places: Vec<(String, &dyn Figures)> = match &self.scope {
            Scope::Overall => vec![("overall".to_string(), overall)],
            Scope::AnyServer => servers
                .into_iter()
                .map(|(name, f)| (name.to_string(), f))
                .collect(),
            Scope::Server(want) => servers
                .into_iter()
                .filter(|(name, _)| name == want)
                .map(|(name, f)| (name.to_string(), f))
                .collect(),
        };
        let mut tripped = Vec::new();
        let mut unknown = Vec::new();
        for (place, figures) in places {
            match figures.figure(self.figure) {
                Some(v) if self.op.holds(v, self.value) => tripped.push((place, v)),
                Some(_) => {}
                None => unknown.push(place),
            }
        }
        if !tripped.is_empty() {
            Verdict::Tripped(tripped)
        } else if !unknown.is_empty() {
            Verdict::Unknown(unknown)
        } else {
            Verdict::Pass
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match &self.scope {
            Scope::Overall => String::new(),
            Scope::AnyServer => "server.".to_string(),
            Scope::Server(s) => format!("server({s})."),
        };
        write!(
            f,
            "{scope}{} {} {}",
            self.figure,
            self.op.as_str(),
            self.value
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, f64>);

    impl Figures for Map {
        fn figure(&self, name: &str) -> Option<f64> {
            self.0.get(name).copied()
        }
    }

    macro_rules! parses {
        ($($text:literal => $scope:expr, $fig:literal, $op:ident, $val:literal;)*) => {$(
            let g: Gate = $text.parse().unwrap();
            assert_eq!((g.scope, g.figure, g.op, g.value), ($scope, $fig, Op::$op, $val), "{}", $text);
        )*};
    }

    #[test]
    fn grammar() {
        parses! {
            "handshakes_per_request > 0.5" => Scope::Overall, "handshakes_per_request", Gt, 0.5;
            "unused_connections>0" => Scope::Overall, "unused_connections", Gt, 0.0;
            " findings >= 1 " => Scope::Overall, "findings", Ge, 1.0;
            "server.requests_per_handshake < 2" => Scope::AnyServer, "requests_per_handshake", Lt, 2.0;
            "server(example.com).tls_handshakes != 1" => Scope::Server("example.com".into()), "tls_handshakes", Ne, 1.0;
            "connections == 3" => Scope::Overall, "connections", Eq, 3.0;
            "connections <= 3" => Scope::Overall, "connections", Le, 3.0;
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(
            "foo > 1".parse::<Gate>(),
            Err(ParseError::UnknownFigure("foo".into()))
        );
        assert_eq!(
            "findings 1".parse::<Gate>(),
            Err(ParseError::MissingOperator)
        );
        assert_eq!(
            "findings > x".parse::<Gate>(),
            Err(ParseError::BadNumber("x".into()))
        );
        assert_eq!(
            "findings > inf".parse::<Gate>(),
            Err(ParseError::BadNumber("inf".into()))
        );
        assert_eq!(
            "server(a.findings > 1".parse::<Gate>(),
            Err(ParseError::BadScope)
        );
    }

    #[test]
    fn judges_overall_any_server_and_unknown() {
        let overall = Map(HashMap::from([("findings", 2.0)]));
        let a = Map(HashMap::from([("requests_per_handshake", 1.0)]));
        let b = Map(HashMap::from([("requests_per_handshake", 40.0)]));
        let c = Map(HashMap::new());
        let servers = || -> Vec<(&str, &dyn Figures)> { vec![("a", &a), ("b", &b), ("c", &c)] };
        let g: Gate = "findings > 0".parse().unwrap();
        assert_eq!(
            g.judge(&overall, servers()),
            Verdict::Tripped(vec![("overall".into(), 2.0)])
        );
        let g: Gate = "server.requests_per_handshake < 2".parse().unwrap();
        assert_eq!(
            g.judge(&overall, servers()),
            Verdict::Tripped(vec![("a".into(), 1.0)])
        );
        let g: Gate = "server(b).requests_per_handshake < 2".parse().unwrap();
        assert_eq!(g.judge(&overall, servers()), Verdict::Pass);
        let g: Gate = "server(c).requests_per_handshake < 2".parse().unwrap();
        assert_eq!(
            g.judge(&overall, servers()),
            Verdict::Unknown(vec!["c".into()])
        );
    }
}
