//! The one-word answers, per service. The verdict engine fills them from findings; until a
//! question can be answered from the packets, the answer is `unknown`, never a guess.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpVerdict {
    Preserved,
    ProxyV2,
    ProxyV1,
    Xff,
    Forwarded,
    Toa,
    /// Cloudflare Simple Proxy Protocol (UDP).
    Spp,
    Lost,
    Mixed,
    NotApplicable,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnatVerdict {
    Yes,
    No,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyVerdict {
    V2,
    V1,
    None,
    Mixed,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnPathVerdict {
    Ok,
    Broken,
    NotApplicable,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    pub client_ip: ClientIpVerdict,
    pub snat: SnatVerdict,
    pub proxy_protocol: ProxyVerdict,
    pub return_path: ReturnPathVerdict,
}

impl Default for Verdicts {
    fn default() -> Self {
        Self {
            client_ip: ClientIpVerdict::Unknown,
            snat: SnatVerdict::Unknown,
            proxy_protocol: ProxyVerdict::Unknown,
            return_path: ReturnPathVerdict::Unknown,
        }
    }
}
