//! `--expect CHECK=VALUE`: a verdict turned into an assertion for CI.

use serde::Serialize;

use super::{Finding, Severity, Verdicts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub check: Check,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    ClientIp,
    Snat,
    Proxy,
    ReturnPath,
    Side,
    /// Nothing at or above this severity.
    NoFindings,
}

impl Check {
    fn name(self) -> &'static str {
        match self {
            Self::ClientIp => "client-ip",
            Self::Snat => "snat",
            Self::Proxy => "proxy",
            Self::ReturnPath => "return-path",
            Self::Side => "side",
            Self::NoFindings => "no-findings",
        }
    }

    fn allowed(self) -> &'static [&'static str] {
        match self {
            Self::ClientIp => &[
                "preserved",
                "proxy-v2",
                "proxy-v1",
                "xff",
                "forwarded",
                "toa",
                "spp",
                "lost",
                "mixed",
                "not-applicable",
                "unknown",
            ],
            Self::Snat => &["yes", "no", "unknown"],
            Self::Proxy => &["v2", "v1", "none", "mixed", "unknown"],
            Self::ReturnPath => &["ok", "broken", "not-applicable", "unknown"],
            Self::Side => &["client", "lb", "backend", "unknown"],
            Self::NoFindings => &["error", "warning", "info"],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("--expect {0:?}: expected CHECK=VALUE, e.g. client-ip=proxy-v2")]
    Shape(String),
    #[error(
        "--expect {0:?}: unknown check (client-ip, snat, proxy, return-path, side, no-findings)"
    )]
    UnknownCheck(String),
    #[error("--expect {arg:?}: {check} takes one of {allowed}")]
    BadValue {
        arg: String,
        check: &'static str,
        allowed: String,
    },
}

pub fn parse(arg: &str) -> Result<Expectation, ExpectError> {
    let (check, value) = arg
        .split_once('=')
        .ok_or_else(|| ExpectError::Shape(arg.into()))?;
    let check = match check.trim() {
        "client-ip" | "client_ip" => Check::ClientIp,
        "snat" => Check::Snat,
        "proxy" | "proxy-protocol" | "proxy_protocol" => Check::Proxy,
        "return-path" | "return_path" => Check::ReturnPath,
        "side" => Check::Side,
        "no-findings" => Check::NoFindings,
        other => return Err(ExpectError::UnknownCheck(other.into())),
    };
    let value = value.trim().to_ascii_lowercase();
    if !check.allowed().contains(&value.as_str()) {
        return Err(ExpectError::BadValue {
            arg: arg.into(),
            check: check.name(),
            allowed: check.allowed().join(", "),
        });
    }
    Ok(Expectation { check, value })
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpectResult {
    pub check: &'static str,
    pub expected: String,
    pub found: String,
    pub ok: bool,
    /// The finding that explains a failure, when one does.
    pub because: Option<String>,
}

pub fn evaluate(
    expectations: &[Expectation],
    verdicts: &Verdicts,
    side: &str,
    findings: &[Finding],
) -> Vec<ExpectResult> {
    expectations
        .iter()
        .map(|e| {
            let word = |v: &dyn erased::Word| v.word();
            let found = match e.check {
                Check::ClientIp => word(&verdicts.client_ip),
                Check::Snat => word(&verdicts.snat),
                Check::Proxy => word(&verdicts.proxy_protocol),
                Check::ReturnPath => word(&verdicts.return_path),
                Check::Side => side.to_string(),
                Check::NoFindings => {
                    let limit = match e.value.as_str() {
                        "error" => Severity::Error,
                        "warning" => Severity::Warning,
                        _ => Severity::Info,
                    };
                    let worst = findings
                        .iter()
                        .filter(|f| f.severity <= limit)
                        .map(|f| f.code)
                        .collect::<Vec<_>>();
                    let ok = worst.is_empty();
                    return ExpectResult {
                        check: e.check.name(),
                        expected: format!("nothing at or above {}", e.value),
                        found: if ok { "none".into() } else { worst.join(", ") },
                        ok,
                        because: findings
                            .iter()
                            .find(|f| f.severity <= limit)
                            .map(|f| format!("{}: {}", f.code, f.summary)),
                    };
                }
            };
            let ok = found == e.value;
            let because = if ok { None } else { explain(e.check, findings) };
            ExpectResult {
                check: e.check.name(),
                expected: e.value.clone(),
                found,
                ok,
                because,
            }
        })
        .collect()
}

/// The most severe finding related to a check.
fn explain(check: Check, findings: &[Finding]) -> Option<String> {
    let prefixes: &[&str] = match check {
        Check::ClientIp => &["client-ip.", "proxy.", "xff.", "snat.", "lb-range."],
        Check::Snat => &["snat.", "lb-range.", "client-ip."],
        Check::Proxy => &["proxy.", "capture."],
        Check::ReturnPath => &["return-path."],
        Check::Side | Check::NoFindings => &[],
    };
    findings
        .iter()
        .filter(|f| {
            f.severity <= Severity::Warning && prefixes.iter().any(|p| f.code.starts_with(p))
        })
        .min_by_key(|f| f.severity)
        .map(|f| format!("{}: {}", f.code, f.summary))
}

/// Verdict enums print as their serde names.
mod erased {
    pub trait Word {
        fn word(&self) -> String;
    }
    impl<T: serde::Serialize> Word for T {
        fn word(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_with_the_allowed_values() {
        assert_eq!(
            parse("client-ip=proxy-v2").unwrap(),
            Expectation {
                check: Check::ClientIp,
                value: "proxy-v2".into()
            }
        );
        assert_eq!(parse("proxy=V2").unwrap().value, "v2");
        assert!(matches!(parse("client-ip"), Err(ExpectError::Shape(_))));
        assert!(matches!(
            parse("colour=red"),
            Err(ExpectError::UnknownCheck(_))
        ));
        let e = parse("snat=maybe").unwrap_err().to_string();
        assert!(e.contains("yes, no, unknown"), "{e}");
    }

    #[test]
    fn failure_names_the_finding_that_explains_it() {
        let v = Verdicts::default();
        let mut lost = Finding::new(
            "client-ip.lost",
            Severity::Error,
            "the backend sees the balancer".into(),
        );
        lost.flows = vec![1];
        let r = evaluate(
            &[
                parse("client-ip=proxy-v2").unwrap(),
                parse("no-findings=warning").unwrap(),
            ],
            &v,
            "backend",
            &[lost],
        );
        assert!(!r[0].ok);
        assert_eq!(r[0].found, "unknown");
        assert!(
            r[0].because
                .as_deref()
                .unwrap()
                .starts_with("client-ip.lost")
        );
        assert!(!r[1].ok);
        assert_eq!(r[1].found, "client-ip.lost");
    }
}
