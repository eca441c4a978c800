//! Following one connection across capture points (issue: return paths across files), on the
//! lab's real captures of the same scenario at the client, the balancer and the backend.

use std::process::Command;

use serde_json::Value;

fn report(files: &[&str], extra: &[&str]) -> Value {
    let mut args = vec!["pcap", "--format", "json"];
    args.extend_from_slice(files);
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn scenario(name: &str) -> [String; 3] {
    ["client", "lb", "backend"].map(|p| format!("testdata/lab/{name}/{p}.pcap"))
}

fn paths(r: &Value) -> &Vec<Value> {
    r["paths"].as_array().unwrap()
}

#[test]
fn snat_proxy_v2_connection_is_followed_from_client_to_backend() {
    let f = scenario("snat-proxy-v2");
    let r = report(&[&f[0], &f[1], &f[2]], &[]);
    let full: Vec<&Value> = paths(&r)
        .iter()
        .filter(|p| p["hops"].as_array().unwrap().len() == 3)
        .collect();
    assert!(full.len() >= 3, "{}", r["paths"]);
    let p = full[0];
    let linked: Vec<&str> = p["linked_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(linked.contains(&"proxy-header"), "{linked:?}");
    let events = p["events"].to_string();
    assert!(events.contains("replaced by 100.64.0.2"), "{events}");
    assert!(events.contains("PROXY v2 header added"), "{events}");
    // Each hop comes from its own file, client first.
    let inputs: Vec<u64> = p["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["input"].as_u64().unwrap())
        .collect();
    assert_eq!(inputs, vec![0, 1, 2]);
    // The client question is answered from the backend's capture.
    assert_eq!(r["verdicts"]["client_ip"], "proxy-v2");
    assert!(
        r["verdict_sources"]["client_ip"]
            .as_str()
            .unwrap()
            .starts_with("backend.pcap")
    );
}

#[test]
fn asymmetric_leak_reply_seen_at_the_backend_but_lost_before_the_client() {
    let f = scenario("asymmetric-leak");
    let r = report(&[&f[0], &f[1], &f[2]], &[]);
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"return-path.reply-lost-between-captures"),
        "{codes:?}"
    );
    assert_eq!(r["verdicts"]["return_path"], "broken");
    let same_isn = paths(&r)
        .iter()
        .find(|p| p["hops"].as_array().unwrap().len() == 3)
        .expect("a three-hop path");
    assert!(same_isn["linked_by"].to_string().contains("same-isn"));
}

#[test]
fn transparent_proxy_legs_are_linked_by_address_and_time() {
    let f = scenario("transparent");
    let r = report(&[&f[0], &f[1], &f[2]], &[]);
    let transparent = paths(&r)
        .iter()
        .filter(|p| p["linked_by"].to_string().contains("transparent"))
        .count();
    assert!(transparent >= 3, "{}", r["paths"]);
}

#[test]
fn dnat_keeps_the_isn_and_changes_the_destination() {
    let f = scenario("dnat-passthrough");
    let r = report(&[&f[0], &f[2]], &[]);
    let p = paths(&r)
        .iter()
        .find(|p| p["hops"].as_array().unwrap().len() == 2)
        .expect("a two-hop path");
    assert_eq!(p["linked_by"][0], "same-isn");
    assert!(
        p["events"].to_string().contains("becomes 203.0.113."),
        "{}",
        p["events"]
    );
    assert_eq!(r["verdicts"]["client_ip"], "preserved");
}

#[test]
fn side_can_be_given_per_file() {
    let f = scenario("dnat-passthrough");
    let r = report(
        &[&f[0], &f[2]],
        &[
            "--side",
            "client.pcap=client",
            "--side",
            "backend.pcap=backend",
        ],
    );
    let sides: Vec<&str> = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["side"]["value"].as_str().unwrap())
        .collect();
    assert!(
        sides.contains(&"client") && sides.contains(&"backend"),
        "{sides:?}"
    );
    assert_eq!(
        r["verdicts"]["client_ip"], "preserved",
        "answered from the backend side"
    );
    assert!(
        r["verdict_sources"]["client_ip"]
            .as_str()
            .unwrap()
            .contains("backend side")
    );
}

/// A self-hosted HAProxy sends from its own backend-segment address (in no LB range); captured
/// on the balancer with `-i any`, each request shows twice. The X-Forwarded-For of the backend
/// leg names a client seen connecting: that leg is kept as one (the header is trusted, the
/// paths are linked), while the client-facing legs keep their own source.
#[test]
fn balancer_capture_of_both_legs_keeps_the_backend_legs_header_without_an_lb_range() {
    let r = report(&["testdata/lab/xff-lb-both-legs/lb-any.pcap"], &[]);
    let services = r["services"].as_array().unwrap();
    let backend = services
        .iter()
        .find(|s| s["port"] == 8080)
        .expect("the backend-facing service");
    assert_eq!(backend["side"]["value"], "lb", "{}", backend["side"]);
    assert_eq!(backend["verdicts"]["client_ip"], "xff");
    assert_eq!(backend["verdicts"]["snat"], "yes");
    let front = services.iter().find(|s| s["port"] == 80).unwrap();
    assert_eq!(front["verdicts"]["client_ip"], "preserved");
    // The headline is the backend-facing leg's (both legs have 6 flows; port 80 sorts first).
    assert_eq!(services[0]["port"], 8080);
    assert_eq!(r["service"]["port"], 8080);
    assert_eq!(r["verdicts"]["client_ip"], "xff");
    let clients = ["192.0.2.10", "192.0.2.20"];
    for f in r["flows"].as_array().unwrap() {
        let source = f["client"]["ip"].as_str().unwrap();
        let conveyed = &f["client_ip"];
        if f["server"]["port"] == 8080 {
            assert_eq!(source, "203.0.113.1");
            assert_eq!(conveyed["by"], "xff", "flow {}", f["id"]);
            assert!(
                clients.contains(&conveyed["ip"].as_str().unwrap()),
                "{conveyed}"
            );
        } else {
            assert_eq!(conveyed["by"], "ip-source", "flow {}", f["id"]);
            assert_eq!(conveyed["ip"].as_str().unwrap(), source);
        }
    }
    // Every request is followed from the client's leg to the backend's, by its header.
    let linked: Vec<&Value> = paths(&r)
        .iter()
        .filter(|p| {
            p["linked_by"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "xff")
        })
        .collect();
    assert_eq!(linked.len(), 6, "{}", r["paths"]);
    for p in linked {
        let ports: Vec<u64> = p["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                r["flows"][h["flow"].as_u64().unwrap() as usize - 1]["server"]["port"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ports, vec![80, 8080], "{p}");
    }
}

/// A header names a client endpoint that two flows started from (the port reused), one second
/// before and one second after: the earlier, the first in flow order, is the front leg.
#[test]
fn equally_near_flows_of_a_named_endpoint_link_the_first() {
    let r = report(
        &["testdata/proxy_client_port_reused_equally_near.pcap"],
        &[],
    );
    let flows = r["flows"].as_array().unwrap();
    let t = |i: usize| {
        flows[i]["first_ts"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert!(
        ((t(1) - t(0)) - (t(2) - t(1))).abs() < 1e-6,
        "the capture puts flows 1 and 3 equally far from flow 2"
    );
    let p = paths(&r);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["linked_by"], serde_json::json!(["proxy-header"]));
    let hops: Vec<u64> = p[0]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["flow"].as_u64().unwrap())
        .collect();
    assert_eq!(hops, [1, 2]);
}
