//! `sim parity`: the port held against the real engine, request by request.
//!
//! Input: a wire trace recorded by `sim serve --record` while the **real** live engine traded a
//! scenario ([`trace`]), the same scenario, and a profile. The scenario is run in-process under
//! the profile with its call trace ([`crate::scenario::Scenario::run_traced`]); the real trace is
//! replayed through the server's own session ([`crate::serve::state::Session`]) to get the
//! verdict and violations the server judges today (and to check that the trace still replays:
//! every recorded answer is compared with the replayed one). Nothing is sent on a network.
//!
//! **Scope.** Requests to the endpoints of the port's `Exchange` seam are compared: new / cancel
//! / query order and algo order, open (algo) orders, cancel-all, position risk, ticker price
//! (`/fapi/v2` and `/fapi/v3` forms of the last two count as the same endpoint). The harness's
//! `/sim/v1/*` calls are not the engine's; the engine's other calls (ping, exchangeInfo,
//! leverage, listenKey, account, …) are listed per path as "outside the seam".
//!
//! **Normalisation.** `timestamp`, `signature` and `recvWindow` are dropped; client ids
//! (`newClientOrderId`, `origClientOrderId`, `clientAlgoId`) are renamed `c1, c2, …` and venue
//! ids (`orderId`, `algoId`) `o1 …` / `a1 …` by order of appearance on each side (answers
//! included, so an id is numbered where the order was placed); a value that parses as a decimal
//! is compared as a decimal (`1.50` = `1.5`), a boolean without case (python-binance sends
//! `True`, Binance reads it as `true`).
//!
//! **Grouping.** A write (order, cancel) is one item. The reads between two writes are grouped by
//! identical request: a group holds every read of that endpoint and parameters in that interval,
//! with its count and first and last time. So a monitor's thousands of polls become a few
//! groups, compared as units: the port's cadence may differ without failing the trace (the counts
//! are reported side by side), and memory stays bounded by the number of writes.
//!
//! **Alignment.** Items are taken in time order. An item matches the unused item of the other
//! side with the same endpoint and normalised parameters whose time span lies within the window
//! (default: [`default_window_ms`]) and whose first request is nearest in time. Left-overs with
//! the same endpoint within the window pair up as *differing* (the differing parameters are
//! listed), as do matched writes out of order; the rest are *missing* (real only) or *extra*
//! (port only).
//!
//! Ordering: everything in the output is in trace order; maps are `BTreeMap`.

pub mod trace;

use crate::api::Endpoint;
use crate::events::{CallOutcome, Event, RequestParams};
use crate::invariants::{Invariant, Violation};
use crate::scenario::Scenario;
use crate::serve::state::{Cmd, Request, Session, Settings};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use trace::{Header, Line, Reader};

/// Settings of a comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest venue-time distance between two matched requests (ms); `None`: the default.
    pub window_ms: Option<i64>,
    /// Requests shown on each side around the first divergence.
    pub context: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            window_ms: None,
            context: 4,
        }
    }
}

/// The default matching window of a scenario: one reaction window (the time the invariants
/// give an engine to act), at least one second. The real engine and the port see the same venue
/// latency but not the same call sequence (the real engine asks for the price before an entry,
/// the port knows it), so their requests drift by a few round trips.
pub fn default_window_ms(sc: &Scenario) -> i64 {
    sc.check.reaction_ms.max(1000)
}

/// One compared item: a write, or a group of identical reads.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `METHOD /path`.
    pub endpoint: String,
    /// Normalised parameters.
    pub params: BTreeMap<String, String>,
    /// Requests in it (1 for a write).
    pub count: u64,
    /// Venue time of the first.
    pub t_first: i64,
    /// Venue time of the last.
    pub t_last: i64,
    /// The answer to the first (`200`, `400 -4120`, `fault`).
    pub answer: String,
    #[serde(skip)]
    ep: Endpoint,
}

impl Item {
    fn line(&self) -> String {
        let p: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let n = if self.count > 1 {
            format!(" ×{} until {}", self.count, self.t_last)
        } else {
            String::new()
        };
        format!(
            "{} {} {} → {}{n}",
            self.t_first,
            self.endpoint,
            p.join("&"),
            self.answer
        )
    }
}

/// How an item fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Same endpoint, parameters, order, time within the window.
    Matched,
    /// Same endpoint within the window, different parameters (or out of order).
    Differing,
    /// Real only.
    Missing,
    /// Port only.
    Extra,
}

/// One line of the alignment.
#[derive(Debug, Clone, Serialize)]
pub struct Aligned {
    /// Fate.
    pub fate: Fate,
    /// Index into the real items.
    pub real: Option<usize>,
    /// Index into the port items.
    pub port: Option<usize>,
    /// What differs (parameter names, or `order`).
    pub diff: Vec<String>,
}

/// Counts in requests (a group counts its requests).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Real requests in scope.
    pub real: u64,
    /// Port requests.
    pub port: u64,
    /// Real requests matched.
    pub matched: u64,
    /// Real requests paired with a differing port request.
    pub differing: u64,
    /// Real requests with no counterpart.
    pub missing: u64,
    /// Port requests with no counterpart.
    pub extra: u64,
    /// Reads in matched groups, real side.
    pub grouped_reads_real: u64,
    /// Reads in matched groups, port side.
    pub grouped_reads_port: u64,
}

/// The first divergence and the requests around it on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    /// Its fate.
    pub fate: Fate,
    /// Venue time.
    pub t: i64,
    /// Real side (the item and its neighbours), `>` marks the item.
    pub real: Vec<String>,
    /// Port side.
    pub port: Vec<String>,
    /// What differs.
    pub diff: Vec<String>,
}

/// A verdict with its violations counted per invariant.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Judged {
    /// PASS or FAIL.
    pub verdict: String,
    /// Violations per invariant name.
    pub violations: BTreeMap<String, u64>,
}

impl Judged {
    /// `observable`: leave out what only the engine's own records can show, `tracking-drift`
    /// (which pairs it tracks) and `one-leg` (which two orders it paired: the venue sees two
    /// conditional orders, not a pair), so a real engine on the wire is judged on what the venue
    /// can observe.
    fn of(v: &[Violation], observable: bool) -> Judged {
        let mut m = BTreeMap::new();
        for x in v {
            if observable && matches!(x.invariant, Invariant::TrackingDrift | Invariant::OneLeg) {
                continue;
            }
            *m.entry(x.invariant.name().to_string()).or_insert(0) += 1;
        }
        Judged {
            verdict: if m.is_empty() { "PASS" } else { "FAIL" }.into(),
            violations: m,
        }
    }
    /// `PASS` or `FAIL: a 3, b 1`.
    pub fn line(&self) -> String {
        if self.violations.is_empty() {
            return self.verdict.clone();
        }
        let v: Vec<String> = self
            .violations
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        format!("{}: {}", self.verdict, v.join(", "))
    }
}

/// The real side's replay through today's server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Replay {
    /// Requests replayed (harness calls included).
    pub requests: u64,
    /// Answers that differ from the recorded ones (the `stop` answer excepted).
    pub answers_differing: u64,
    /// The first such difference.
    pub first_difference: Option<String>,
}

/// The whole comparison (`parity.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The trace file.
    pub trace: String,
    /// Its header, if it has one.
    pub header: Option<Header>,
    /// Scenario name.
    pub scenario: String,
    /// Where the scenario came from: `header` or `--scenario`.
    pub scenario_from: String,
    /// True when a header's hash does not match the scenario's text.
    pub scenario_changed: bool,
    /// Profile.
    pub profile: String,
    /// Matching window (ms).
    pub window_ms: i64,
    /// Counts.
    pub counts: Counts,
    /// Share of real requests matched, in percent, rounded down to 0.1.
    pub matched_pct: f64,
    /// Real requests outside the seam, per `METHOD /path`.
    pub outside_seam: BTreeMap<String, u64>,
    /// Harness (`/sim/v1/*`) requests.
    pub harness_requests: u64,
    /// First divergence.
    pub first_divergence: Option<Divergence>,
    /// Every unmatched item (missing, extra, differing), as lines.
    pub differences: Vec<String>,
    /// Verdict in the recorded `stop` answer (the server at recording time), with its count.
    pub real_recorded: Option<(String, u64)>,
    /// Verdict of the replayed trace (the server today).
    pub real: Judged,
    /// Verdict of the port (`sim run`), every invariant.
    pub port: Judged,
    /// The port's, without `tracking-drift` and `one-leg` (engine state the venue cannot observe).
    pub port_observable: Judged,
    /// Same verdict (real vs port, observable).
    pub same_verdict: bool,
    /// Same invariants violated (real vs port, observable).
    pub same_violations: bool,
    /// Replay check.
    pub replay: Replay,
    /// Real items.
    pub real_items: Vec<Item>,
    /// Port items.
    pub port_items: Vec<Item>,
    /// The alignment.
    pub alignment: Vec<Aligned>,
}

fn endpoint_of(method: &str, path: &str) -> Option<Endpoint> {
    Some(match (method, path) {
        ("POST", "/fapi/v1/order") => Endpoint::NewOrder,
        ("POST", "/fapi/v1/algoOrder") => Endpoint::NewAlgoOrder,
        ("DELETE", "/fapi/v1/order") => Endpoint::CancelOrder,
        ("DELETE", "/fapi/v1/algoOrder") => Endpoint::CancelAlgoOrder,
        ("GET", "/fapi/v1/order") => Endpoint::QueryOrder,
        ("GET", "/fapi/v1/algoOrder") => Endpoint::QueryAlgoOrder,
        ("GET", "/fapi/v1/openOrders") => Endpoint::OpenOrders,
        ("GET", "/fapi/v1/openAlgoOrders") => Endpoint::OpenAlgoOrders,
        ("DELETE", "/fapi/v1/allOpenOrders") => Endpoint::CancelAll,
        ("DELETE", "/fapi/v1/algoOpenOrders") => Endpoint::CancelAllAlgo,
        ("GET", "/fapi/v2/positionRisk" | "/fapi/v3/positionRisk") => Endpoint::PositionRisk,
        ("GET", "/fapi/v1/ticker/price" | "/fapi/v2/ticker/price") => Endpoint::TickerPrice,
        _ => return None,
    })
}

/// Per-side renaming of ids, by order of appearance.
#[derive(Default)]
struct Ids {
    client: BTreeMap<String, usize>,
    order: BTreeMap<String, usize>,
    algo: BTreeMap<String, usize>,
}

fn rename(m: &mut BTreeMap<String, usize>, raw: &str, tag: &str) -> String {
    let n = m.len() + 1;
    format!("{tag}{}", m.entry(raw.to_string()).or_insert(n))
}

impl Ids {
    fn normalise(&mut self, raw: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in raw {
            let v = match k.as_str() {
                "timestamp" | "signature" | "recvWindow" => continue,
                "newClientOrderId" | "origClientOrderId" | "clientAlgoId" => {
                    rename(&mut self.client, &v, "c")
                }
                "orderId" => rename(&mut self.order, &v, "o"),
                "algoId" => rename(&mut self.algo, &v, "a"),
                _ if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") => {
                    v.to_ascii_lowercase()
                }
                _ => match Decimal::from_str(&v) {
                    Ok(d) if v.chars().any(|c| c.is_ascii_digit()) => d.normalize().to_string(),
                    _ => v,
                },
            };
            out.insert(k, v);
        }
        out
    }
    fn created(&mut self, order_id: Option<String>, algo_id: Option<String>) {
        if let Some(o) = order_id {
            rename(&mut self.order, &o, "o");
        }
        if let Some(a) = algo_id {
            rename(&mut self.algo, &a, "a");
        }
    }
}

/// Builds a side's items as requests come, grouping reads between writes.
#[derive(Default)]
struct Side {
    ids: Ids,
    items: Vec<Item>,
    open: BTreeMap<(String, BTreeMap<String, String>), Item>,
    requests: u64,
}

impl Side {
    fn flush(&mut self) {
        let mut g: Vec<Item> = std::mem::take(&mut self.open).into_values().collect();
        g.sort_by_key(|i| i.t_first);
        self.items.extend(g);
    }
    fn push(&mut self, ep: Endpoint, t: i64, params: BTreeMap<String, String>, answer: String) {
        self.requests += 1;
        let endpoint = ep.path().to_string();
        if ep.is_write() {
            self.flush();
            self.items.push(Item {
                endpoint,
                params,
                count: 1,
                t_first: t,
                t_last: t,
                answer,
                ep,
            });
            return;
        }
        let key = (endpoint.clone(), params.clone());
        match self.open.get_mut(&key) {
            Some(g) => {
                g.count += 1;
                g.t_last = t;
            }
            None => {
                self.open.insert(
                    key,
                    Item {
                        endpoint,
                        params,
                        count: 1,
                        t_first: t,
                        t_last: t,
                        answer,
                        ep,
                    },
                );
            }
        }
    }
}

fn query_map(s: &str) -> BTreeMap<String, String> {
    crate::serve::auth::params(s, "")
}

fn port_params(p: &RequestParams) -> BTreeMap<String, String> {
    fn put(m: &mut BTreeMap<String, String>, k: &str, v: &Value) {
        match v {
            Value::Null => {}
            Value::String(s) => {
                m.insert(k.to_string(), s.clone());
            }
            other => {
                m.insert(k.to_string(), other.to_string());
            }
        }
    }
    let mut m = BTreeMap::new();
    match p {
        RequestParams::Order(o) => {
            let v = serde_json::to_value(o).unwrap_or_default();
            for (k, w) in crate::api::NEW_ORDER_WIRE_NAMES {
                put(&mut m, w, &v[k]);
            }
        }
        RequestParams::Algo(o) => {
            let v = serde_json::to_value(o).unwrap_or_default();
            m.insert("algoType".into(), "CONDITIONAL".into());
            for (k, w) in crate::api::NEW_ALGO_ORDER_WIRE_NAMES {
                put(&mut m, w, &v[k]);
            }
        }
        RequestParams::Other(s) => m = query_map(s),
    }
    m
}

fn id_in(s: &str, key: &str) -> Option<String> {
    s.split_whitespace()
        .find_map(|w| w.strip_prefix(key).map(|x| x.to_string()))
}

/// The port's items: the scenario run in-process under its profile, every call (reads too).
fn port_side(sc: &Scenario) -> (Side, Vec<Violation>) {
    let (run, calls) = sc.run_traced();
    let mut answers: BTreeMap<u64, CallOutcome> = BTreeMap::new();
    for r in run.output.log.records() {
        if let Event::Response { call, outcome, .. } = &r.event {
            answers.insert(*call, outcome.clone());
        }
    }
    let mut side = Side::default();
    for c in &calls {
        let raw = port_params(&c.params);
        let params = side.ids.normalise(raw);
        let answer = match answers.get(&c.call) {
            None => "200".to_string(),
            Some(CallOutcome::Ok(s)) => {
                side.ids.created(id_in(s, "orderId="), id_in(s, "algoId="));
                "200".to_string()
            }
            Some(CallOutcome::Rejected(e)) => format!("{} {}", e.http, e.code),
            Some(CallOutcome::Fault { .. }) => "fault".to_string(),
        };
        side.push(c.endpoint, c.sent_ms.0, params, answer);
    }
    side.flush();
    (side, run.violations)
}

fn resign(raw: &str, secret: &str) -> Option<String> {
    if !raw.split('&').any(|p| p.starts_with("signature=")) {
        return None;
    }
    let kept: Vec<&str> = raw
        .split('&')
        .filter(|p| !p.starts_with("signature="))
        .collect();
    let q = kept.join("&");
    let sig = crate::serve::auth::sign(secret, &q);
    Some(format!("{q}&signature={sig}"))
}

struct RealSide {
    side: Side,
    outside: BTreeMap<String, u64>,
    harness: u64,
    header: Option<Header>,
    recorded: Option<(String, u64)>,
    replay: Replay,
    violations: Vec<Violation>,
}

/// Reads the real trace once: items, the replay through a fresh server session, the verdicts.
fn real_side(path: &Path, sc: &Scenario) -> Result<RealSide, String> {
    let mut rd = Reader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (key, secret) = crate::serve::auth::keys_from_seed(sc.seed);
    let mut session = Session::new(
        sc.clone(),
        Settings {
            api_key: key.clone(),
            api_secret: secret.clone(),
            clock: crate::serve::ClockMode::Lockstep,
            time_check: true,
            out: std::env::temp_dir(),
            record: None,
        },
    );
    let mut rs = RealSide {
        side: Side::default(),
        outside: BTreeMap::new(),
        harness: 0,
        header: None,
        recorded: None,
        replay: Replay::default(),
        violations: Vec::new(),
    };
    // the request waiting for its answer: (n, endpoint, time, params, replayed answer)
    type Pending = (u64, Option<Endpoint>, i64, BTreeMap<String, String>);
    let mut pending: Option<Pending> = None;
    let mut replayed: Option<(u64, u16, Value)> = None;
    let fail = |rd: &Reader, m: String| format!("{}:{}: {m}", path.display(), rd.line_no);
    while let Some(line) = rd
        .next_line()
        .map_err(|e| format!("{}:{e}", path.display()))?
    {
        match line {
            Line::Header(h) => {
                if h.clock != "lockstep" {
                    return Err(fail(
                        &rd,
                        format!(
                            "field `clock`: `{}`: only lockstep sessions replay; record with `sim serve --clock lockstep`",
                            h.clock
                        ),
                    ));
                }
                rs.header = Some(h)
            }
            Line::Frame => {}
            Line::Req {
                n,
                t,
                method,
                path: p,
                query,
                body,
            } => {
                let is_stop = method == "POST" && p == "/sim/v1/stop";
                if p.starts_with("/sim/") {
                    rs.harness += 1;
                }
                let ep = endpoint_of(&method, &p);
                if ep.is_none() && !p.starts_with("/sim/") {
                    *rs.outside.entry(format!("{method} {p}")).or_insert(0) += 1;
                }
                pending = ep.map(|e| (n, Some(e), t, query_map(&format!("{query}&{body}"))));
                if is_stop {
                    replayed = None;
                    continue;
                }
                // replay
                rs.replay.requests += 1;
                let query = resign(&query, &secret).unwrap_or(query);
                let body = resign(&body, &secret).unwrap_or(body);
                let (tx, mut rx) = tokio::sync::oneshot::channel();
                let req = Request {
                    method,
                    path: p,
                    query,
                    body,
                    api_key: Some(key.clone()),
                };
                if let Some(a) = session.handle(Cmd::Http(req, tx)) {
                    while !session.advance_step(&a, u64::MAX) {}
                    session.advance_done(a);
                }
                replayed = rx.try_recv().ok().map(|r| {
                    (
                        n,
                        r.status,
                        serde_json::from_str(&r.body).unwrap_or_default(),
                    )
                });
            }
            Line::Res {
                n, status, body, ..
            } => {
                if let Some(rep) = body.get("verdict").and_then(Value::as_str) {
                    if body.get("reports").is_some() {
                        rs.recorded =
                            Some((rep.to_string(), body["violations"].as_u64().unwrap_or(0)));
                        continue;
                    }
                }
                if let Some((rn, st, b)) = replayed.take() {
                    if rn == n && (st != status || b != body) {
                        rs.replay.answers_differing += 1;
                        if rs.replay.first_difference.is_none() {
                            rs.replay.first_difference = Some(format!(
                                "request {n}: recorded {status} {}, replayed {st} {}",
                                trunc(&body.to_string()),
                                trunc(&b.to_string())
                            ));
                        }
                    }
                }
                let Some((pn, Some(ep), t, raw)) = pending.take() else {
                    continue;
                };
                if pn != n {
                    return Err(fail(&rd, format!("answer {n} after request {pn}")));
                }
                let params = rs.side.ids.normalise(raw);
                let answer = if status == 200 {
                    let id = |k: &str| {
                        body.get(k).and_then(|v| {
                            v.as_u64()
                                .map(|x| x.to_string())
                                .or_else(|| v.as_str().map(str::to_string))
                        })
                    };
                    if matches!(ep, Endpoint::NewOrder | Endpoint::NewAlgoOrder) {
                        rs.side.ids.created(id("orderId"), id("algoId"));
                    }
                    "200".to_string()
                } else {
                    match body.get("code").and_then(Value::as_i64) {
                        Some(c) => format!("{status} {c}"),
                        None => status.to_string(),
                    }
                };
                rs.side.push(ep, t, params, answer);
            }
        }
    }
    rs.side.flush();
    rs.violations = session.judge();
    Ok(rs)
}

fn trunc(s: &str) -> String {
    if s.len() > 200 {
        let mut e = 200;
        while !s.is_char_boundary(e) {
            e -= 1;
        }
        format!("{}…", &s[..e])
    } else {
        s.to_string()
    }
}

fn within(a: &Item, b: &Item, w: i64) -> bool {
    b.t_first <= a.t_last + w && b.t_last >= a.t_first - w
}

/// Aligns real and port items (see the module doc).
pub fn align(real: &[Item], port: &[Item], w: i64) -> Vec<Aligned> {
    let mut used = vec![false; port.len()];
    let mut fate: Vec<Option<(Fate, usize, Vec<String>)>> = vec![None; real.len()];
    // exact matches: per key, the port items in time order with a cursor
    // (endpoint, params) → the port items with that key in time order, and a cursor
    type Key<'a> = (&'a str, &'a BTreeMap<String, String>);
    let mut by_key: BTreeMap<Key, (Vec<usize>, usize)> = BTreeMap::new();
    for (i, p) in port.iter().enumerate() {
        by_key
            .entry((p.endpoint.as_str(), &p.params))
            .or_default()
            .0
            .push(i);
    }
    for (ri, r) in real.iter().enumerate() {
        let Some((list, cur)) = by_key.get_mut(&(r.endpoint.as_str(), &r.params)) else {
            continue;
        };
        while *cur < list.len() && (used[list[*cur]] || port[list[*cur]].t_last < r.t_first - w) {
            *cur += 1;
        }
        // the candidate nearest in time: a lone read (a gate's check) must not take the place
        // of the group of polls that starts right after it
        let mut best: Option<(i64, usize)> = None;
        let mut k = *cur;
        while k < list.len() && port[list[k]].t_first <= r.t_last + w {
            let pi = list[k];
            if !used[pi] && within(r, &port[pi], w) {
                let d = (port[pi].t_first - r.t_first).abs();
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, pi));
                }
            }
            k += 1;
        }
        if let Some((_, pi)) = best {
            used[pi] = true;
            fate[ri] = Some((Fate::Matched, pi, Vec::new()));
        }
    }
    // writes out of order
    let mut last_port: Option<usize> = None;
    for (ri, f) in fate.iter_mut().enumerate() {
        if let Some((Fate::Matched, pi, diff)) = f {
            if real[ri].ep.is_write() {
                if last_port.is_some_and(|lp| *pi < lp) {
                    diff.push("order".into());
                }
                last_port = Some(last_port.map_or(*pi, |lp| lp.max(*pi)));
            }
        }
    }
    for f in fate.iter_mut().flatten() {
        if !f.2.is_empty() {
            f.0 = Fate::Differing;
        }
    }
    // differing: same endpoint within the window, nearest in time
    for (ri, r) in real.iter().enumerate() {
        if fate[ri].is_some() {
            continue;
        }
        let best = port
            .iter()
            .enumerate()
            .filter(|(pi, p)| !used[*pi] && p.endpoint == r.endpoint && within(r, p, w))
            .min_by_key(|(_, p)| (p.t_first - r.t_first).abs());
        if let Some((pi, p)) = best {
            used[pi] = true;
            let mut diff: Vec<String> = r
                .params
                .keys()
                .chain(p.params.keys())
                .filter(|k| r.params.get(*k) != p.params.get(*k))
                .map(|k| {
                    format!(
                        "{k}: real {} port {}",
                        r.params.get(k).map_or("-", String::as_str),
                        p.params.get(k).map_or("-", String::as_str)
                    )
                })
                .collect();
            diff.dedup();
            fate[ri] = Some((Fate::Differing, pi, diff));
        }
    }
    // merge into one list in time order
    let mut out: Vec<(i64, usize, Aligned)> = Vec::new();
    for (ri, f) in fate.into_iter().enumerate() {
        let a = match f {
            Some((fate, pi, diff)) => Aligned {
                fate,
                real: Some(ri),
                port: Some(pi),
                diff,
            },
            None => Aligned {
                fate: Fate::Missing,
                real: Some(ri),
                port: None,
                diff: Vec::new(),
            },
        };
        out.push((real[ri].t_first, 0, a));
    }
    for (pi, p) in port.iter().enumerate() {
        if !used[pi] {
            out.push((
                p.t_first,
                1,
                Aligned {
                    fate: Fate::Extra,
                    real: None,
                    port: Some(pi),
                    diff: Vec::new(),
                },
            ));
        }
    }
    out.sort_by_key(|(t, k, a)| (*t, *k, a.real, a.port));
    out.into_iter().map(|x| x.2).collect()
}

fn context(items: &[Item], at: Option<usize>, t: i64, n: usize) -> Vec<String> {
    let centre = at.unwrap_or_else(|| items.partition_point(|i| i.t_first < t));
    let lo = centre.saturating_sub(n);
    let hi = (centre + n + 1).min(items.len());
    (lo..hi)
        .map(|i| {
            let mark = if Some(i) == at { "> " } else { "  " };
            format!("{mark}{}", items[i].line())
        })
        .collect()
}

/// Compares the trace at `path` (real engine) with `sc` run under its profile (the port).
/// `scenario_from` says where the scenario came from (`header` or `--scenario`).
pub fn compare(
    path: &Path,
    sc: &Scenario,
    scenario_from: &str,
    opts: &Options,
) -> Result<Comparison, String> {
    let w = opts.window_ms.unwrap_or_else(|| default_window_ms(sc));
    let real = real_side(path, sc)?;
    let (port, port_violations) = port_side(sc);
    let alignment = align(&real.side.items, &port.items, w);
    let mut c = Counts {
        real: real.side.requests,
        port: port.requests,
        ..Counts::default()
    };
    let mut first = None;
    let mut differences = Vec::new();
    for a in &alignment {
        let r = a.real.map(|i| &real.side.items[i]);
        let p = a.port.map(|i| &port.items[i]);
        let rn = r.map_or(0, |x| x.count);
        let pn = p.map_or(0, |x| x.count);
        match a.fate {
            Fate::Matched => {
                c.matched += rn;
                if rn > 1 || pn > 1 || r.is_some_and(|x| !x.ep.is_write()) {
                    c.grouped_reads_real += rn;
                    c.grouped_reads_port += pn;
                }
                continue;
            }
            Fate::Differing => c.differing += rn,
            Fate::Missing => c.missing += rn,
            Fate::Extra => c.extra += pn,
        }
        let t = r.or(p).map_or(0, |x| x.t_first);
        let what = match a.fate {
            Fate::Differing => "differing",
            Fate::Missing => "missing",
            _ => "extra",
        };
        let mut line = format!("{what}: ");
        if let Some(r) = r {
            line += &format!("real {}", r.line());
        }
        if let Some(p) = p {
            if r.is_some() {
                line += " | ";
            }
            line += &format!("port {}", p.line());
        }
        if !a.diff.is_empty() {
            line += &format!(" ({})", a.diff.join("; "));
        }
        differences.push(line);
        if first.is_none() {
            first = Some(Divergence {
                fate: a.fate,
                t,
                real: context(&real.side.items, a.real, t, opts.context),
                port: context(&port.items, a.port, t, opts.context),
                diff: a.diff.clone(),
            });
        }
    }
    // rounded down to 0.1 %: 100.0 only when every request matched (and for an empty trace)
    let matched_pct = (c.matched * 1000)
        .checked_div(c.real)
        .map_or(100.0, |x| x as f64 / 10.0);
    let real_j = Judged::of(&real.violations, true);
    let port_j = Judged::of(&port_violations, false);
    let port_o = Judged::of(&port_violations, true);
    let header_changed = real.header.as_ref().is_some_and(|h| {
        use sha2::{Digest, Sha256};
        !h.sha256.is_empty() && h.sha256 != hex::encode(Sha256::digest(sc.text.as_bytes()))
    });
    Ok(Comparison {
        trace: path.display().to_string(),
        header: real.header,
        scenario: sc.name.clone(),
        scenario_from: scenario_from.to_string(),
        scenario_changed: header_changed,
        profile: sc.profile.clone(),
        window_ms: w,
        matched_pct,
        counts: c,
        outside_seam: real.outside,
        harness_requests: real.harness,
        first_divergence: first,
        differences,
        real_recorded: real.recorded,
        same_verdict: real_j.verdict == port_o.verdict,
        same_violations: real_j.violations.keys().eq(port_o.violations.keys()),
        real: real_j,
        port: port_j,
        port_observable: port_o,
        replay: real.replay,
        real_items: real.side.items,
        port_items: port.items,
        alignment,
    })
}

/// `parity.md`: the numbers, the first divergence with its context, every difference.
pub fn markdown(c: &Comparison) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "# Parity: `{}` under `{}`\n", c.scenario, c.profile);
    let _ = writeln!(s, "- trace: `{}`", c.trace);
    let _ = writeln!(
        s,
        "- scenario from {}{}",
        c.scenario_from,
        if c.scenario_changed {
            " (its text differs from the one recorded in the header)"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "- matching window: {} ms", c.window_ms);
    let k = &c.counts;
    let _ = writeln!(
        s,
        "- **requests matched: {} / {} ({:.1} %)**; differing {}, missing {}, extra (port only) {}; port requests {}",
        k.matched, k.real, c.matched_pct, k.differing, k.missing, k.extra, k.port
    );
    let _ = writeln!(
        s,
        "- reads compared as groups (identical reads between two writes): real {} in matched groups, port {}",
        k.grouped_reads_real, k.grouped_reads_port
    );
    let _ = writeln!(
        s,
        "- verdict, real (trace replayed through today's server): {}",
        c.real.line()
    );
    if let Some((v, n)) = &c.real_recorded {
        let _ = writeln!(
            s,
            "- verdict, real, as recorded (server at recording time): {v} ({n} violations)"
        );
    }
    let _ = writeln!(s, "- verdict, port: {}", c.port.line());
    let _ = writeln!(
        s,
        "- same verdict: {}; same invariants violated: {} (`tracking-drift` and `one-leg` left out: the venue cannot observe them)",
        yes(c.same_verdict),
        yes(c.same_violations)
    );
    let _ = writeln!(
        s,
        "- replay: {} requests, {} answers differ from the recorded ones{}",
        c.replay.requests,
        c.replay.answers_differing,
        c.replay
            .first_difference
            .as_ref()
            .map(|d| format!(" (first: {d})"))
            .unwrap_or_default()
    );
    if !c.outside_seam.is_empty() {
        let v: Vec<String> = c
            .outside_seam
            .iter()
            .map(|(k, n)| format!("`{k}` {n}"))
            .collect();
        let _ = writeln!(
            s,
            "- outside the port's seam (session setup the port does not model; not compared): {}",
            v.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "- harness requests (`/sim/v1/*`): {}",
        c.harness_requests
    );
    if let Some(d) = &c.first_divergence {
        let _ = writeln!(s, "\n## First divergence ({:?} at {})\n", d.fate, d.t);
        if !d.diff.is_empty() {
            let _ = writeln!(s, "{}\n", d.diff.join("; "));
        }
        let _ = writeln!(s, "Real engine:\n\n```");
        for l in &d.real {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```\n\nPort:\n\n```");
        for l in &d.port {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```");
    }
    if !c.differences.is_empty() {
        let _ = writeln!(s, "\n## Differences ({})\n", c.differences.len());
        for d in c.differences.iter().take(200) {
            let _ = writeln!(s, "- {d}");
        }
        if c.differences.len() > 200 {
            let _ = writeln!(s, "- … {} more in parity.json", c.differences.len() - 200);
        }
    }
    let _ = writeln!(
        s,
        "\n## How requests are compared\n\nRequests to the port's `Exchange` seam only; `timestamp`, `signature`, `recvWindow` dropped; client and venue ids renamed by order of appearance; decimals compared as decimals, booleans without case. A write is one item; the reads between two writes are grouped by identical request (a monitor's polls become one group per endpoint), a group matching as a unit whatever the cadence (counts above). Items match on endpoint and parameters within the window; matched writes must keep their order."
    );
    s
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(reqs: &[(Endpoint, i64, &str)]) -> Vec<Item> {
        let mut s = Side::default();
        for (ep, t, q) in reqs {
            let p = s.ids.normalise(query_map(q));
            s.push(*ep, *t, p, "200".into());
        }
        s.flush();
        s.items
    }

    #[test]
    fn polls_group_between_writes_and_match_whatever_the_cadence() {
        use Endpoint::*;
        let real = side(&[
            (
                NewOrder,
                100,
                "symbol=X&side=BUY&quantity=1.50&timestamp=1&signature=a",
            ),
            (OpenOrders, 200, "symbol=X"),
            (OpenOrders, 2200, "symbol=X"),
            (OpenOrders, 4200, "symbol=X"),
            (CancelOrder, 5000, "symbol=X&orderId=77"),
        ]);
        let port = side(&[
            (NewOrder, 100, "symbol=X&side=BUY&quantity=1.5"),
            (OpenOrders, 300, "symbol=X"),
            (CancelOrder, 5000, "symbol=X&orderId=91"),
            (NewOrder, 9000, "symbol=X&side=SELL&quantity=1"),
        ]);
        assert_eq!(real.len(), 3, "two writes and one group of three polls");
        assert_eq!(real[1].count, 3);
        let a = align(&real, &port, 1000);
        let fates: Vec<Fate> = a.iter().map(|x| x.fate).collect();
        assert_eq!(
            fates,
            [Fate::Matched, Fate::Matched, Fate::Matched, Fate::Extra],
            "venue ids renamed by appearance (o1 on both sides), 1.50 = 1.5, timestamp dropped"
        );
    }

    #[test]
    fn a_lone_check_before_an_entry_does_not_take_the_place_of_the_polls() {
        use Endpoint::*;
        let real = side(&[
            (NewOrder, 100, "symbol=X&side=BUY&quantity=1"),
            (OpenAlgoOrders, 200, "symbol=X"),
            (NewAlgoOrder, 300, "symbol=X&side=SELL"),
            (OpenAlgoOrders, 400, "symbol=X"),
            (OpenAlgoOrders, 2400, "symbol=X"),
        ]);
        let port = side(&[
            (OpenAlgoOrders, 0, "symbol=X"),
            (NewOrder, 100, "symbol=X&side=BUY&quantity=1"),
            (OpenAlgoOrders, 200, "symbol=X"),
            (NewAlgoOrder, 300, "symbol=X&side=SELL"),
            (OpenAlgoOrders, 400, "symbol=X"),
            (OpenAlgoOrders, 2400, "symbol=X"),
        ]);
        let a = align(&real, &port, 1000);
        let extra: Vec<i64> = a
            .iter()
            .filter(|x| x.fate == Fate::Extra)
            .map(|x| port[x.port.unwrap()].t_first)
            .collect();
        assert_eq!(extra, [0], "only the gate's check is extra");
        assert!(a.iter().all(|x| x.fate != Fate::Missing));
    }

    #[test]
    fn different_parameters_differ_and_far_requests_are_missing_and_extra() {
        use Endpoint::*;
        let real = side(&[
            (NewOrder, 100, "symbol=X&side=BUY&quantity=2"),
            (NewOrder, 50_000, "symbol=X&side=SELL&quantity=1"),
        ]);
        let port = side(&[
            (NewOrder, 150, "symbol=X&side=BUY&quantity=3"),
            (NewOrder, 90_000, "symbol=X&side=SELL&quantity=1"),
        ]);
        let a = align(&real, &port, 1000);
        assert_eq!(a[0].fate, Fate::Differing);
        assert_eq!(a[0].diff, ["quantity: real 2 port 3"]);
        assert_eq!(a[1].fate, Fate::Missing);
        assert_eq!(a[2].fate, Fate::Extra);
    }
}
