//! The venue actor's state: one [`Session`] owns the [`Venue`] (the same venue code as
//! `sim run`), the venue clock, the listen key, the WebSocket subscriptions, the request-weight
//! window and the recorder. It handles one command at a time, in the order they arrive, so in
//! lockstep a harness that waits for each answer gets a deterministic run.
//!
//! Time: lockstep — venue time moves on `advance` and by each venue call's own latency (a
//! request handled at venue time T executes at T + request latency, is answered at T + request +
//! response latency, and venue time becomes that). Calls that do not touch the books (ping, time,
//! exchangeInfo, listenKey, leverage, marginType, positionSide/dual) are answered at once and do
//! not move it. Paced — venue time = start + SPEED × wall time since `ready` (never backwards).
//!
//! Frames: the walk to a time stops at every user-stream delivery, kline close and mark-price tick
//! on the way and pushes their frames in time order; a subscriber whose bounded buffer is full is
//! disconnected.

use super::record::Recorder;
use super::wire::{self, err, Params};
use super::{auth, ClockMode};
use crate::api::*;
use crate::events::{Event, ExecType, Source};
use crate::exchange::{margin, BarTicks, MockExchange};
use crate::invariants::{Checker, Invariant};
use crate::report;
use crate::scenario::Scenario;
use crate::sim::Venue;
use crate::types::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// A frame on its way to one WebSocket session.
pub enum Out {
    /// A text frame.
    Text(Arc<str>),
    /// Answer once every frame before it has been written.
    Flush(oneshot::Sender<()>),
}

/// A request as the HTTP layer received it.
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string as transmitted.
    pub query: String,
    /// Raw body as transmitted.
    pub body: String,
    /// `X-MBX-APIKEY`.
    pub api_key: Option<String>,
}

/// What the HTTP layer does with an answer.
pub enum ReplyKind {
    /// Send it.
    Normal,
    /// Close the connection without an answer (an injected timeout).
    Drop,
    /// Wait until these sessions have written their frames, then send it.
    Flush(Vec<oneshot::Receiver<()>>),
    /// Send it, then end the process with this exit code.
    Exit(i32),
}

/// An answer.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
    /// Venue time after the call.
    pub time: i64,
    /// Used weight of the current minute (`/fapi` answers only).
    pub weight: Option<u32>,
    /// What to do with it.
    pub kind: ReplyKind,
}

/// An advance in progress (lockstep), walked in steps by the actor.
pub struct Advancing {
    to: i64,
    tx: oneshot::Sender<Reply>,
}

/// A command to the venue actor.
pub enum Cmd {
    /// An HTTP request.
    Http(Request, oneshot::Sender<Reply>),
    /// A WebSocket session opened at `path?query`; answers its id or why it is refused.
    WsOpen {
        /// Path.
        path: String,
        /// Query.
        query: String,
        /// The session's bounded frame buffer.
        tx: mpsc::Sender<Out>,
        /// Answer.
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// A text frame from a session (SUBSCRIBE, …); the answer frame goes to its buffer.
    WsText(u64, String),
    /// A session ended.
    WsClosed(u64),
    /// Paced clock: move venue time to the wall clock.
    Tick,
    /// End the session (signal or data end); answers the stop reply.
    Stop(oneshot::Sender<Reply>),
}

#[derive(Clone, PartialEq, Eq)]
enum Topic {
    User(String),
    Kline {
        name: String,
        interval_ms: i64,
        label: String,
    },
    Mark {
        name: String,
        every_ms: i64,
    },
}

struct MarketSub {
    topic: Topic,
    next_ms: i64,
}

struct Sub {
    id: u64,
    tx: mpsc::Sender<Out>,
    combined: bool,
    user: Option<String>,
    markets: Vec<MarketSub>,
}

/// Settings of a serve session.
pub struct Settings {
    /// API key.
    pub api_key: String,
    /// API secret.
    pub api_secret: String,
    /// Clock mode.
    pub clock: ClockMode,
    /// Check `timestamp`/`recvWindow`.
    pub time_check: bool,
    /// Report folder.
    pub out: PathBuf,
    /// JSONL record, if asked.
    pub record: Option<Recorder>,
}

/// The venue actor's state.
pub struct Session {
    sc: Scenario,
    v: Venue,
    set: Settings,
    now: i64,
    start: i64,
    end: i64,
    wall0: Instant,
    subs: Vec<Sub>,
    next_sub: u64,
    listen_key: Option<(String, i64)>,
    key_no: u64,
    weight: (i64, u32),
    fills_scanned: usize,
    fill_ids: BTreeMap<(u64, String), u64>,
    fills: u64,
    requests: u64,
    frames: u64,
    lags: Vec<i64>,
    stopped: bool,
}

const WEIGHT_LIMIT: u32 = 2400;
const LISTEN_KEY_MS: i64 = 60 * 60 * 1000;

fn interval_ms(s: &str) -> Option<i64> {
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = n.parse().ok()?;
    let m = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    (n > 0).then_some(n * m)
}

fn api_err(e: &ApiError) -> (u16, Value) {
    (e.http, json!({"code": e.code, "msg": e.msg}))
}

impl Session {
    /// A session over a scenario's market, at the data's start.
    pub fn new(sc: Scenario, set: Settings) -> Session {
        let ex = sc.exchange_at_start();
        let mut cfg = sc.sim.clone();
        // every user-stream event is queued for the wire
        cfg.monitor = crate::engine::Monitor::Stream;
        let (start, end) = ex.span();
        let cap = ex.expected_samples() + 1024;
        let v = Venue::new(ex, cfg, cap);
        let mut set = set;
        if let Some(r) = set.record.as_mut() {
            let clock = match set.clock {
                ClockMode::Lockstep => "lockstep".to_string(),
                ClockMode::Paced(s) => format!("paced:{s}"),
            };
            r.header(
                &sc.source,
                &sc.name,
                &sc.text,
                sc.seed,
                &clock,
                v.ex.time().0,
            );
        }
        Session {
            now: v.ex.time().0,
            sc,
            v,
            set,
            start: start.0,
            end: end.0,
            wall0: Instant::now(),
            subs: Vec::new(),
            next_sub: 1,
            listen_key: None,
            key_no: 0,
            weight: (0, 0),
            fills_scanned: 0,
            fill_ids: BTreeMap::new(),
            fills: 0,
            requests: 0,
            frames: 0,
            lags: Vec::new(),
            stopped: false,
        }
    }

    /// Venue time now.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The data's first bar open and last bar close.
    pub fn span(&self) -> (i64, i64) {
        (self.start, self.end)
    }

    /// Marks the wall-clock origin of a paced clock (the `ready` line).
    pub fn set_ready(&mut self) {
        self.wall0 = Instant::now();
    }

    fn paced_target(&self) -> Option<i64> {
        match self.set.clock {
            ClockMode::Lockstep => None,
            ClockMode::Paced(speed) => {
                let wall = self.wall0.elapsed().as_secs_f64() * 1000.0;
                Some(self.start + (wall * speed) as i64)
            }
        }
    }

    /// Handles one command; a lockstep advance is handed back to be walked in steps
    /// ([`Session::advance_step`]) so the WebSocket sessions can write in between.
    pub fn handle(&mut self, cmd: Cmd) -> Option<Advancing> {
        if let Some(t) = self.paced_target() {
            self.walk_to(t.min(self.end));
        }
        match cmd {
            Cmd::Http(req, tx) => {
                if req.method == "POST"
                    && req.path == "/sim/v1/advance"
                    && self.set.clock == ClockMode::Lockstep
                    && !self.stopped
                {
                    self.requests += 1;
                    if let Some(r) = self.set.record.as_mut() {
                        r.request(self.now, self.requests, &req);
                    }
                    let p = auth::params(&req.query, &req.body);
                    match self.advance_target(&p) {
                        Ok(to) => return Some(Advancing { to, tx }),
                        Err(body) => {
                            let _ = tx.send(self.plain_reply(400, body));
                        }
                    }
                    return None;
                }
                let r = self.http(req);
                let _ = tx.send(r);
            }
            Cmd::WsOpen {
                path,
                query,
                tx,
                reply,
            } => {
                let r = self.ws_open(&path, &query, tx);
                let _ = reply.send(r);
            }
            Cmd::WsText(id, text) => self.ws_text(id, &text),
            Cmd::WsClosed(id) => self.subs.retain(|s| s.id != id),
            Cmd::Tick => {}
            Cmd::Stop(tx) => {
                let r = self.stop();
                let _ = tx.send(r);
            }
        }
        None
    }

    /// Sessions whose frame buffer has fewer than `min_free` free places.
    pub fn lagging(&self, min_free: usize) -> Vec<u64> {
        self.subs
            .iter()
            .filter(|s| s.tx.capacity() < min_free)
            .map(|s| s.id)
            .collect()
    }

    /// Disconnects these sessions (they stopped taking frames).
    pub fn kick(&mut self, ids: &[u64]) {
        self.subs.retain(|s| !ids.contains(&s.id));
    }

    /// Walks a pending advance on by at most `budget` frames; true when it is complete.
    pub fn advance_step(&mut self, a: &Advancing, budget: u64) -> bool {
        a.to <= self.now || self.walk_budget(a.to, budget)
    }

    /// Answers a complete advance: every session is asked to confirm its frames are written.
    pub fn advance_done(&mut self, a: Advancing) {
        let mut acks = Vec::new();
        let mut gone = Vec::new();
        for s in &self.subs {
            let (tx, rx) = oneshot::channel();
            if s.tx.try_send(Out::Flush(tx)).is_ok() {
                acks.push(rx);
            } else {
                gone.push(s.id);
            }
        }
        self.subs.retain(|s| !gone.contains(&s.id));
        let body = json!({"time": self.now, "done": self.now >= self.end});
        let mut r = self.plain_reply(200, body);
        r.kind = ReplyKind::Flush(acks);
        let _ = a.tx.send(r);
    }

    fn plain_reply(&mut self, status: u16, body: Value) -> Reply {
        let body = body.to_string();
        if let Some(r) = self.set.record.as_mut() {
            r.response(self.now, self.requests, status, &body);
        }
        Reply {
            status,
            body,
            time: self.now,
            weight: None,
            kind: ReplyKind::Normal,
        }
    }

    fn advance_target(&self, p: &Params) -> Result<i64, Value> {
        let to = match (p.get("to"), p.get("by")) {
            (Some(t), _) => t.parse::<i64>().ok(),
            (None, Some(b)) => b
                .parse::<i64>()
                .ok()
                .filter(|b| *b >= 0)
                .map(|b| self.now.saturating_add(b)),
            (None, None) => None,
        };
        to.map(|t| t.min(self.end)).ok_or_else(|| {
            json!({"code": -1102, "msg": "Param 'to' or 'by' must be sent, but both were empty/null!"})
        })
    }

    /// True when a paced session has reached the data's end.
    pub fn paced_done(&self) -> bool {
        matches!(self.set.clock, ClockMode::Paced(_)) && self.now >= self.end
    }

    /// True once the reports are written.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    // ---- the walk and the frames -------------------------------------------------------------

    fn next_market(&self) -> Option<i64> {
        self.subs
            .iter()
            .flat_map(|s| s.markets.iter().map(|m| m.next_ms))
            .min()
    }

    /// Walks the venue to `t` (not beyond the data's end), pushing every frame due on the way.
    fn walk_to(&mut self, t: i64) {
        self.walk_budget(t, u64::MAX);
    }

    /// As [`Session::walk_to`], but returns false after pushing about `budget` frames (so the
    /// sessions can write them); call again to go on.
    fn walk_budget(&mut self, t: i64, budget: u64) -> bool {
        let t = t.min(self.end.max(self.now));
        let f0 = self.frames;
        loop {
            if self.frames - f0 >= budget {
                return false;
            }
            let m = self.next_market().filter(|&m| m <= t);
            let stop_at = m.unwrap_or(t);
            if self.v.sync_until(TimeMs(stop_at)) {
                let qt = self.v.next_stream_time().map(|q| q.0).unwrap_or(stop_at);
                self.push_user_due(qt);
                continue;
            }
            self.v.sync(TimeMs(stop_at));
            self.push_user_due(stop_at);
            self.expire_key(stop_at);
            if let Some(m) = m {
                self.push_market(m);
                continue;
            }
            break;
        }
        self.now = self.now.max(t);
        true
    }

    fn expire_key(&mut self, t: i64) {
        if let Some((k, exp)) = self.listen_key.clone() {
            if exp <= t {
                let frame = json!({"e": "listenKeyExpired", "E": exp, "listenKey": k}).to_string();
                self.push_user_frame(&frame, &k, exp);
                self.listen_key = None;
                for s in &mut self.subs {
                    if s.user.as_deref() == Some(&k) {
                        s.user = None;
                    }
                }
            }
        }
    }

    fn push_user_due(&mut self, t: i64) {
        while let Some((at, ev)) = self.v.pop_stream_due(TimeMs(t)) {
            let v = match &ev {
                StreamEvent::Order(u) => {
                    let tid = if u.exec_type == ExecType::Trade {
                        self.trade_id(u.order_id.0, &u.cum_qty.normalize().to_string())
                    } else {
                        0
                    };
                    wire::order_update(u, at, tid)
                }
                StreamEvent::Algo(u) => wire::algo_update(u, at),
                StreamEvent::Account(u) => wire::account_update(u, at, self.v.ex.mark_price()),
            };
            if let Some((key, _)) = self.listen_key.clone() {
                self.push_user_frame(&v.to_string(), &key, at.0);
            }
        }
    }

    fn push_user_frame(&mut self, plain: &str, key: &str, t: i64) {
        let targets: Vec<u64> = self
            .subs
            .iter()
            .filter(|s| s.user.as_deref() == Some(key))
            .map(|s| s.id)
            .collect();
        for id in targets {
            self.send_to(id, plain, Some(key), Some(t));
        }
    }

    fn send_to(&mut self, id: u64, plain: &str, stream: Option<&str>, t: Option<i64>) {
        let Some(i) = self.subs.iter().position(|s| s.id == id) else {
            return;
        };
        let text: Arc<str> = if let (true, Some(name)) = (self.subs[i].combined, stream) {
            format!(
                "{{\"stream\":{},\"data\":{plain}}}",
                Value::String(name.into())
            )
            .into()
        } else {
            plain.into()
        };
        if let Some(r) = self.set.record.as_mut() {
            r.frame(t.unwrap_or(self.now), id, &text);
        }
        self.frames += 1;
        match self.subs[i].tx.try_send(Out::Text(text)) {
            Ok(()) => {}
            Err(_) => {
                // full (a client that does not read) or gone: disconnect it
                self.subs.remove(i);
            }
        }
    }

    fn push_market(&mut self, m: i64) {
        let mark = self.v.ex.mark_price();
        let sym = self.sc.spec.symbol.clone();
        let mut out: Vec<(u64, String, String)> = Vec::new();
        for s in &mut self.subs {
            for ms in &mut s.markets {
                if ms.next_ms != m {
                    continue;
                }
                match &ms.topic {
                    Topic::Kline {
                        name,
                        interval_ms,
                        label,
                    } => {
                        let open = m - interval_ms;
                        if let Some(k) = kline(&self.sc, open, *interval_ms) {
                            let f = json!({
                                "e": "kline", "E": m, "s": sym,
                                "k": {"t": open, "T": m - 1, "s": sym, "i": label, "f": 0, "L": 0,
                                      "o": k[0], "c": k[3], "h": k[1], "l": k[2], "v": "0", "n": 0,
                                      "x": true, "q": "0", "V": "0", "Q": "0", "B": "0"}
                            });
                            out.push((s.id, name.clone(), f.to_string()));
                        }
                        ms.next_ms = m + interval_ms;
                    }
                    Topic::Mark { name, every_ms } => {
                        let (rate, next_funding) = funding_at(&self.sc, m);
                        let f = json!({
                            "e": "markPriceUpdate", "E": m, "s": sym, "p": wire::s(mark),
                            "i": wire::s(mark), "P": wire::s(mark), "r": wire::s(rate),
                            "T": next_funding,
                        });
                        out.push((s.id, name.clone(), f.to_string()));
                        ms.next_ms = m + every_ms;
                    }
                    Topic::User(_) => {}
                }
                if ms.next_ms > self.end {
                    ms.next_ms = i64::MAX;
                }
            }
        }
        for (id, name, f) in out {
            self.send_to(id, &f, Some(&name), Some(m));
        }
    }

    fn trade_id(&mut self, order_id: u64, cum: &str) -> u64 {
        self.scan_fills();
        self.fill_ids
            .get(&(order_id, cum.to_string()))
            .copied()
            .unwrap_or(0)
    }

    fn scan_fills(&mut self) {
        let recs = self.v.log().records();
        for r in &recs[self.fills_scanned..] {
            if let Event::OrderTradeUpdate(u) = &r.event {
                if u.exec_type == ExecType::Trade {
                    self.fills += 1;
                    self.fill_ids.insert(
                        (u.order_id.0, u.cum_qty.normalize().to_string()),
                        self.fills,
                    );
                }
            }
        }
        self.fills_scanned = recs.len();
    }

    // ---- WebSocket ---------------------------------------------------------------------------

    fn topic(&self, name: &str) -> Option<Topic> {
        if self.listen_key.as_ref().is_some_and(|(k, _)| k == name) {
            return Some(Topic::User(name.to_string()));
        }
        let (sym, rest) = name.split_once('@')?;
        if !sym.eq_ignore_ascii_case(&self.sc.spec.symbol) {
            return None;
        }
        if let Some(i) = rest.strip_prefix("kline_") {
            let ms = interval_ms(i)?;
            if ms % self.sc.interval_ms != 0 || ms % 60_000 != 0 {
                return None;
            }
            return Some(Topic::Kline {
                name: name.to_string(),
                interval_ms: ms,
                label: i.to_string(),
            });
        }
        match rest {
            "markPrice" => Some(Topic::Mark {
                name: name.to_string(),
                every_ms: 3000,
            }),
            "markPrice@1s" => Some(Topic::Mark {
                name: name.to_string(),
                every_ms: 1000,
            }),
            _ => None,
        }
    }

    fn subscribe(&mut self, i: usize, t: Topic) {
        let now = self.now;
        let s = &mut self.subs[i];
        match &t {
            Topic::User(k) => s.user = Some(k.clone()),
            Topic::Kline { interval_ms, .. } => {
                if !s.markets.iter().any(|m| m.topic == t) {
                    s.markets.push(MarketSub {
                        next_ms: (now / interval_ms + 1) * interval_ms,
                        topic: t,
                    })
                }
            }
            Topic::Mark { every_ms, .. } => {
                if !s.markets.iter().any(|m| m.topic == t) {
                    s.markets.push(MarketSub {
                        next_ms: (now / every_ms + 1) * every_ms,
                        topic: t,
                    })
                }
            }
        }
    }

    fn ws_open(&mut self, path: &str, query: &str, tx: mpsc::Sender<Out>) -> Result<u64, String> {
        let (combined, names): (bool, Vec<String>) = match path {
            "/ws" => (false, vec![]),
            "/stream" | "/private/stream" | "/public/stream" | "/market/stream" => {
                let p = auth::params(query, "");
                let names = p
                    .get("streams")
                    .map(|s| s.split('/').map(str::to_string).collect())
                    .unwrap_or_default();
                (true, names)
            }
            p if p.starts_with("/ws/") => (false, vec![p["/ws/".len()..].to_string()]),
            "/private/ws" => {
                let p = auth::params(query, "");
                (false, p.get("listenKey").into_iter().cloned().collect())
            }
            _ => return Err(format!("unknown path {path}")),
        };
        let mut topics = Vec::new();
        for n in &names {
            topics.push(
                self.topic(n)
                    .ok_or_else(|| format!("unknown stream or listen key `{n}`"))?,
            );
        }
        let id = self.next_sub;
        self.next_sub += 1;
        self.subs.push(Sub {
            id,
            tx,
            combined,
            user: None,
            markets: Vec::new(),
        });
        let i = self.subs.len() - 1;
        for t in topics {
            self.subscribe(i, t);
        }
        Ok(id)
    }

    fn ws_text(&mut self, id: u64, text: &str) {
        let Some(i) = self.subs.iter().position(|s| s.id == id) else {
            return;
        };
        let answer = match serde_json::from_str::<Value>(text) {
            Err(_) => {
                json!({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}, "id": Value::Null})
            }
            Ok(v) => {
                let mid = v.get("id").cloned().unwrap_or(Value::Null);
                let params: Vec<String> = v
                    .get("params")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                match v.get("method").and_then(Value::as_str) {
                    Some("SUBSCRIBE") => {
                        let ts: Option<Vec<Topic>> = params.iter().map(|n| self.topic(n)).collect();
                        match ts {
                            Some(ts) => {
                                for t in ts {
                                    self.subscribe(i, t);
                                }
                                json!({"result": Value::Null, "id": mid})
                            }
                            None => {
                                json!({"error": {"code": 2, "msg": "Invalid request: unknown stream or listen key"}, "id": mid})
                            }
                        }
                    }
                    Some("UNSUBSCRIBE") => {
                        let s = &mut self.subs[i];
                        for n in &params {
                            if s.user.as_deref() == Some(n) {
                                s.user = None;
                            }
                            s.markets.retain(|m| match &m.topic {
                                Topic::Kline { name, .. } | Topic::Mark { name, .. } => name != n,
                                Topic::User(_) => true,
                            });
                        }
                        json!({"result": Value::Null, "id": mid})
                    }
                    Some("LIST_SUBSCRIPTIONS") => {
                        let s = &self.subs[i];
                        let mut l: Vec<String> = s.user.iter().cloned().collect();
                        for m in &s.markets {
                            match &m.topic {
                                Topic::Kline { name, .. } | Topic::Mark { name, .. } => {
                                    l.push(name.clone())
                                }
                                Topic::User(_) => {}
                            }
                        }
                        json!({"result": l, "id": mid})
                    }
                    _ => {
                        json!({"error": {"code": 2, "msg": "Invalid request: unknown method"}, "id": mid})
                    }
                }
            }
        };
        // an answer frame is never wrapped
        self.send_to(id, &answer.to_string(), None, None);
    }

    // ---- HTTP --------------------------------------------------------------------------------

    fn http(&mut self, req: Request) -> Reply {
        self.requests += 1;
        if let Some(r) = self.set.record.as_mut() {
            r.request(self.now, self.requests, &req);
        }
        let fapi = req.path.starts_with("/fapi/");
        let (status, body, kind) = self.route(&req);
        let weight = fapi.then_some(self.weight.1);
        let body = body.to_string();
        if let Some(r) = self.set.record.as_mut() {
            r.response(self.now, self.requests, status, &body);
        }
        Reply {
            status,
            body,
            time: self.now,
            weight,
            kind,
        }
    }

    fn add_weight(&mut self, w: u32) -> Result<(), ApiError> {
        let minute = self.now.div_euclid(60_000);
        if self.weight.0 != minute {
            self.weight = (minute, 0);
        }
        self.weight.1 += w;
        if self.weight.1 > WEIGHT_LIMIT {
            return Err(err(
                429,
                -1003,
                format!("Too many requests; current limit is {WEIGHT_LIMIT} requests per minute. Please use the websocket for live updates to avoid polling the API."),
            ));
        }
        Ok(())
    }

    fn check_key(&self, req: &Request) -> Result<(), ApiError> {
        match &req.api_key {
            None => Err(err(401, -2014, "API-key format invalid.")),
            Some(k) if *k != self.set.api_key => Err(err(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1",
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_signed(&mut self, req: &Request, p: &Params) -> Result<(), ApiError> {
        self.check_key(req)?;
        if !p.contains_key("timestamp") {
            return Err(wire::mandatory("timestamp"));
        }
        auth::verify(&self.set.api_secret, &req.query, &req.body)?;
        let now = match self.set.clock {
            ClockMode::Lockstep => self.now,
            ClockMode::Paced(_) => wall_ms(),
        };
        if let Some(ts) = p.get("timestamp").and_then(|s| s.parse::<i64>().ok()) {
            if matches!(self.set.clock, ClockMode::Paced(_)) {
                self.lags.push(now - ts);
            }
        }
        if self.set.time_check {
            auth::check_time(p, now)?;
        }
        Ok(())
    }

    fn route(&mut self, req: &Request) -> (u16, Value, ReplyKind) {
        let p = auth::params(&req.query, &req.body);
        let m = req.method.as_str();
        let path = req.path.as_str();
        // the harness
        match (m, path) {
            ("GET", "/sim/v1/clock") => {
                let clock = match self.set.clock {
                    ClockMode::Lockstep => "lockstep".to_string(),
                    ClockMode::Paced(s) => format!("paced:{s}"),
                };
                let b = json!({"time": self.now, "start": self.start, "end": self.end,
                               "done": self.now >= self.end, "clock": clock});
                return (200, b, ReplyKind::Normal);
            }
            ("POST", "/sim/v1/advance") => return self.advance(),
            ("POST", "/sim/v1/stop") => {
                let r = self.stop();
                let ReplyKind::Exit(code) = r.kind else {
                    return (500, json!({}), ReplyKind::Normal);
                };
                let b: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                return (200, b, ReplyKind::Exit(code));
            }
            _ => {}
        }
        if self.stopped {
            return (
                503,
                json!({"code": -1000, "msg": "The session has ended."}),
                ReplyKind::Normal,
            );
        }
        match self.fapi(m, path, req, &p) {
            Ok(r) => r,
            Err(e) => {
                let (st, b) = api_err(&e);
                (st, b, ReplyKind::Normal)
            }
        }
    }

    fn advance(&mut self) -> (u16, Value, ReplyKind) {
        // a lockstep advance never reaches here (see `handle`)
        (
            400,
            json!({"code": -1, "msg": "advance needs the lockstep clock"}),
            ReplyKind::Normal,
        )
    }

    /// A call through the venue session (latency, faults, logging), as `sim run` makes it.
    fn call<T>(
        &mut self,
        ep: Endpoint,
        params: impl FnOnce() -> crate::events::RequestParams,
        summary: impl Fn(&T) -> String,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
    ) -> Result<T, (u16, Value, ReplyKind)> {
        self.call_on(ep, crate::sim::target::Subject::None, params, summary, exec)
    }

    /// As `call`, naming the order a cancel or query concerns (targeted faults match its role).
    fn call_on<T>(
        &mut self,
        ep: Endpoint,
        subject: crate::sim::target::Subject<'_>,
        params: impl FnOnce() -> crate::events::RequestParams,
        summary: impl Fn(&T) -> String,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
    ) -> Result<T, (u16, Value, ReplyKind)> {
        let a = self
            .v
            .call_with(ep, TimeMs(self.now), subject, params, summary, exec);
        let receive = a.receive.0;
        // frames due by the answer go out first; venue time becomes the answer's
        self.walk_to(receive);
        self.now = self.now.max(receive);
        match a.result {
            Ok(v) => Ok(v),
            Err(CallError::Api(e)) => {
                let (s, b) = api_err(&e);
                Err((s, b, ReplyKind::Normal))
            }
            Err(CallError::Transport(TransportError::ServerStatus(s))) => Err((
                s,
                json!({"code": -1000, "msg": "Unknown error, please check your request or try again later."}),
                ReplyKind::Normal,
            )),
            Err(CallError::Transport(TransportError::ServerError)) => Err((
                503,
                json!({"code": -1000, "msg": "Unknown error, please check your request or try again later."}),
                ReplyKind::Normal,
            )),
            Err(CallError::Transport(TransportError::Timeout)) => {
                Err((504, Value::Null, ReplyKind::Drop))
            }
        }
    }

    fn symbol_or_default(&self, p: &Params) -> String {
        wire::get(p, "symbol")
            .map(str::to_string)
            .unwrap_or_else(|| self.sc.spec.symbol.to_string())
    }

    fn fapi(
        &mut self,
        m: &str,
        path: &str,
        req: &Request,
        p: &Params,
    ) -> Result<(u16, Value, ReplyKind), ApiError> {
        use crate::events::RequestParams as RP;
        let ok = |v: Value| Ok((200, v, ReplyKind::Normal));
        let spot = path.starts_with("/api/v3/");
        if !spot {
            let w = weight_of(m, path, p);
            self.add_weight(w)?;
        }
        macro_rules! venue {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(r) => return Ok(r),
                }
            };
        }
        let signed = !matches!(
            path,
            "/fapi/v1/ping"
                | "/fapi/v1/time"
                | "/fapi/v1/exchangeInfo"
                | "/fapi/v1/ticker/price"
                | "/fapi/v2/ticker/price"
                | "/fapi/v1/premiumIndex"
                | "/fapi/v1/klines"
                | "/fapi/v1/listenKey"
                | "/api/v3/ping"
                | "/api/v3/time"
        );
        if path == "/fapi/v1/listenKey" {
            self.check_key(req)?;
        } else if signed && (path.starts_with("/fapi/") || spot) {
            // unknown paths fall through to 404 below without asking for a key
            if known_path(path) {
                self.check_signed(req, p)?;
            }
        }
        match (m, path) {
            ("GET", "/fapi/v1/ping") | ("GET", "/api/v3/ping") => ok(json!({})),
            ("GET", "/fapi/v1/time") | ("GET", "/api/v3/time") => {
                ok(json!({"serverTime": self.now}))
            }
            ("GET", "/fapi/v1/exchangeInfo") => ok(self.exchange_info()),
            ("GET", "/fapi/v1/ticker/price") | ("GET", "/fapi/v2/ticker/price") => {
                let sym = self.symbol_or_default(p);
                let all = wire::get(p, "symbol").is_none();
                let s2 = sym.clone();
                let price = venue!(self.call(
                    Endpoint::TickerPrice,
                    || RP::Other(format!("symbol={s2}")),
                    |d: &Decimal| d.to_string(),
                    |ex| ex.ticker_price(&sym),
                ));
                let row = json!({"symbol": sym, "price": wire::s(price), "time": self.now});
                ok(if all { json!([row]) } else { row })
            }
            ("GET", "/fapi/v1/premiumIndex") => {
                let sym = self.symbol_or_default(p);
                let all = wire::get(p, "symbol").is_none();
                let s2 = sym.clone();
                let mark = venue!(self.call(
                    Endpoint::TickerPrice,
                    || RP::Other(format!("symbol={s2}")),
                    |d: &Decimal| d.to_string(),
                    |ex| ex.ticker_price(&sym).map(|_| ex.mark_price()),
                ));
                let (rate, next) = funding_at(&self.sc, self.now);
                let row = json!({"symbol": sym, "markPrice": wire::s(mark), "indexPrice": wire::s(mark),
                    "estimatedSettlePrice": wire::s(mark), "lastFundingRate": wire::s(rate),
                    "interestRate": "0.00010000", "nextFundingTime": next, "time": self.now});
                ok(if all { json!([row]) } else { row })
            }
            ("GET", "/fapi/v1/klines") => self.klines(p).map(|v| (200, v, ReplyKind::Normal)),
            ("GET", "/fapi/v1/leverageBracket") => {
                let sym = self.symbol_or_default(p);
                let lev = i64::from(self.sc.exchange.leverage);
                let mut floor = Decimal::ZERO;
                let rows: Vec<Value> = self
                    .v
                    .ex
                    .brackets()
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let row = json!({"bracket": i + 1, "initialLeverage": lev,
                            "notionalCap": wire::s(b.notional_cap), "notionalFloor": wire::s(floor),
                            "maintMarginRatio": wire::s(b.mmr), "cum": wire::s(b.cum)});
                        floor = b.notional_cap;
                        row
                    })
                    .collect();
                let row = json!({"symbol": sym, "brackets": rows});
                ok(json!([row]))
            }
            ("POST", "/fapi/v1/order") => {
                let o = wire::new_order(p)?;
                let o2 = o.clone();
                let sent = self.now;
                let r = venue!(self.call(
                    Endpoint::NewOrder,
                    || RP::Order(o2),
                    crate::sim::order_summary,
                    |ex| ex.new_order(&o),
                ));
                self.note_entry(&o, &r, sent);
                ok(wire::order(&r))
            }
            ("GET", "/fapi/v1/order") | ("DELETE", "/fapi/v1/order") => {
                let sym = wire::req(p, "symbol")?.to_string();
                let r = wire::order_ref(p)?;
                let ep = if m == "GET" {
                    Endpoint::QueryOrder
                } else {
                    Endpoint::CancelOrder
                };
                let line = format!("symbol={sym}&{}", crate::sim::ref_str(&r));
                let o = venue!(self.call_on(
                    ep,
                    crate::sim::target::Subject::Order(&r),
                    || RP::Other(line),
                    crate::sim::order_summary,
                    |ex| if m == "GET" {
                        ex.query_order(&sym, &r)
                    } else {
                        ex.cancel_order(&sym, &r)
                    },
                ));
                ok(wire::order(&o))
            }
            ("POST", "/fapi/v1/algoOrder") => {
                let o = wire::new_algo_order(p)?;
                let o2 = o.clone();
                let r = venue!(self.call(
                    Endpoint::NewAlgoOrder,
                    || RP::Algo(o2),
                    crate::sim::algo_summary,
                    |ex| ex.new_algo_order(&o),
                ));
                ok(wire::algo(&r))
            }
            ("GET", "/fapi/v1/algoOrder") | ("DELETE", "/fapi/v1/algoOrder") => {
                let sym = self.symbol_or_default(p);
                let r = wire::algo_ref(p)?;
                let ep = if m == "GET" {
                    Endpoint::QueryAlgoOrder
                } else {
                    Endpoint::CancelAlgoOrder
                };
                let line = format!("symbol={sym}&{}", crate::sim::algo_ref_str(&r));
                let a = venue!(self.call_on(
                    ep,
                    crate::sim::target::Subject::Algo(&r),
                    || RP::Other(line),
                    crate::sim::algo_summary,
                    |ex| if m == "GET" {
                        ex.query_algo_order(&sym, &r)
                    } else {
                        ex.cancel_algo_order(&sym, &r)
                    },
                ));
                ok(if m == "GET" {
                    wire::algo(&a)
                } else {
                    wire::algo_cancelled(&a)
                })
            }
            ("GET", "/fapi/v1/openOrders") => {
                let sym = self.symbol_or_default(p);
                let s2 = sym.clone();
                let v = venue!(self.call(
                    Endpoint::OpenOrders,
                    || RP::Other(format!("symbol={s2}")),
                    |v: &Vec<OrderInfo>| format!("{} open", v.len()),
                    |ex| ex.open_orders(&sym),
                ));
                ok(Value::Array(v.iter().map(wire::order).collect()))
            }
            ("GET", "/fapi/v1/openAlgoOrders") => {
                let sym = self.symbol_or_default(p);
                let s2 = sym.clone();
                let v = venue!(self.call(
                    Endpoint::OpenAlgoOrders,
                    || RP::Other(format!("symbol={s2}")),
                    |v: &Vec<AlgoInfo>| format!("{} open", v.len()),
                    |ex| ex.open_algo_orders(&sym),
                ));
                ok(Value::Array(v.iter().map(wire::algo).collect()))
            }
            ("DELETE", "/fapi/v1/allOpenOrders") | ("DELETE", "/fapi/v1/algoOpenOrders") => {
                let sym = wire::req(p, "symbol")?.to_string();
                let s2 = sym.clone();
                let algo = path.ends_with("algoOpenOrders");
                let ep = if algo {
                    Endpoint::CancelAllAlgo
                } else {
                    Endpoint::CancelAll
                };
                venue!(self.call(
                    ep,
                    || RP::Other(format!("symbol={s2}")),
                    |_: &()| "ok".into(),
                    |ex| if algo {
                        ex.cancel_all_algo_orders(&sym)
                    } else {
                        ex.cancel_all_orders(&sym)
                    },
                ));
                ok(json!({"code": 200, "msg": "The operation of cancel all open order is done."}))
            }
            ("GET", "/fapi/v2/positionRisk") | ("GET", "/fapi/v3/positionRisk") => {
                let sym = self.symbol_or_default(p);
                let s2 = sym.clone();
                let rows = venue!(self.call(
                    Endpoint::PositionRisk,
                    || RP::Other(format!("symbol={s2}")),
                    |v: &Vec<PositionInfo>| format!("{} rows", v.len()),
                    |ex| ex.position_risk(&sym),
                ));
                let v3 = path.starts_with("/fapi/v3");
                ok(Value::Array(
                    rows.iter()
                        .filter(|r| !v3 || !r.position_amt.is_zero())
                        .map(|r| self.position_row(r, v3))
                        .collect(),
                ))
            }
            ("GET", "/fapi/v2/account")
            | ("GET", "/fapi/v3/account")
            | ("GET", "/fapi/v2/balance")
            | ("GET", "/fapi/v3/balance") => {
                let sym = self.sc.spec.symbol.clone();
                let s2 = sym.clone();
                let (rows, wallet) = venue!(self.call(
                    Endpoint::PositionRisk,
                    || RP::Other(format!("symbol={s2}")),
                    |v: &(Vec<PositionInfo>, Decimal)| format!("{} rows", v.0.len()),
                    |ex| ex.position_risk(&sym).map(|r| (r, ex.wallet())),
                ));
                ok(if path.ends_with("balance") {
                    self.balance(&rows, wallet)
                } else {
                    self.account(&rows, wallet)
                })
            }
            ("GET", "/fapi/v1/userTrades") => {
                let sym = wire::req(p, "symbol")?.to_string();
                let s2 = sym.clone();
                venue!(self.call(
                    Endpoint::QueryOrder,
                    || RP::Other(format!("symbol={s2}")),
                    |_: &()| "ok".into(),
                    |ex| ex.ticker_price(&sym).map(|_| ()),
                ));
                self.user_trades(p).map(|v| (200, v, ReplyKind::Normal))
            }
            ("POST", "/fapi/v1/batchOrders") => self.batch(p),
            ("POST", "/fapi/v1/leverage") => {
                let sym = wire::req(p, "symbol")?;
                self.check_symbol(sym)?;
                let lev = wire::int(p, "leverage")?.ok_or_else(|| wire::mandatory("leverage"))?;
                let have = i64::from(self.sc.exchange.leverage);
                if lev != have {
                    return Err(err(
                        400,
                        -4028,
                        format!("Leverage {lev} is not valid: this venue's leverage is fixed at {have} by the scenario ([exchange] leverage)."),
                    ));
                }
                let notional = margin::default_brackets(sym)
                    .and_then(|b| b.first().map(|x| x.notional_cap))
                    .unwrap_or(Decimal::from(1_000_000));
                ok(json!({"leverage": lev, "maxNotionalValue": wire::s(notional), "symbol": sym}))
            }
            ("POST", "/fapi/v1/marginType") => {
                let sym = wire::req(p, "symbol")?;
                self.check_symbol(sym)?;
                let want = wire::req(p, "marginType")?.to_ascii_uppercase();
                let have = match self.sc.exchange.margin_mode {
                    crate::exchange::MarginMode::Cross => "CROSSED",
                    crate::exchange::MarginMode::Isolated => "ISOLATED",
                };
                if want == have {
                    Err(err(400, -4046, "No need to change margin type."))
                } else {
                    Err(err(400, -4048, "Margin type cannot be changed: it is fixed by the scenario ([exchange] margin_mode)."))
                }
            }
            ("GET", "/fapi/v1/positionSide/dual") => ok(json!({
                "dualSidePosition": self.sc.exchange.position_mode == PositionMode::Hedge
            })),
            ("POST", "/fapi/v1/positionSide/dual") => {
                let want = wire::boolean(p, "dualSidePosition")?
                    .ok_or_else(|| wire::mandatory("dualSidePosition"))?;
                if want == (self.sc.exchange.position_mode == PositionMode::Hedge) {
                    Err(err(400, -4059, "No need to change position side."))
                } else {
                    Err(err(400, -4068, "The position side cannot be changed: it is fixed by the scenario ([exchange] position_mode)."))
                }
            }
            ("POST", "/fapi/v1/listenKey") => {
                let key = match &self.listen_key {
                    Some((k, _)) => k.clone(),
                    None => {
                        self.key_no += 1;
                        let (a, _) = auth::keys_from_seed(self.sc.seed ^ (self.key_no << 32));
                        a
                    }
                };
                self.listen_key = Some((key.clone(), self.now + LISTEN_KEY_MS));
                ok(json!({"listenKey": key}))
            }
            ("PUT", "/fapi/v1/listenKey") => match self.listen_key.clone() {
                Some((k, _)) => {
                    self.listen_key = Some((k.clone(), self.now + LISTEN_KEY_MS));
                    ok(json!({"listenKey": k}))
                }
                None => Err(err(400, -1125, "This listenKey does not exist.")),
            },
            ("DELETE", "/fapi/v1/listenKey") => {
                if let Some((k, _)) = self.listen_key.take() {
                    for s in &mut self.subs {
                        if s.user.as_deref() == Some(&k) {
                            s.user = None;
                        }
                    }
                }
                ok(json!({}))
            }
            _ => Err(err(
                404,
                -5000,
                format!("Path {path}, Method {m} is invalid"),
            )),
        }
    }

    /// The scenario's signals say what the engine was asked: an accepted order that opens or
    /// adds to a position side, sent within one reaction window after a signal for its symbol
    /// and direction that carried a stop, is logged as an entry that wants a stop
    /// (`EntryAccepted`, on the engine's behalf), so `naked-position` holds the venue to it as `sim run`
    /// does with the engine's own event.
    fn note_entry(&mut self, o: &NewOrder, r: &OrderInfo, sent: i64) {
        if o.reduce_only == Some(true)
            || o.close_position == Some(true)
            || !matches!(o.order_type, OrderType::Market | OrderType::Limit)
        {
            return;
        }
        let ps = o.position_side.unwrap_or(PositionSide::Both);
        let opens = match ps {
            PositionSide::Long => o.side == Side::Buy,
            PositionSide::Short => o.side == Side::Sell,
            PositionSide::Both => true,
        };
        let w = self.sc.check.reaction_ms;
        let asked = |s: &&crate::engine::Signal| {
            let dir = match s.action {
                crate::engine::Action::Buy => Some(Side::Buy),
                crate::engine::Action::Sell => Some(Side::Sell),
                _ => None,
            };
            s.symbol == o.symbol
                && dir == Some(o.side)
                && s.timestamp.0 <= sent
                && sent <= s.timestamp.0 + w
        };
        let wants = opens
            && self
                .sc
                .signals
                .iter()
                .rev()
                .find(asked)
                .is_some_and(|s| s.stop_loss.is_some() || s.stop_loss_pct.is_some());
        if wants {
            let e = crate::events::EngineEvent::EntryAccepted {
                symbol: o.symbol.clone(),
                position_side: ps,
                order_id: r.order_id,
                wants_stop: true,
            };
            self.v
                .push_event(TimeMs(self.now), Source::Engine, Event::Engine(e));
        }
    }

    fn check_symbol(&self, sym: &str) -> Result<(), ApiError> {
        if sym == self.sc.spec.symbol {
            Ok(())
        } else {
            Err(err(400, -1121, "Invalid symbol."))
        }
    }

    fn batch(&mut self, p: &Params) -> Result<(u16, Value, ReplyKind), ApiError> {
        use crate::events::RequestParams as RP;
        let raw = wire::req(p, "batchOrders")?;
        let list: Vec<Value> =
            serde_json::from_str(raw).map_err(|_| wire::mandatory("batchOrders"))?;
        if list.is_empty() || list.len() > 5 {
            return Err(err(
                400,
                -1130,
                "Data sent for parameter 'batchOrders' is not valid.",
            ));
        }
        let sent = self.now;
        let mut out = Vec::new();
        let mut last = sent;
        for item in list {
            let Value::Object(obj) = item else {
                out.push(json!({"code": -1130, "msg": "Data sent for parameter 'batchOrders' is not valid."}));
                continue;
            };
            let params: Params = obj
                .into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect();
            match wire::new_order(&params) {
                Err(e) => out.push(json!({"code": e.code, "msg": e.msg})),
                Ok(o) => {
                    let o2 = o.clone();
                    // every order of the batch is sent at the same instant
                    let a = self.v.call(
                        Endpoint::NewOrder,
                        TimeMs(sent),
                        || RP::Order(o2),
                        crate::sim::order_summary,
                        |ex| ex.new_order(&o),
                    );
                    last = last.max(a.receive.0);
                    if let Ok(r) = &a.result {
                        self.note_entry(&o, r, sent);
                    }
                    out.push(match a.result {
                        Ok(r) => wire::order(&r),
                        Err(CallError::Api(e)) => json!({"code": e.code, "msg": e.msg}),
                        Err(CallError::Transport(_)) => json!({"code": -1000, "msg": "Unknown error, please check your request or try again later."}),
                    });
                }
            }
        }
        self.walk_to(last);
        self.now = self.now.max(last);
        Ok((200, Value::Array(out), ReplyKind::Normal))
    }

    fn position_row(&self, r: &PositionInfo, v3: bool) -> Value {
        let notional = r.position_amt * r.mark_price;
        let table = self.v.ex.brackets();
        let maint = margin::maintenance(table, notional.abs());
        let initial = notional.abs() / Decimal::from(r.leverage.max(1));
        let mt = match self.sc.exchange.margin_mode {
            crate::exchange::MarginMode::Cross => "cross",
            crate::exchange::MarginMode::Isolated => "isolated",
        };
        if v3 {
            json!({
                "symbol": r.symbol, "positionSide": r.position_side.as_str(),
                "positionAmt": wire::s(r.position_amt), "entryPrice": wire::s(r.entry_price),
                "breakEvenPrice": wire::s(r.entry_price), "markPrice": wire::s(r.mark_price),
                "unRealizedProfit": wire::s(r.unrealized_profit.round_dp(8)),
                "liquidationPrice": wire::s(r.liquidation_price), "isolatedMargin": "0",
                "notional": wire::s(notional.round_dp(8)), "marginAsset": "USDT", "isolatedWallet": "0",
                "initialMargin": wire::s(initial.round_dp(8)), "maintMargin": wire::s(maint.round_dp(8)),
                "positionInitialMargin": wire::s(initial.round_dp(8)), "openOrderInitialMargin": "0",
                "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": self.now,
            })
        } else {
            json!({
                "symbol": r.symbol, "positionAmt": wire::s(r.position_amt),
                "entryPrice": wire::s(r.entry_price), "breakEvenPrice": wire::s(r.entry_price),
                "markPrice": wire::s(r.mark_price),
                "unRealizedProfit": wire::s(r.unrealized_profit.round_dp(8)),
                "liquidationPrice": wire::s(r.liquidation_price), "leverage": r.leverage.to_string(),
                "maxNotionalValue": "1000000", "marginType": mt, "isolatedMargin": "0",
                "isAutoAddMargin": "false", "positionSide": r.position_side.as_str(),
                "notional": wire::s(notional.round_dp(8)), "isolatedWallet": "0",
                "updateTime": self.now,
            })
        }
    }

    fn totals(&self, rows: &[PositionInfo]) -> (Decimal, Decimal, Decimal) {
        let table = self.v.ex.brackets();
        let mut upnl = Decimal::ZERO;
        let mut init = Decimal::ZERO;
        let mut maint = Decimal::ZERO;
        for r in rows {
            let n = (r.position_amt * r.mark_price).abs();
            upnl += r.unrealized_profit;
            init += n / Decimal::from(r.leverage.max(1));
            maint += margin::maintenance(table, n);
        }
        (upnl.round_dp(8), init.round_dp(8), maint.round_dp(8))
    }

    fn balance(&self, rows: &[PositionInfo], wallet: Decimal) -> Value {
        let (upnl, init, _) = self.totals(rows);
        let avail = (wallet + upnl - init).max(Decimal::ZERO);
        json!([{
            "accountAlias": "ocosim", "asset": "USDT", "balance": wire::s(wallet),
            "crossWalletBalance": wire::s(wallet), "crossUnPnl": wire::s(upnl),
            "availableBalance": wire::s(avail), "maxWithdrawAmount": wire::s(avail),
            "marginAvailable": true, "updateTime": self.now,
        }])
    }

    fn account(&self, rows: &[PositionInfo], wallet: Decimal) -> Value {
        let (upnl, init, maint) = self.totals(rows);
        let avail = (wallet + upnl - init).max(Decimal::ZERO);
        let table = self.v.ex.brackets();
        let positions: Vec<Value> = rows
            .iter()
            .map(|r| {
                let n = (r.position_amt * r.mark_price).abs();
                let im = (n / Decimal::from(r.leverage.max(1))).round_dp(8);
                json!({
                    "symbol": r.symbol, "initialMargin": wire::s(im),
                    "maintMargin": wire::s(margin::maintenance(table, n).round_dp(8)),
                    "unrealizedProfit": wire::s(r.unrealized_profit.round_dp(8)),
                    "positionInitialMargin": wire::s(im), "openOrderInitialMargin": "0",
                    "leverage": r.leverage.to_string(),
                    "isolated": self.sc.exchange.margin_mode == crate::exchange::MarginMode::Isolated,
                    "entryPrice": wire::s(r.entry_price), "breakEvenPrice": wire::s(r.entry_price),
                    "maxNotional": "1000000", "bidNotional": "0", "askNotional": "0",
                    "positionSide": r.position_side.as_str(), "positionAmt": wire::s(r.position_amt),
                    "notional": wire::s((r.position_amt * r.mark_price).round_dp(8)),
                    "isolatedWallet": "0", "updateTime": self.now,
                })
            })
            .collect();
        let d = |x: Decimal| wire::s(x);
        json!({
            "feeTier": 0, "feeBurn": false, "canTrade": true, "canDeposit": true, "canWithdraw": true,
            "updateTime": 0, "multiAssetsMargin": false, "tradeGroupId": -1,
            "totalInitialMargin": d(init), "totalMaintMargin": d(maint),
            "totalWalletBalance": d(wallet), "totalUnrealizedProfit": d(upnl),
            "totalMarginBalance": d(wallet + upnl), "totalPositionInitialMargin": d(init),
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": d(wallet),
            "totalCrossUnPnl": d(upnl), "availableBalance": d(avail), "maxWithdrawAmount": d(avail),
            "assets": [{
                "asset": "USDT", "walletBalance": d(wallet), "unrealizedProfit": d(upnl),
                "marginBalance": d(wallet + upnl), "maintMargin": d(maint), "initialMargin": d(init),
                "positionInitialMargin": d(init), "openOrderInitialMargin": "0",
                "crossWalletBalance": d(wallet), "crossUnPnl": d(upnl), "availableBalance": d(avail),
                "maxWithdrawAmount": d(avail), "marginAvailable": true, "updateTime": self.now,
            }],
            "positions": positions,
        })
    }

    fn user_trades(&mut self, p: &Params) -> Result<Value, ApiError> {
        self.scan_fills();
        let order = wire::int(p, "orderId")?;
        let from = wire::int(p, "startTime")?;
        let to = wire::int(p, "endTime")?;
        let from_id = wire::int(p, "fromId")?;
        let limit = wire::int(p, "limit")?.unwrap_or(500).clamp(1, 1000) as usize;
        let mut n = 0u64;
        let mut out = Vec::new();
        for r in self.v.log().records() {
            let Event::OrderTradeUpdate(u) = &r.event else {
                continue;
            };
            if u.exec_type != ExecType::Trade || r.source != Source::Exchange {
                continue;
            }
            n += 1;
            if order.is_some_and(|o| o as u64 != u.order_id.0)
                || from.is_some_and(|f| r.time_ms.0 < f)
                || to.is_some_and(|t| r.time_ms.0 > t)
                || from_id.is_some_and(|f| (n as i64) < f)
            {
                continue;
            }
            out.push(json!({
                "buyer": u.side == Side::Buy, "commission": wire::s(u.commission),
                "commissionAsset": "USDT", "id": n, "maker": u.is_maker, "orderId": u.order_id.0,
                "price": wire::s(u.last_price), "qty": wire::s(u.last_qty),
                "quoteQty": wire::s(u.last_price * u.last_qty), "realizedPnl": wire::s(u.realized_pnl),
                "side": e_str(u.side.as_str()), "positionSide": u.position_side.as_str(),
                "symbol": u.symbol, "time": r.time_ms.0,
            }));
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(Value::Array(out))
    }

    fn klines(&self, p: &Params) -> Result<Value, ApiError> {
        let sym = wire::req(p, "symbol")?;
        self.check_symbol(sym)?;
        let label = wire::req(p, "interval")?;
        let iv = interval_ms(label)
            .filter(|ms| ms % self.sc.interval_ms == 0 && ms % 60_000 == 0)
            .ok_or_else(|| err(400, -1120, "Invalid interval."))?;
        let limit = wire::int(p, "limit")?.unwrap_or(500).clamp(1, 1500) as usize;
        let start = wire::int(p, "startTime")?;
        let end = wire::int(p, "endTime")?.unwrap_or(i64::MAX).min(self.now);
        let first = self.start.div_euclid(iv) * iv;
        let last_open = end.div_euclid(iv) * iv;
        let mut opens: Vec<i64> = Vec::new();
        let mut t = match start {
            Some(s) => (s.max(first) + iv - 1).div_euclid(iv) * iv,
            None => first.max(last_open - iv * (limit as i64 - 1)),
        };
        while t <= last_open && opens.len() < limit {
            opens.push(t);
            t += iv;
        }
        let mut rows = Vec::new();
        for open in opens {
            let Some(k) = kline(&self.sc, open, iv) else {
                continue;
            };
            let mut k = k;
            if open + iv > self.now {
                // the bar in progress: its open and the last price so far
                let last = self.v.ex.last_price();
                let o: Decimal = k[0].as_str().and_then(|s| s.parse().ok()).unwrap_or(last);
                k = [
                    wire::s(o),
                    wire::s(o.max(last)),
                    wire::s(o.min(last)),
                    wire::s(last),
                ];
            }
            rows.push(json!([
                open,
                k[0],
                k[1],
                k[2],
                k[3],
                "0",
                open + iv - 1,
                "0",
                0,
                "0",
                "0",
                "0"
            ]));
        }
        Ok(Value::Array(rows))
    }

    fn exchange_info(&self) -> Value {
        let sp = &self.sc.spec;
        let base = sp.symbol.strip_suffix("USDT").unwrap_or(&sp.symbol);
        let d = |x: Decimal| wire::s(x);
        json!({
            "timezone": "UTC", "serverTime": self.now, "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": WEIGHT_LIMIT},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000"}],
            "symbols": [{
                "symbol": sp.symbol, "pair": sp.symbol, "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000i64, "onboardDate": 1569398400000i64, "status": "TRADING",
                "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
                "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
                "pricePrecision": sp.price_precision(), "quantityPrecision": sp.qty_precision(),
                "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                "liquidationFee": d(sp.liquidation_fee), "marketTakeBound": "0.05",
                "maxMoveOrderLimit": 10000,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": d(sp.min_price), "maxPrice": d(sp.max_price), "tickSize": d(sp.tick_size)},
                    {"filterType": "LOT_SIZE", "minQty": d(sp.min_qty), "maxQty": d(sp.max_qty), "stepSize": d(sp.step_size)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": d(sp.min_qty), "maxQty": d(sp.market_max_qty), "stepSize": d(sp.step_size)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MIN_NOTIONAL", "notional": d(sp.min_notional)},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": d(sp.percent_up), "multiplierDown": d(sp.percent_down), "multiplierDecimal": "4"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                "permissionSets": ["GRID", "COPY"],
            }],
        })
    }

    // ---- the end -----------------------------------------------------------------------------

    /// Ends the session: writes the reports (once) and answers the verdict.
    /// Ends the venue at the current venue time and returns what the server judges (the
    /// violations the `stop` answer counts: every invariant but `tracking-drift`, which needs the
    /// engine's own records), without writing reports. `sim parity` replays a trace with it.
    pub fn judge(&mut self) -> Vec<crate::invariants::Violation> {
        self.stopped = true;
        self.finish_venue().1
    }

    fn finish_venue(&mut self) -> (crate::sim::RunOutput, Vec<crate::invariants::Violation>) {
        let cfg = self.v.cfg.clone();
        let ex_placeholder = MockExchange::new(
            self.sc.exchange.clone(),
            self.sc.spec.clone(),
            self.sc.bars.clone(),
            self.sc.interval_ms,
        );
        let v = std::mem::replace(&mut self.v, Venue::new(ex_placeholder, cfg, 0));
        let end = TimeMs(self.now);
        let output = v.finish(end);
        let violations: Vec<_> = Checker::check_log(self.sc.check.clone(), &output.log, end)
            .into_iter()
            .filter(|v| v.invariant != Invariant::TrackingDrift)
            .collect();
        (output, violations)
    }

    /// Ends the session: judges the venue's log, writes the reports, answers the verdict.
    pub fn stop(&mut self) -> Reply {
        self.stopped = true;
        let (output, violations) = self.finish_venue();
        // the venue's header, with what a wire session has instead of an in-process engine
        let info = report::RunInfo {
            profile: "sim serve".into(),
            monitor: "wire".into(),
            passes: 0,
            passes_skipped: 0,
            ..report::run_info(&self.sc, &output)
        };
        let summary = report::summarize(&info, &output.log, &violations);
        let dir = self.set.out.clone();
        let (a, z) = output.span;
        let bars = report::PriceBars::within(
            &self.sc.bars,
            self.sc.interval_ms,
            self.sc.spec.tick_size,
            a.0,
            z.0,
        );
        let written = report::write_reports_with(
            &dir,
            &summary,
            &output.log,
            &violations,
            &self.sc.text,
            Some(&bars),
        );
        let lag = lag_stats(&mut self.lags);
        let serve_json = json!({
            "clock": match self.set.clock { ClockMode::Lockstep => "lockstep".to_string(), ClockMode::Paced(s) => format!("paced:{s}") },
            "venue_time": self.now, "requests": self.requests, "frames": self.frames,
            "request_lag_ms": lag,
        });
        let _ = std::fs::write(
            dir.join("serve.json"),
            serde_json::to_string_pretty(&serve_json).unwrap_or_default() + "\n",
        );
        if let Some(r) = self.set.record.as_mut() {
            r.flush();
        }
        let exit = if violations.is_empty() { 0 } else { 1 };
        let body = match written {
            Ok(()) => {
                json!({"verdict": summary.verdict, "violations": violations.len(), "exit": exit,
                             "reports": dir.display().to_string(), "request_lag_ms": lag})
            }
            Err(e) => json!({"verdict": summary.verdict, "violations": violations.len(), "exit": 2,
                             "reports": dir.display().to_string(), "error": e.to_string()}),
        };
        let code = body["exit"].as_i64().unwrap_or(2) as i32;
        self.subs.clear();
        Reply {
            status: 200,
            body: body.to_string(),
            time: self.now,
            weight: None,
            kind: ReplyKind::Exit(code),
        }
    }
}

fn e_str(s: &str) -> Value {
    Value::String(s.to_string())
}

fn lag_stats(l: &mut [i64]) -> Value {
    if l.is_empty() {
        return Value::Null;
    }
    l.sort_unstable();
    let n = l.len();
    let mean = l.iter().sum::<i64>() as f64 / n as f64;
    json!({"count": n, "mean": mean.round(), "p50": l[n / 2], "p99": l[(n * 99 / 100).min(n - 1)], "max": l[n - 1]})
}

/// Wall-clock ms since the epoch (paced mode's `timestamp` check).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The funding rate in force at `t` and the next funding time (8-hourly when none is known).
fn funding_at(sc: &Scenario, t: i64) -> (Decimal, i64) {
    let i = sc.funding.partition_point(|f| f.0 <= t);
    let rate = if i > 0 {
        sc.funding[i - 1].1
    } else {
        Decimal::ZERO
    };
    let next = sc
        .funding
        .get(i)
        .map(|f| f.0)
        .unwrap_or_else(|| (t.div_euclid(8 * 3_600_000) + 1) * 8 * 3_600_000);
    (rate, next)
}

/// O/H/L/C of the `iv`-long kline opening at `open`, from the scenario's bars.
fn kline(sc: &Scenario, open: i64, iv: i64) -> Option<[Value; 4]> {
    let bars: &[BarTicks] = &sc.bars;
    let a = bars.partition_point(|b| b.t < open);
    let b = bars.partition_point(|b| b.t < open + iv);
    let w = &bars[a..b];
    let first = w.first()?;
    let last = w.last()?;
    let h = w.iter().map(|x| x.h).max()?;
    let l = w.iter().map(|x| x.l).min()?;
    let sp = &sc.spec;
    Some([
        wire::s(sp.price(first.o)),
        wire::s(sp.price(h)),
        wire::s(sp.price(l)),
        wire::s(sp.price(last.c)),
    ])
}

fn known_path(path: &str) -> bool {
    matches!(
        path,
        "/fapi/v1/order"
            | "/fapi/v1/algoOrder"
            | "/fapi/v1/openOrders"
            | "/fapi/v1/openAlgoOrders"
            | "/fapi/v1/allOpenOrders"
            | "/fapi/v1/algoOpenOrders"
            | "/fapi/v2/positionRisk"
            | "/fapi/v3/positionRisk"
            | "/fapi/v2/account"
            | "/fapi/v3/account"
            | "/fapi/v2/balance"
            | "/fapi/v3/balance"
            | "/fapi/v1/userTrades"
            | "/fapi/v1/batchOrders"
            | "/fapi/v1/leverage"
            | "/fapi/v1/marginType"
            | "/fapi/v1/positionSide/dual"
            | "/fapi/v1/leverageBracket"
    )
}

/// Binance's request weight of an endpoint.
pub fn weight_of(m: &str, path: &str, p: &Params) -> u32 {
    let has_symbol = p.contains_key("symbol");
    match (m, path) {
        ("GET", "/fapi/v1/openOrders") | ("GET", "/fapi/v1/openAlgoOrders") => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        ("GET", "/fapi/v1/ticker/price") | ("GET", "/fapi/v2/ticker/price") => {
            if has_symbol {
                1
            } else {
                2
            }
        }
        ("GET", "/fapi/v1/premiumIndex") => {
            if has_symbol {
                1
            } else {
                10
            }
        }
        ("GET", "/fapi/v1/klines") => {
            let limit: i64 = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(500);
            match limit {
                i64::MIN..=99 => 1,
                100..=499 => 2,
                500..=1000 => 5,
                _ => 10,
            }
        }
        (_, "/fapi/v2/positionRisk")
        | (_, "/fapi/v3/positionRisk")
        | (_, "/fapi/v2/account")
        | (_, "/fapi/v3/account")
        | (_, "/fapi/v2/balance")
        | (_, "/fapi/v3/balance")
        | (_, "/fapi/v1/userTrades")
        | ("POST", "/fapi/v1/batchOrders") => 5,
        ("POST", "/fapi/v1/order") | ("DELETE", "/fapi/v1/order") => 0,
        _ => 1,
    }
}
