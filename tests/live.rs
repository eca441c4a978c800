//! `lbcheck live` against real traffic: HAProxy (`send-proxy-v2`, SNAT source 100.64.0.2) in
//! front of nginx (`listen … proxy_protocol`), each in a network namespace this test creates,
//! with `lbcheck live` capturing inside the backend's namespace. Also: an asymmetric return path
//! (nft DNAT to a backend whose default route bypasses the LB) whose finding must name the
//! route, the privilege error as an unprivileged user, and the unknown-interface error.
//!
//! Needs root and ip, haproxy, nginx, curl, nft, ss, tcpreplay; otherwise the namespace tests print why and
//! pass, unless LBCHECK_LIVE=1 (scripts/live-test.sh) makes that a failure. Only documentation
//! addresses and 100.64.0.0/10 are used, only inside the namespaces; every namespace and daemon
//! is removed by name/PID when the test ends, also on failure (Drop).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lbcheck");
const CLIENT: &str = "192.0.2.10";
const VIP: &str = "192.0.2.1";
const LB_BACK: &str = "203.0.113.1";
const BACKEND: &str = "203.0.113.11";
const LB_BACK2: &str = "198.51.100.1";
const BACKEND2: &str = "198.51.100.12";
const DEAD_END_ROUTER: &str = "198.51.100.254";
const LB_SNAT: &str = "100.64.0.2";
const LO_VIP: &str = "192.0.2.99";
const CURLS: usize = 5;

/// Why the namespace tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root".into());
    }
    for tool in ["ip", "haproxy", "nginx", "curl", "nft", "ss", "tcpreplay"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("{tool} not installed (see lab/packages.txt)"));
        }
    }
    None
}

/// True when the test may run; prints the reason (or fails, under LBCHECK_LIVE=1) when not.
fn can_run(test: &str) -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) => {
            assert!(
                std::env::var("LBCHECK_LIVE").as_deref() != Ok("1"),
                "{test}: LBCHECK_LIVE=1 but cannot run: {why}"
            );
            eprintln!("{test}: skipped: {why}");
            false
        }
    }
}

fn run(cmd: &[&str]) -> Output {
    let o = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Namespaces and daemons of one test, removed on drop.
struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    daemons: Vec<Child>,
    dir: PathBuf,
}

impl Lab {
    fn new(name: &str) -> Self {
        let prefix = format!("lbt-{}-{name}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            prefix,
            namespaces: Vec::new(),
            daemons: Vec::new(),
            dir,
        }
    }

    fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    fn add_ns(&mut self, role: &str) {
        let ns = self.ns(role);
        run(&["ip", "netns", "add", &ns]);
        self.namespaces.push(ns);
        self.exec(role, &["ip", "link", "set", "lo", "up"]);
        self.exec(
            role,
            &[
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
            ],
        );
    }

    fn exec(&self, role: &str, cmd: &[&str]) -> Output {
        let ns = self.ns(role);
        let mut full = vec!["ip", "netns", "exec", &ns];
        full.extend_from_slice(cmd);
        run(&full)
    }

    /// A veth pair: `a_if` in `a`, `b_if` in `b`, both up.
    fn link(&self, a: &str, a_if: &str, b: &str, b_if: &str) {
        let (na, nb) = (self.ns(a), self.ns(b));
        run(&[
            "ip", "link", "add", a_if, "netns", &na, "type", "veth", "peer", "name", b_if, "netns",
            &nb,
        ]);
        self.exec(a, &["ip", "link", "set", a_if, "up"]);
        self.exec(b, &["ip", "link", "set", b_if, "up"]);
    }

    fn spawn(&mut self, role: &str, cmd: &[&str], log: &str) {
        let out = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(role)])
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.daemons.push(child);
    }

    fn wait_listen(&self, role: &str, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let o = self.exec(role, &["ss", "-Htln", &format!("sport = :{port}")]);
            if !o.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{role}: nothing listens on {port} (logs in {})",
            self.dir.display()
        );
    }

    /// The topology: client ── LB (HAProxy, nft DNAT) ── backend, and LB ── backend2.
    fn build(&mut self) {
        for role in ["c", "lb", "b", "b2"] {
            self.add_ns(role);
        }
        self.link("c", "eth0", "lb", "c0");
        self.link("lb", "b0", "b", "eth0");
        self.link("lb", "b1", "b2", "eth0");
        for (role, iface, addr) in [
            ("c", "eth0", format!("{CLIENT}/24")),
            ("lb", "c0", format!("{VIP}/24")),
            ("lb", "b0", format!("{LB_BACK}/24")),
            ("lb", "b0", format!("{LB_SNAT}/10")),
            ("lb", "b1", format!("{LB_BACK2}/24")),
            ("b", "eth0", format!("{BACKEND}/24")),
            ("b2", "eth0", format!("{BACKEND2}/24")),
            ("b2", "lo", format!("{LO_VIP}/32")),
        ] {
            self.exec(role, &["ip", "addr", "add", &addr, "dev", iface]);
        }
        self.exec("c", &["ip", "route", "add", "default", "via", VIP]);
        self.exec("b", &["ip", "route", "add", "default", "via", LB_BACK]);
        // backend2's main table routes back via the LB, but a policy rule sends what leaves
        // from its address to table 100, through a router that does not exist: the return
        // path is broken, and only the kernel's route choice (netlink) shows it.
        self.exec("b2", &["ip", "route", "add", "default", "via", LB_BACK2]);
        self.exec(
            "b2",
            &[
                "ip",
                "route",
                "add",
                "default",
                "via",
                DEAD_END_ROUTER,
                "table",
                "100",
            ],
        );
        self.exec(
            "b2",
            &["ip", "rule", "add", "from", BACKEND2, "lookup", "100"],
        );
        self.exec("lb", &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        let nft = self.dir.join("nat.nft");
        std::fs::write(
            &nft,
            format!(
                "table ip lbt {{\n  chain pre {{\n    type nat hook prerouting priority -100;\n    \
                 tcp dport 81 dnat to {BACKEND2}:8081\n  }}\n}}\n"
            ),
        )
        .unwrap();
        self.exec("lb", &["nft", "-f", nft.to_str().unwrap()]);
        self.nginx("b", &format!("listen {BACKEND}:8080 proxy_protocol;"));
        self.nginx("b2", &format!("listen {BACKEND2}:8081;"));
        let cfg = self.dir.join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\
                 frontend fe\n  bind {VIP}:80\n  default_backend be\n\
                 backend be\n  source {LB_SNAT}\n  server be1 {BACKEND}:8080 send-proxy-v2\n"
            ),
        )
        .unwrap();
        let cfg = cfg.to_str().unwrap().to_string();
        self.spawn("lb", &["haproxy", "-db", "-f", &cfg], "haproxy.log");
        self.wait_listen("b", 8080);
        self.wait_listen("b2", 8081);
        self.wait_listen("lb", 80);
    }

    fn nginx(&mut self, role: &str, listen: &str) {
        let p = self.dir.join(format!("nginx-{role}"));
        std::fs::create_dir_all(p.join("tmp")).unwrap();
        let d = p.display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp/body;\n\
             proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n\
             uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
             default_type text/plain;\n  server {{ {listen} location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
        );
        let file = p.join("nginx.conf");
        std::fs::write(&file, conf).unwrap();
        let file = file.to_str().unwrap().to_string();
        let prefix = p.to_str().unwrap().to_string();
        self.spawn(
            role,
            &["nginx", "-c", &file, "-p", &prefix],
            &format!("nginx-{role}.log"),
        );
    }

    fn curl(&self, url: &str) -> bool {
        let ns = self.ns("c");
        Command::new("ip")
            .args(["netns", "exec", &ns, "curl", "-s", "-o", "/dev/null"])
            .args(["--max-time", "2", url])
            .status()
            .unwrap()
            .success()
    }

    /// Starts `lbcheck live ARGS` in `role`'s namespace and waits until its socket is bound.
    fn start_live(&self, role: &str, args: &[&str]) -> Child {
        let ns = self.ns(role);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, BIN, "live"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // The namespace has no other packet socket: a row in /proc/net/packet whose
            // protocol is ETH_P_ALL (0003; 0000 until bind) is ours, receiving.
            let o = self.exec(role, &["cat", "/proc/net/packet"]);
            let bound = String::from_utf8_lossy(&o.stdout)
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(3) == Some("0003"));
            if bound {
                return child;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "lbcheck live exited early ({status}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(Instant::now() < deadline, "lbcheck live did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

impl Drop for Lab {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            signal(d.id(), "TERM");
        }
        for d in &mut self.daemons {
            let deadline = Instant::now() + Duration::from_secs(3);
            while d.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = d.kill();
            let _ = d.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for `child` with a time limit (an lbcheck that never stops fails the test).
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lbcheck live did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The report conforms to the published schema, `host` and kernel counters included.
fn assert_schema(v: &Value) {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/lbcheck-1.schema.json");
    let schema = compiler
        .compile(path.to_str().unwrap(), &mut schemas)
        .expect("schema compiles");
    if let Err(e) = schemas.validate(v, schema) {
        panic!("live report does not match the schema: {e}");
    }
}

fn verdicts(v: &Value) -> (String, String, String) {
    let w = |k: &str| v["verdicts"][k].as_str().unwrap_or("").to_string();
    (w("client_ip"), w("snat"), w("proxy_protocol"))
}

fn pcap_json(path: &Path) -> (Option<i32>, Value) {
    let o = Command::new(BIN)
        .args(["pcap", path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    (o.status.code(), json(&o))
}

#[test]
fn live_capture_on_real_haproxy_and_nginx_matches_the_written_file() {
    if !can_run("live_capture_on_real_haproxy_and_nginx") {
        return;
    }
    let mut lab = Lab::new("pp2");
    lab.build();
    let written = lab.dir.join("backend.pcap");

    // Stopped by SIGINT, as Ctrl-C would, after the traffic.
    let live = lab.start_live(
        "b",
        &[
            "-i",
            "eth0",
            "--port",
            "8080",
            "--duration",
            "20s",
            "--write",
            written.to_str().unwrap(),
            "--format",
            "json",
            "--expect",
            "client-ip=proxy-v2",
            "--expect",
            "snat=yes",
        ],
    );
    for _ in 0..CURLS {
        assert!(
            lab.curl(&format!("http://{VIP}/")),
            "curl through HAProxy failed"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(live.id(), "INT");
    let out = finish(live, Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.is_empty(),
        "stderr not a TTY: no status line: {stderr:?}"
    );
    let live = json(&out);
    assert_schema(&live);
    assert_eq!(
        verdicts(&live),
        ("proxy-v2".into(), "yes".into(), "v2".into())
    );
    assert_eq!(live["input"][0]["format"], "live");
    assert_eq!(live["input"][0]["interfaces"][0]["link_type"], "EN10MB");
    assert_eq!(live["stats"]["flows"], CURLS);
    assert_eq!(live["stats"]["kernel_drops"], 0);
    assert!(
        live["host"]["routes"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    for f in live["flows"].as_array().unwrap() {
        assert_eq!(f["client"]["ip"], LB_SNAT, "SNAT source");
        assert_eq!(f["proxy"]["src"], CLIENT, "PROXY v2 carries the client");
    }

    // The file written says the same.
    let (code, file) = pcap_json(&written);
    assert_eq!(code, Some(0));
    assert_eq!(verdicts(&file), verdicts(&live));
    assert_eq!(file["stats"]["flows"], live["stats"]["flows"]);
    assert_eq!(file["stats"]["packets"], live["stats"]["packets"]);

    // --count stops by itself; a failed --expect exits 1, as for files.
    let counted = lab.start_live(
        "b",
        &[
            "-i",
            "eth0",
            "--port",
            "8080",
            "--count",
            "3",
            "--format",
            "json",
            "--expect",
            "client-ip=preserved",
        ],
    );
    assert!(lab.curl(&format!("http://{VIP}/")));
    let out = finish(counted, Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["stats"]["packets"], 3);

    // --duration stops by itself, with nothing captured.
    let t = Instant::now();
    let idle = lab.start_live("b", &["-i", "eth0", "--port", "8080", "--duration", "1s"]);
    let out = finish(idle, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No TCP or UDP flows"));
}

#[test]
fn live_return_path_finding_names_the_route_past_the_lb() {
    if !can_run("live_return_path_finding_names_the_route") {
        return;
    }
    let mut lab = Lab::new("asym");
    lab.build();
    let live = lab.start_live(
        "b2",
        &[
            "-i",
            "any",
            "--port",
            "8081",
            "--duration",
            "20s",
            "--format",
            "json",
        ],
    );
    // DNAT to backend2, whose replies go to a router that is not there: curl times out.
    assert!(!lab.curl(&format!("http://{VIP}:81/")));
    signal(live.id(), "TERM");
    let out = finish(live, Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_schema(&v);
    assert_eq!(v["input"][0]["interfaces"][0]["link_type"], "LINUX_SLL2");
    assert_eq!(v["verdicts"]["return_path"], "broken");
    let finding = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("return-path."))
        })
        .unwrap_or_else(|| panic!("no return-path finding: {:#}", v["findings"]));
    let detail = finding["detail"].as_str().unwrap();
    eprintln!("{}: {}\n  {detail}", finding["code"], finding["summary"]);
    let want = format!(
        "host: replies to {CLIENT} leave via {DEAD_END_ROUTER} (table 100 on eth0), not via the LB {LB_BACK2} the requests came from"
    );
    assert!(
        detail.contains(&want),
        "detail: {detail}\nwant: {want}\nhost: {:#}",
        v["host"]
    );
    assert_eq!(v["host"]["lo_addresses"][0], format!("{LO_VIP}/32"));
    assert_eq!(v["host"]["return_path"][0]["symmetric"], false);
    assert_eq!(v["host"]["return_path"][0]["kernel_route"]["table"], "100");
    // The main table alone would have said "via the LB".
    assert_eq!(
        v["host"]["return_path"][0]["route"]["gateway"], LB_BACK2,
        "{:#}",
        v["host"]
    );
    let rules: Vec<&str> = v["host"]["ip_rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        rules.contains(&format!("32765: from {BACKEND2} lookup 100").as_str()),
        "{rules:?}"
    );
    assert_eq!(
        v["host"]["capabilities_dropped_from"],
        serde_json::json!(["bounding", "effective", "permitted"])
    );

    // The text report shows the host facts next to the findings.
    let live = lab.start_live(
        "b2",
        &[
            "-i",
            "any",
            "--port",
            "8081",
            "--duration",
            "20s",
            "--color",
            "never",
        ],
    );
    assert!(!lab.curl(&format!("http://{VIP}:81/")));
    signal(live.id(), "INT");
    let out = finish(live, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    for line in [
        "\nHost (any)\n",
        &format!("  ip rule 32765: from {BACKEND2} lookup 100\n"),
        &format!("  addresses on lo (VIP, DSR) {LO_VIP}/32\n"),
        &format!(
            "  return path: replies to {CLIENT} leave via {DEAD_END_ROUTER} (table 100 on eth0)"
        ),
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
}

#[test]
fn live_without_cap_net_raw_says_so_in_one_line() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let mut cmd = if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        // As root: become nobody, with no capabilities. The binary is copied where nobody can
        // reach it (the build directory may be under a private home).
        let dir = std::env::temp_dir().join(format!("lbt-{}-nopriv", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("lbcheck");
        std::fs::copy(BIN, &bin).unwrap();
        run(&["chmod", "755", dir.to_str().unwrap(), bin.to_str().unwrap()]);
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin);
        c
    } else {
        Command::new(BIN)
    };
    let o = cmd
        .args(["live", "-i", "lo", "--count", "1"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("lbt-{}-nopriv", std::process::id())),
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "lbcheck: error: live capture needs CAP_NET_RAW: run as root or `setcap cap_net_raw+ep $(command -v lbcheck)`\n"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn live_on_an_unknown_interface_lists_the_real_ones() {
    let o = Command::new(BIN)
        .args(["live", "-i", "nosuch0", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("lbcheck: error: no interface named \"nosuch0\"; available: "),
        "{err}"
    );
    assert!(err.contains("lo"), "{err}");
}

#[cfg(feature = "libpcap")]
#[test]
fn live_with_a_libpcap_filter_expression_sees_the_same() {
    if !can_run("live_with_a_libpcap_filter_expression") {
        return;
    }
    let mut lab = Lab::new("pcapf");
    lab.build();
    let expression = format!("tcp port 8080 and host {LB_SNAT}");
    let live = lab.start_live(
        "b",
        &[
            "-i",
            "eth0",
            "--filter",
            &expression,
            "--port",
            "8080",
            "--duration",
            "20s",
            "--format",
            "json",
        ],
    );
    for _ in 0..CURLS {
        assert!(lab.curl(&format!("http://{VIP}/")));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(live.id(), "INT");
    let out = finish(live, Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(verdicts(&v), ("proxy-v2".into(), "yes".into(), "v2".into()));
    assert_eq!(v["stats"]["flows"], CURLS);
}

#[cfg(not(feature = "libpcap"))]
#[test]
fn live_filter_expression_without_libpcap_says_how_to_get_it() {
    let o = Command::new(BIN)
        .args(["live", "-i", "lo", "--filter", "port 80", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "lbcheck: error: --filter needs lbcheck built with `--features libpcap`; without it, --port and --proto build the kernel filter\n"
    );
}

#[test]
fn live_keeps_vlan_tags_and_agrees_with_the_file_analysis() {
    if !can_run("live_keeps_vlan_tags") {
        return;
    }
    // A lab capture from an 802.1Q trunk (VLAN 100), replayed into a veth pair: the kernel
    // moves the tag into packet metadata; lbcheck must put it back.
    let trunk =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/capture-variants/vlan-trunk.pcap");
    let (_, file) = pcap_json(&trunk);
    let mut lab = Lab::new("vlan");
    lab.add_ns("tx");
    lab.add_ns("rx");
    lab.link("tx", "eth0", "rx", "eth0");
    let live = lab.start_live(
        "rx",
        &[
            "-i",
            "eth0",
            "--port",
            "8081",
            "--duration",
            "20s",
            "--format",
            "json",
        ],
    );
    lab.exec(
        "tx",
        &[
            "tcpreplay",
            "-q",
            "-i",
            "eth0",
            "--pps=2000",
            trunk.to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    signal(live.id(), "INT");
    let out = finish(live, Duration::from_secs(5));
    let v = json(&out);
    // Packets of the service's flows (the namespace's own neighbour discovery is not).
    let flow_packets = |r: &Value| -> Vec<(u64, u64)> {
        r["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let p = &f["packets"];
                (
                    p["to_server"].as_u64().unwrap(),
                    p["to_client"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(flow_packets(&v), flow_packets(&file));
    assert_eq!(v["stats"]["flows"], file["stats"]["flows"]);
    assert_eq!(verdicts(&v), verdicts(&file));
    assert_eq!(v["flows"][0]["vlan"], serde_json::json!([100]));
    assert_eq!(out.status.code(), Some(crate_exit(&file)));
}

/// The exit code `lbcheck pcap` gave for this report.
fn crate_exit(report: &Value) -> i32 {
    let errors = report["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["severity"] == "error"));
    i32::from(errors)
}

#[test]
fn live_status_line_goes_to_a_terminal_stderr_only() {
    if !can_run("live_status_line") {
        return;
    }
    let has_script = Command::new("sh")
        .args(["-c", "command -v script"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_script {
        eprintln!("live_status_line: skipped: `script` (util-linux) not installed");
        return;
    }
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/snat-proxy-v2/backend.pcap");
    let mut lab = Lab::new("tty");
    lab.add_ns("tx");
    lab.add_ns("rx");
    lab.link("tx", "eth0", "rx", "eth0");
    let report = lab.dir.join("report.json");
    let typescript = lab.dir.join("typescript");
    // `script` gives lbcheck a terminal; stdout goes to a file, stderr stays on the terminal.
    let inner = format!(
        "ip netns exec {} {BIN} live -i eth0 --port 8081 --duration 3s --format json > {}",
        lab.ns("rx"),
        report.display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &inner, typescript.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    lab.exec(
        "tx",
        &[
            "tcpreplay",
            "-q",
            "-i",
            "eth0",
            "--pps=500",
            capture.to_str().unwrap(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "lbcheck under script did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let tty = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap())
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}); terminal: {tty:?}"));
    assert_eq!(v["schema"], "lbcheck/1");
    let lines: Vec<&str> = tty
        .split("\r\x1b[2K")
        .filter(|l| l.starts_with("lbcheck live eth0: "))
        .collect();
    assert!(
        lines.len() >= 3,
        "status updates ~2x/s, saw {}: {tty:?}",
        lines.len()
    );
    // The last update counts the replayed capture's PROXY v2 headers.
    let last = lines.last().unwrap();
    let proxy: u32 = last
        .split(", ")
        .find_map(|part| part.strip_suffix(" PROXY headers"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no PROXY count in {last:?}"));
    assert!(proxy > 0, "{last:?}");
}
