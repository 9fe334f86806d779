//! `sim serve` end to end: the real binary on `--port 0`, driven over loopback by a small
//! blocking HTTP client written here (std `TcpStream`, keep-alive) and tungstenite's blocking
//! WebSocket client. Covers the OCO lifecycle, Binance's security errors, determinism of two
//! identical lockstep sessions, replay parity with `sim run`, and hostile wire input.
#![cfg(feature = "serve")]

use ocosim::events::{CallOutcome, Event, RequestParams, Source};
use ocosim::serve::auth::sign;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_sim");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocosim-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `sim serve`.
struct Server {
    child: Child,
    addr: String,
    key: String,
    secret: String,
    start: i64,
}

impl Server {
    fn start(scenario: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg(scenario)
            .args(["--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sim serve starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut addr, mut key, mut secret, mut start) =
            (String::new(), String::new(), String::new(), 0);
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("sim serve ended before `ready`: {err}");
            }
            let line = line.trim_end();
            if let Some(r) = line.strip_prefix("rest: http://") {
                addr = r.to_string();
            } else if let Some(k) = line.strip_prefix("api key: ") {
                key = k.to_string();
            } else if let Some(s) = line.strip_prefix("secret: ") {
                secret = s.to_string();
            } else if let Some(c) = line.strip_prefix("clock: ") {
                let t = c
                    .rsplit("venue time ")
                    .next()
                    .unwrap()
                    .trim_end_matches(')');
                start = t.parse().unwrap();
            } else if line == "ready" {
                break;
            }
        }
        // drain the rest of stdout so the server never blocks on it
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
        });
        Server {
            child,
            addr,
            key,
            secret,
            start,
        }
    }

    fn client(&self) -> Client {
        Client::new(&self.addr, &self.key, &self.secret)
    }

    /// POST /sim/v1/stop, then the exit code.
    fn stop(mut self, c: &mut Client) -> (Value, i32) {
        let r = c.call("POST", "/sim/v1/stop", "", "", None);
        assert_eq!(r.status, 200, "{}", r.body);
        let code = wait(&mut self.child, 20);
        (r.json(), code)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(child: &mut Child, secs: u64) -> i32 {
    for _ in 0..secs * 20 {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("sim serve did not exit");
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("JSON body: {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> i64 {
        self.json()["code"].as_i64().unwrap_or(0)
    }
}

/// A keep-alive HTTP/1.1 client; `None` from `try_call` when the server closed the connection.
struct Client {
    addr: String,
    key: String,
    secret: String,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    fn new(addr: &str, key: &str, secret: &str) -> Client {
        Client {
            addr: addr.to_string(),
            key: key.to_string(),
            secret: secret.to_string(),
            conn: None,
        }
    }

    fn try_call(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        key: Option<&str>,
    ) -> Option<Resp> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut().unwrap();
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(k) = key {
            req.push_str(&format!("X-MBX-APIKEY: {k}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        if conn.get_mut().write_all(req.as_bytes()).is_err() {
            self.conn = None;
            return None;
        }
        let mut status_line = String::new();
        if conn.read_line(&mut status_line).unwrap_or(0) == 0 {
            self.conn = None;
            return None;
        }
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            conn.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let mut b = vec![0u8; len];
        conn.read_exact(&mut b).unwrap();
        Some(Resp {
            status,
            headers,
            body: String::from_utf8(b).unwrap(),
        })
    }

    fn call(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        key: Option<&str>,
    ) -> Resp {
        // a fresh connection is tried once if the old one was closed
        match self.try_call(method, path, query, body, key) {
            Some(r) => r,
            None => self
                .try_call(method, path, query, body, key)
                .expect("the server answers"),
        }
    }

    fn public(&mut self, path: &str, query: &str) -> Resp {
        self.call("GET", path, query, "", None)
    }

    /// A signed request, everything in the query (the official connector's way).
    fn signed(&mut self, method: &str, path: &str, params: &str, ts: i64) -> Resp {
        let q = if params.is_empty() {
            format!("timestamp={ts}")
        } else {
            format!("{params}&timestamp={ts}")
        };
        let sig = sign(&self.secret, &q);
        let key = self.key.clone();
        self.call(
            method,
            path,
            &format!("{q}&signature={sig}"),
            "",
            Some(&key),
        )
    }

    /// A signed request with the parameters in a form body (python-binance 1.0.32, ccxt).
    fn signed_body(&mut self, method: &str, path: &str, params: &str, ts: i64) -> Option<Resp> {
        let b = format!("{params}&timestamp={ts}");
        let sig = sign(&self.secret, &b);
        let key = self.key.clone();
        self.try_call(
            method,
            path,
            "",
            &format!("{b}&signature={sig}"),
            Some(&key),
        )
    }

    fn signed_now(&mut self, method: &str, path: &str, params: &str) -> Resp {
        let ts = self.now();
        self.signed(method, path, params, ts)
    }

    fn signed_body_now(&mut self, method: &str, path: &str, params: &str) -> Option<Resp> {
        let ts = self.now();
        self.signed_body(method, path, params, ts)
    }

    fn advance_to(&mut self, t: i64) -> Value {
        let r = self.call("POST", "/sim/v1/advance", &format!("to={t}"), "", None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Advances to `t` in steps of at most 30 min, keeping the listen key alive after each.
    fn advance_keepalive(&mut self, t: i64) -> i64 {
        let mut now = self.now();
        while now < t {
            let step = (now + 1_800_000).min(t);
            now = self.advance_to(step)["time"].as_i64().unwrap();
            let k = self.key.clone();
            self.call("PUT", "/fapi/v1/listenKey", "", "", Some(&k));
            if now < step {
                break; // the data's end
            }
        }
        now
    }

    fn now(&mut self) -> i64 {
        self.public("/sim/v1/clock", "").json()["time"]
            .as_i64()
            .unwrap()
    }
}

/// A WebSocket reader thread collecting text frames.
struct Ws {
    frames: Arc<Mutex<Vec<String>>>,
}

impl Ws {
    fn connect(addr: &str, path: &str) -> Ws {
        let (mut ws, _) = tungstenite::client::connect(format!("ws://{addr}{path}")).expect("ws");
        let frames = Arc::new(Mutex::new(Vec::new()));
        let f = frames.clone();
        std::thread::spawn(move || loop {
            match ws.read() {
                Ok(tungstenite::Message::Text(t)) => f.lock().unwrap().push(t.to_string()),
                Ok(_) => {}
                Err(_) => break,
            }
        });
        Ws { frames }
    }
    /// The frames received so far, once none has arrived for 150 ms (an `advance` returns when
    /// its frames are written to the socket; this thread may still be reading them).
    fn take(&self) -> Vec<Value> {
        let mut n = usize::MAX;
        for _ in 0..100 {
            let m = self.frames.lock().unwrap().len();
            if m == n {
                break;
            }
            n = m;
            std::thread::sleep(Duration::from_millis(150));
        }
        self.frames
            .lock()
            .unwrap()
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect()
    }
}

fn dec(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

fn scenario(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// One OCO lifecycle under lockstep: entry, SL/TP on the Algo Order API, a leg fills, the
/// survivor is cancelled, the books read back. Returns the stop answer and exit code.
fn lifecycle(out: &Path, record: &Path) -> (Value, i32, Vec<Value>) {
    let sc = scenario("oco-long-short-avax.toml");
    let s = Server::start(
        &sc,
        &[
            "--out",
            out.to_str().unwrap(),
            "--record",
            record.to_str().unwrap(),
        ],
    );
    let mut c = s.client();
    assert_eq!(c.public("/api/v3/ping", "").status, 200);
    assert_eq!(c.public("/fapi/v1/ping", "").body, "{}");
    let t0 = c.public("/fapi/v1/time", "").json()["serverTime"]
        .as_i64()
        .unwrap();
    assert_eq!(t0, s.start);
    let info = c.public("/fapi/v1/exchangeInfo", "").json();
    let sym = &info["symbols"][0];
    assert_eq!(sym["symbol"], "AVAXUSDT");
    assert_eq!(sym["contractType"], "PERPETUAL");
    assert_eq!(sym["marginAsset"], "USDT");
    let pp = sym["pricePrecision"].as_u64().unwrap() as usize;
    let key = c
        .call("POST", "/fapi/v1/listenKey", "", "", Some(&s.key.clone()))
        .json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let ws = Ws::connect(&s.addr, &format!("/ws/{key}"));
    let dual = c.signed_now("GET", "/fapi/v1/positionSide/dual", "").json();
    assert_eq!(dual["dualSidePosition"], true);
    // two hours in (the listen key is kept alive every 30 min of venue time, as bots do)
    for h in 1..=4 {
        c.advance_to(s.start + h * 1_800_000);
        let r = c.call("PUT", "/fapi/v1/listenKey", "", "", Some(&s.key.clone()));
        assert_eq!(r.json()["listenKey"], key.as_str());
    }
    let t = c.now();
    let px = dec(&c.public("/fapi/v1/ticker/price", "symbol=AVAXUSDT").json()["price"]);
    let entry = c.signed_now(
        "POST",
        "/fapi/v1/order",
        "symbol=AVAXUSDT&side=BUY&type=MARKET&quantity=10&positionSide=LONG",
    );
    assert_eq!(entry.status, 200, "{}", entry.body);
    let e = entry.json();
    assert_eq!(e["status"], "NEW", "ACK by default");
    assert!(e["orderId"].is_u64(), "ids are JSON integers");
    assert!(entry.header("x-mbx-used-weight-1m").is_some());
    let t_after: i64 = entry.header("x-sim-time").unwrap().parse().unwrap();
    assert!(t_after > t, "a call pays its latency in venue time");
    let sl = format!("{:.*}", pp, px * 0.985);
    let tp = format!("{:.*}", pp, px * 1.01);
    let mut legs = Vec::new();
    for (ty, trig) in [("STOP_MARKET", &sl), ("TAKE_PROFIT_MARKET", &tp)] {
        let r = c.signed_body_now("POST", "/fapi/v1/algoOrder", &format!("algoType=CONDITIONAL&symbol=AVAXUSDT&side=SELL&positionSide=LONG&type={ty}&triggerPrice={trig}&closePosition=True&workingType=MARK_PRICE&priceProtect=True"))
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["algoStatus"], "NEW");
        legs.push(r.json()["algoId"].as_u64().unwrap());
    }
    let open = c
        .signed_now("GET", "/fapi/v1/openAlgoOrders", "symbol=AVAXUSDT")
        .json();
    assert_eq!(open.as_array().unwrap().len(), 2);
    // poll every 5 s of venue time, as a bot would, until one leg is gone
    let mut survivor = None;
    let mut keepalive = c.now();
    for _ in 0..200_000 {
        let now = c.now();
        if now - keepalive >= 1_800_000 {
            c.call("PUT", "/fapi/v1/listenKey", "", "", Some(&s.key.clone()));
            keepalive = now;
        }
        let a = c.advance_to(now + 5_000);
        let open = c
            .signed_now("GET", "/fapi/v1/openAlgoOrders", "symbol=AVAXUSDT")
            .json();
        let ids: Vec<u64> = open
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["algoId"].as_u64().unwrap())
            .collect();
        if ids.len() == 1 {
            survivor = Some(ids[0]);
            break;
        }
        if ids.is_empty() || a["done"] == true {
            break;
        }
    }
    let survivor = survivor.expect("one leg fills while the other waits");
    let r = c.signed_now(
        "DELETE",
        "/fapi/v1/algoOrder",
        &format!("symbol=AVAXUSDT&algoId={survivor}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["code"], "200");
    let again = c.signed_now(
        "DELETE",
        "/fapi/v1/algoOrder",
        &format!("symbol=AVAXUSDT&algoId={survivor}"),
    );
    assert_eq!((again.status, again.code()), (400, -2011));
    let pos = c
        .signed_now("GET", "/fapi/v2/positionRisk", "symbol=AVAXUSDT")
        .json();
    for row in pos.as_array().unwrap() {
        assert_eq!(dec(&row["positionAmt"]), 0.0, "{row}");
    }
    let v3 = c.signed_now("GET", "/fapi/v3/positionRisk", "").json();
    assert_eq!(
        v3.as_array().unwrap().len(),
        0,
        "v3 lists open positions only"
    );
    let acct = c.signed_now("GET", "/fapi/v2/account", "").json();
    assert!(dec(&acct["totalWalletBalance"]) > 0.0);
    let bal = c.signed_now("GET", "/fapi/v2/balance", "").json();
    assert_eq!(bal[0]["asset"], "USDT");
    let trades = c
        .signed_now("GET", "/fapi/v1/userTrades", "symbol=AVAXUSDT")
        .json();
    assert_eq!(
        trades.as_array().unwrap().len(),
        2,
        "entry and the leg's fill"
    );
    let kl = c
        .public("/fapi/v1/klines", "symbol=AVAXUSDT&interval=1h&limit=3")
        .json();
    assert_eq!(kl.as_array().unwrap().len(), 3);
    let now = c.now();
    c.advance_to(now + 1000);
    let frames = ws.take();
    let (ans, code) = s.stop(&mut c);
    (ans, code, frames)
}

#[test]
fn oco_lifecycle_over_the_wire_and_identical_twice() {
    let d = tmp("lifecycle");
    let (a1, c1, frames) = lifecycle(&d.join("r1"), &d.join("rec1.jsonl"));
    assert_eq!(c1, 0, "{a1}");
    assert_eq!(a1["verdict"], "PASS");
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["e"].as_str()).collect();
    for k in ["ORDER_TRADE_UPDATE", "ALGO_UPDATE", "ACCOUNT_UPDATE"] {
        assert!(kinds.contains(&k), "{k} pushed: {kinds:?}");
    }
    let (a2, c2, frames2) = lifecycle(&d.join("r2"), &d.join("rec2.jsonl"));
    assert_eq!((c2, &a2["verdict"]), (0, &json!("PASS")));
    assert_eq!(frames, frames2);
    for f in [
        "summary.json",
        "events.jsonl",
        "orders.csv",
        "fills.csv",
        "report.md",
        "report.html",
    ] {
        let x = std::fs::read(d.join("r1").join(f)).unwrap();
        let y = std::fs::read(d.join("r2").join(f)).unwrap();
        assert!(x == y, "{f} differs between two identical sessions");
    }
    // identical but for the report folder named in the stop answer
    let r1 = std::fs::read_to_string(d.join("rec1.jsonl")).unwrap();
    let r2 = std::fs::read_to_string(d.join("rec2.jsonl")).unwrap();
    assert_eq!(r1.replace("/r1\"", "/rX\""), r2.replace("/r2\"", "/rX\""));
    assert!(
        r1.lines().any(|l| l.contains("\"frame\"")),
        "frames recorded"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn security_errors_as_binance() {
    let d = tmp("security");
    let s = Server::start(
        &scenario("oco-long-short-avax.toml"),
        &["--out", d.join("r").to_str().unwrap()],
    );
    let mut c = s.client();
    let now = c.now();
    // a good signed read
    assert_eq!(
        c.signed("GET", "/fapi/v1/openOrders", "symbol=AVAXUSDT", now)
            .status,
        200
    );
    // bad signature
    let q = format!(
        "symbol=AVAXUSDT&timestamp={now}&signature={}",
        "ab".repeat(32)
    );
    let k = s.key.clone();
    let r = c.call("GET", "/fapi/v1/openOrders", &q, "", Some(&k));
    assert_eq!((r.status, r.code()), (400, -1022));
    // unknown and missing key
    let r = c.call("GET", "/fapi/v1/openOrders", &q, "", Some("nope"));
    assert_eq!((r.status, r.code()), (401, -2015));
    let r = c.call("GET", "/fapi/v1/openOrders", &q, "", None);
    assert_eq!((r.status, r.code()), (401, -2014));
    // stale and future timestamps, missing timestamp
    assert_eq!(
        c.signed("GET", "/fapi/v1/openOrders", "symbol=AVAXUSDT", now - 6000)
            .code(),
        -1021
    );
    assert_eq!(
        c.signed(
            "GET",
            "/fapi/v1/openOrders",
            "symbol=AVAXUSDT&recvWindow=10000",
            now - 6000
        )
        .status,
        200
    );
    assert_eq!(
        c.signed("GET", "/fapi/v1/openOrders", "symbol=AVAXUSDT", now + 5000)
            .code(),
        -1021
    );
    let sig = sign(&s.secret, "symbol=AVAXUSDT");
    let r = c.call(
        "GET",
        "/fapi/v1/openOrders",
        &format!("symbol=AVAXUSDT&signature={sig}"),
        "",
        Some(&k),
    );
    assert_eq!(r.code(), -1102);
    // the venue's own validation: reduceOnly in hedge mode, missing mandatory parameter
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=AVAXUSDT&side=SELL&type=MARKET&quantity=1&positionSide=LONG&reduceOnly=true",
        now,
    );
    assert_eq!((r.status, r.code()), (400, -1106), "{}", r.body);
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=AVAXUSDT&type=MARKET&quantity=1",
        now,
    );
    assert_eq!(r.code(), -1102);
    assert!(r.json()["msg"].as_str().unwrap().contains("'side'"));
    // -2021: a stop that would trigger at once
    let px = dec(&c.public("/fapi/v1/ticker/price", "symbol=AVAXUSDT").json()["price"]);
    let r = c.signed_now("POST", "/fapi/v1/algoOrder", &format!("algoType=CONDITIONAL&symbol=AVAXUSDT&side=SELL&positionSide=LONG&type=STOP_MARKET&triggerPrice={:.3}&closePosition=true", px * 1.05));
    assert_eq!(r.code(), -2021, "{}", r.body);
    // unknown path, harness refusing a paced-only thing is not tested here
    assert_eq!(c.public("/fapi/v1/nothing", "").status, 404);
    // the venue's invariants saw the bot send reduceOnly in hedge mode
    let (ans, code) = s.stop(&mut c);
    assert_eq!((code, &ans["verdict"]), (1, &json!("FAIL")), "{ans}");
    let sum: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r/summary.json")).unwrap()).unwrap();
    assert_eq!(
        sum["violations_by_invariant"]["reduce-only-mode"], 1,
        "{sum}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Wire parameters of a logged request.
fn wire_params(p: &RequestParams) -> (String, String) {
    fn add(q: &mut Vec<String>, k: &str, v: &Value) {
        match v {
            Value::Null => {}
            Value::String(s) => q.push(format!("{k}={s}")),
            other => q.push(format!("{k}={other}")),
        }
    }
    match p {
        RequestParams::Order(o) => {
            let v = serde_json::to_value(o).unwrap();
            let mut q = Vec::new();
            for (k, w) in ocosim::api::NEW_ORDER_WIRE_NAMES {
                add(&mut q, w, &v[k]);
            }
            ("order".into(), q.join("&"))
        }
        RequestParams::Algo(o) => {
            let v = serde_json::to_value(o).unwrap();
            let mut q = vec!["algoType=CONDITIONAL".to_string()];
            for (k, w) in ocosim::api::NEW_ALGO_ORDER_WIRE_NAMES {
                add(&mut q, w, &v[k]);
            }
            ("algo".into(), q.join("&"))
        }
        RequestParams::Other(s) => ("other".into(), s.clone()),
    }
}

/// Absolute data paths, so a scenario text can live anywhere.
fn portable(text: &str) -> String {
    text.replace("\"../data/", &format!("\"{}/data/", root().display()))
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The exchange's events and the calls' requests/answers (with their call numbers), without the
/// records' sequence numbers.
fn comparable(recs: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let mut ex = Vec::new();
    let mut calls = Vec::new();
    for r in recs {
        let mut r = r.clone();
        r.as_object_mut().unwrap().remove("seq");
        // stream drops are drawn per stream event, and a poll run queues none: not compared
        let dropped = r["event"]["type"] == "stream_dropped";
        match r["source"].as_str() {
            Some("exchange") => ex.push(r),
            Some("sim") if !dropped => calls.push(r),
            _ => {}
        }
    }
    (ex, calls)
}

/// Sends every call an in-process `sim run` made (reads included: the run's call trace, which
/// leaves events.jsonl unchanged), at the venue times it made them, and checks that answers,
/// fills, stream events and the summary agree. Call numbers match one for one, so random faults
/// and jitter (drawn by call number) hit the same calls.
fn replay_parity(label: &str, name: &str, extra_toml: &str) {
    let d = tmp(&format!("parity-{label}"));
    let text = portable(&std::fs::read_to_string(scenario(name)).unwrap()) + extra_toml;
    let file = d.join(name);
    std::fs::write(&file, &text).unwrap();
    let sc = ocosim::scenario::load(&file).unwrap();
    let (run, trace) = sc.run_traced();
    let run_dir = d.join("run");
    let summary = ocosim::report::summarize_run(&sc, &run);
    ocosim::report::write_reports(
        &run_dir,
        &summary,
        &run.output.log,
        &run.violations,
        &sc.text,
    )
    .unwrap();
    let log = run.output.log.records();
    let answers: std::collections::BTreeMap<u64, CallOutcome> = log
        .iter()
        .filter_map(|r| match &r.event {
            Event::Response { call, outcome, .. } => Some((*call, outcome.clone())),
            _ => None,
        })
        .collect();
    let s = Server::start(&file, &["--out", d.join("serve").to_str().unwrap()]);
    let mut c = s.client();
    let key = c
        .call("POST", "/fapi/v1/listenKey", "", "", Some(&s.key.clone()))
        .json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let ws = Ws::connect(&s.addr, &format!("/ws/{key}"));
    let k = s.key.clone();
    let mut writes = 0;
    for tc in &trace {
        let t = c.advance_keepalive(tc.sent_ms.0);
        assert_eq!(
            t, tc.sent_ms.0,
            "{name}: the venue stands at call {}'s send time",
            tc.call
        );
        let (_, q) = wire_params(&tc.params);
        let (method, path) = tc.endpoint.path().split_once(' ').unwrap();
        let qs = format!("{q}&timestamp={}", tc.sent_ms.0);
        let sig = sign(&s.secret, &qs);
        let got = c.try_call(method, path, &format!("{qs}&signature={sig}"), "", Some(&k));
        if tc.endpoint.is_write() {
            writes += 1;
        }
        let ctx = format!(
            "{name} call {} {:?} at {}",
            tc.call, tc.endpoint, tc.sent_ms.0
        );
        match (answers.get(&tc.call), got) {
            // a read that succeeded is not logged
            (None, Some(resp)) => assert_eq!(resp.status, 200, "{ctx}: {}", resp.body),
            (Some(CallOutcome::Ok(summary)), Some(resp)) => {
                assert_eq!(resp.status, 200, "{ctx}: {}", resp.body);
                let v = resp.json();
                let mine = if let Some(id) = v["orderId"].as_u64() {
                    format!(
                        "orderId={id} status={}",
                        title(v["status"].as_str().unwrap())
                    )
                } else if let (Some(id), Some(st)) =
                    (v["algoId"].as_u64(), v["algoStatus"].as_str())
                {
                    format!("algoId={id} algoStatus={}", title(st))
                } else if v["algoId"].is_u64() {
                    // a cancel's {algoId, code, msg}: the id must be the one logged
                    assert!(
                        summary.starts_with(&format!("algoId={} ", v["algoId"])),
                        "{ctx}"
                    );
                    summary.clone()
                } else {
                    "ok".to_string()
                };
                assert_eq!(&mine, summary, "{ctx}");
            }
            (Some(CallOutcome::Rejected(e)), Some(resp)) => {
                assert_eq!(resp.status, e.http, "{ctx}: {}", resp.body);
                assert_eq!(resp.code(), i64::from(e.code), "{ctx}");
                assert_eq!(resp.json()["msg"], e.msg.as_str(), "{ctx}");
            }
            (Some(CallOutcome::Fault { error, .. }), got) => match error {
                ocosim::api::TransportError::Timeout => {
                    assert!(
                        got.is_none(),
                        "{ctx}: an injected timeout drops the connection"
                    );
                    c.conn = None;
                }
                ocosim::api::TransportError::ServerError => {
                    assert_eq!(got.expect("a 5xx is an answer").status, 503, "{ctx}");
                }
                ocosim::api::TransportError::ServerStatus(st) => {
                    assert_eq!(got.expect("a 5xx is an answer").status, *st, "{ctx}");
                }
            },
            (a, None) => panic!("{ctx}: connection dropped, the run's answer was {a:?}"),
        }
    }
    assert!(writes > 3, "{name}: the run made writes ({writes})");
    let end = c.public("/sim/v1/clock", "").json()["end"]
        .as_i64()
        .unwrap();
    c.advance_to(end);
    let frames = ws.take();
    // (the verdicts may differ: the run's log has the engine's own events, the wire's has not)
    let (ans, _) = s.stop(&mut c);
    assert!(ans["verdict"].is_string());
    let serve_dir = d.join("serve");
    // fills, order/algo/account updates, equity samples, and every logged call with its number
    let (ex_run, calls_run) = comparable(&records(&run_dir.join("events.jsonl")));
    let (ex_srv, calls_srv) = comparable(&records(&serve_dir.join("events.jsonl")));
    assert_eq!(ex_run.len(), ex_srv.len(), "{name}: exchange event count");
    for (a, b) in ex_run.iter().zip(&ex_srv) {
        assert_eq!(a, b, "{name}: exchange events differ");
    }
    assert_eq!(calls_run, calls_srv, "{name}: logged calls differ");
    // fills.csv but for its `seq` column (the run's log also holds the engine's own events)
    let fills = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                assert!(f[2].parse::<u64>().is_ok() || f[2] == "seq", "{l}");
                f.remove(2);
                f.join(",")
            })
            .collect()
    };
    let (fa, fb) = (
        fills(&run_dir.join("fills.csv")),
        fills(&serve_dir.join("fills.csv")),
    );
    assert!(fa.len() > 1, "{name}: the run filled orders");
    assert_eq!(fa, fb, "{name}: fills");
    let sa: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    let sb: Value =
        serde_json::from_str(&std::fs::read_to_string(serve_dir.join("summary.json")).unwrap())
            .unwrap();
    for k in [
        "orders",
        "fills",
        "liquidations",
        "final_wallet",
        "unrealized",
        "realized_pnl",
        "fees",
        "funding",
        "pnl",
        "max_drawdown",
        "rejections",
        "rejections_by_code",
        "bars",
        "ambiguous_bars",
        "calls",
        "faults",
    ] {
        assert_eq!(sa[k], sb[k], "{name}: summary `{k}`");
    }
    // the user stream: every order/algo/account event of the run that was not dropped, in order
    let dropped: std::collections::BTreeSet<u64> = log
        .iter()
        .filter_map(|r| match &r.event {
            Event::StreamDropped { of } => Some(of.0),
            _ => None,
        })
        .collect();
    let want: Vec<(String, String)> = log
        .iter()
        .filter(|r| r.source == Source::Exchange && !dropped.contains(&r.seq.0))
        .filter_map(|r| match &r.event {
            Event::OrderTradeUpdate(u) => Some((
                "ORDER_TRADE_UPDATE".into(),
                format!("{}:{:?}", u.order_id.0, u.status),
            )),
            Event::AlgoUpdate(u) => Some((
                "ALGO_UPDATE".into(),
                format!("{}:{:?}", u.algo_id.0, u.status),
            )),
            Event::AccountUpdate(u) => Some((
                "ACCOUNT_UPDATE".into(),
                u.wallet_balance.normalize().to_string(),
            )),
            _ => None,
        })
        .collect();
    let got: Vec<(String, String)> = frames
        .iter()
        .filter_map(|f| {
            let e = f["e"].as_str()?;
            Some(match e {
                "ORDER_TRADE_UPDATE" => (
                    e.into(),
                    format!("{}:{}", f["o"]["i"], title(f["o"]["X"].as_str()?)),
                ),
                "ALGO_UPDATE" => (
                    e.into(),
                    format!("{}:{}", f["o"]["aid"], title(f["o"]["X"].as_str()?)),
                ),
                "ACCOUNT_UPDATE" => (e.into(), f["a"]["B"][0]["wb"].as_str()?.to_string()),
                _ => return None,
            })
        })
        .collect();
    assert_eq!(want.len(), got.len(), "{name}: user-stream frame count");
    assert_eq!(want, got, "{name}: user-stream events");
    eprintln!(
        "{name}: {} calls replayed, {writes} writes, {} frames",
        trace.len(),
        got.len()
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// `PARTIALLY_FILLED` → `PartiallyFilled` (the log's Debug form).
fn title(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_string() + &c.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

#[test]
fn replay_parity_oco_long_short() {
    replay_parity("oco", "oco-long-short-avax.toml", "");
}

#[test]
fn replay_parity_stream_monitor() {
    replay_parity("stream", "hedge-stream-link.toml", "");
}

#[test]
fn replay_parity_random_faults() {
    // faults drawn by call number: the replay meets them on the same calls
    // (stream monitor: dropped user-stream events are drawn per event and match too)
    replay_parity(
        "random-faults",
        "hedge-stream-link.toml",
        "\n[faults]\ntimeout_ppm = 20000\nserver_error_ppm = 20000\nrate_limit_ppm = 20000\ncancel_unknown_ppm = 100000\nstream_drop_ppm = 50000\n",
    );
}

#[test]
fn replay_parity_external_acts() {
    // acts behind the engine's back are performed by the venue session at their times, so the
    // wire's user stream carries the same CANCELED / EXPIRED / adl_autoclose events
    let extra = "\n[[external]]\nat = \"2026-02-02T12:00\"\nact = \"cancel_leg\"\npair = \"latest\"\nleg = \"stop_loss\"\n\
                 [[external]]\nat = \"2026-02-03T12:00:00.250\"\nact = \"expire_leg\"\npair = \"latest\"\nleg = \"both\"\n\
                 [[external]]\nat = \"2026-02-04T12:00\"\nact = \"adl\"\nfraction = 0.5\nposition_side = \"LONG\"\n\
                 [[external]]\nat = \"2026-02-05T12:00\"\nact = \"adl\"\nfraction = 0.5\nposition_side = \"SHORT\"\n";
    // the acts do act in the run (so the parity is not vacuous)
    let name = "hedge-stream-link.toml";
    let d = tmp("external-precheck");
    let file = d.join(name);
    let text = portable(&std::fs::read_to_string(scenario(name)).unwrap()) + extra;
    std::fs::write(&file, &text).unwrap();
    let run = ocosim::scenario::load(&file).unwrap().run();
    let acted = run
        .output
        .log
        .records()
        .iter()
        .filter(|r| matches!(r.event, Event::External { acted: true, .. }))
        .count();
    assert!(acted >= 3, "{acted} acts acted");
    let _ = std::fs::remove_dir_all(&d);
    replay_parity("external", name, extra);
}

#[test]
fn replay_parity_legacy_with_scheduled_faults() {
    // timeouts and 5xx on writes in the first days (by time and endpoint: independent of reads)
    replay_parity(
        "scheduled-faults",
        "tradeengine-v1.1.80-monitor-dies.toml",
        "\n[faults]\nscheduled = [\n  { from_ms = 1738540800000, to_ms = 1738800000000, kind = \"server_error\", endpoint = \"NewOrder\", reached = true },\n  { from_ms = 1738800000000, to_ms = 1739000000000, kind = \"timeout\", endpoint = \"NewOrder\", reached = false },\n]\n",
    );
}

fn raw(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let b = bytes.to_vec();
    let mut w = s.try_clone().unwrap();
    // the server may answer and close before everything is written: ignore write errors
    let t = std::thread::spawn(move || {
        let _ = w.write_all(&b);
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let _ = t.join();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn hostile_wire_input_never_panics_or_hangs() {
    let d = tmp("hostile");
    let s = Server::start(
        &scenario("oco-long-short-avax.toml"),
        &[
            "--out",
            d.join("r").to_str().unwrap(),
            "--max-connections",
            "6",
        ],
    );
    let t0 = std::time::Instant::now();
    // malformed request line
    let r = raw(&s.addr, b"GARBAGE\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    // a 100 KiB header
    let mut big = b"GET /fapi/v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 100 * 1024));
    big.extend(b"\r\n\r\n");
    let r = raw(&s.addr, &big);
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431"), "{r}");
    // a 1 MiB body
    let mut body = format!(
        "POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        1 << 20
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'x', 1 << 20));
    let r = raw(&s.addr, &body);
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 413"), "{r}");
    // binary junk and a truncated head
    let r = raw(
        &s.addr,
        &[0xff, 0x00, 0x13, 0x37, b'\r', b'\n', b'\r', b'\n'],
    );
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 400"), "{r}");
    // more connections than allowed: the excess is refused, the others still served
    let mut held: Vec<Client> = (0..6).map(|_| s.client()).collect();
    for c in &mut held {
        assert_eq!(c.public("/fapi/v1/ping", "").status, 200);
    }
    let r = raw(&s.addr, b"GET /fapi/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert_eq!(held[0].public("/fapi/v1/ping", "").status, 200);
    drop(held);
    // the server frees a slot when it reads the dropped connection's EOF: poll for it (a fixed
    // sleep races a loaded machine)
    let freed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        raw(
            &s.addr,
            b"GET /fapi/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .starts_with("HTTP/1.1 200")
    });
    assert!(freed, "the dropped connections' slots were never freed");
    let mut c = s.client();
    assert_eq!(c.public("/fapi/v1/ping", "").status, 200);
    // WebSocket: garbage text, an unknown stream, a ping, then junk bytes
    let (mut ws, _) = tungstenite::client::connect(format!("ws://{}/ws", s.addr)).unwrap();
    ws.send(tungstenite::Message::text("not json")).unwrap();
    let m = ws.read().unwrap();
    assert!(m.to_text().unwrap().contains("\"code\":3"), "{m}");
    ws.send(tungstenite::Message::text(
        r#"{"method":"SUBSCRIBE","params":["nosuch@x"],"id":7}"#,
    ))
    .unwrap();
    let m = ws.read().unwrap();
    assert!(
        m.to_text().unwrap().contains("\"id\":7") && m.to_text().unwrap().contains("error"),
        "{m}"
    );
    ws.send(tungstenite::Message::Ping(vec![1, 2, 3].into()))
        .unwrap();
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Pong(p) => {
                assert_eq!(&p[..], &[1, 2, 3]);
                break;
            }
            _ => continue,
        }
    }
    let _ = ws
        .get_mut()
        .write_all(&[0x8f, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02]);
    let _ = ws.get_mut().flush();
    // a WebSocket client that never reads, under a flood of mark-price frames
    let (_sleeper, _) =
        tungstenite::client::connect(format!("ws://{}/ws/avaxusdt@markPrice@1s", s.addr)).unwrap();
    let reader = Ws::connect(&s.addr, "/ws/avaxusdt@markPrice");
    let start = c.now();
    for day in 1..=3 {
        let a = c.advance_to(start + day * 86_400_000);
        assert_eq!(a["time"].as_i64().unwrap(), start + day * 86_400_000);
    }
    assert!(
        reader.take().len() > 80_000,
        "a reading client still gets its frames"
    );
    assert_eq!(c.public("/fapi/v1/ping", "").status, 200);
    assert!(t0.elapsed() < Duration::from_secs(90), "nothing hangs");
    let (_, code) = s.stop(&mut c);
    assert_eq!(code, 0);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn paced_clock_moves_with_the_wall_and_reports_lag() {
    let d = tmp("paced");
    let s = Server::start(
        &scenario("oco-long-short-avax.toml"),
        &[
            "--out",
            d.join("r").to_str().unwrap(),
            "--clock",
            "paced:600",
        ],
    );
    let mut c = s.client();
    let a = c.now();
    std::thread::sleep(Duration::from_millis(300));
    let b = c.now();
    assert!(b - a >= 600 * 200, "paced:600 moves venue time ({a} → {b})");
    let r = c.call("POST", "/sim/v1/advance", "by=1000", "", None);
    assert_eq!(r.status, 400);
    // signed requests carry wall-clock timestamps in paced mode
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = c.signed("GET", "/fapi/v1/openOrders", "symbol=AVAXUSDT", wall);
    assert_eq!(r.status, 200, "{}", r.body);
    let (ans, code) = s.stop(&mut c);
    assert_eq!(code, 0);
    assert_eq!(ans["request_lag_ms"]["count"], 1);
    let sj: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r/serve.json")).unwrap()).unwrap();
    assert_eq!(sj["clock"], "paced:600");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn replay_parity_targeted_faults() {
    // targets by role (leg, pair) and by the Nth call: the venue reads the role from each request
    // itself, so the wire meets each answer on the same call, with the same status and body
    let extra = "\n[faults]\ntargeted = [\n  { request = \"place\", leg = \"take_profit\", pair = 2, answer = \"-2021\" },\n  { request = \"place\", leg = \"stop_loss\", pair = 3, answer = \"502\", reached = true },\n  { request = \"cancel\", leg = \"any\", answer = \"503\", reached = true },\n  { call = \"POST /fapi/v1/order\", nth = 20, answer = \"timeout\", reached = true },\n  { request = \"place\", leg = \"entry\", pair = 5, answer = \"418\" },\n]\n";
    let name = "tradeengine-v1.1.80-monitor-dies.toml";
    // the targets do hit in the run (so the parity below is not vacuous)
    let d = tmp("targeted-precheck");
    let file = d.join(name);
    let text = portable(&std::fs::read_to_string(scenario(name)).unwrap()) + extra;
    std::fs::write(&file, &text).unwrap();
    let run = ocosim::scenario::load(&file).unwrap().run();
    let hit: Vec<String> = run
        .output
        .log
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            Event::Warning { code, text } if code == "targeted-fault" => Some(text.clone()),
            _ => None,
        })
        .collect();
    for i in 0..5 {
        assert!(
            hit.iter()
                .any(|t| t.starts_with(&format!("faults.targeted[{i}] "))),
            "target {i} hits: {hit:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
    replay_parity("targeted-faults", name, extra);
}
