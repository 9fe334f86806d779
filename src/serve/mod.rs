//! `sim serve`: one scenario's market on loopback HTTP and WebSocket, in Binance USDⓈ-M's own
//! wire format, so an unmodified bot and its Binance client can trade against history.
//!
//! The server is only a transport and a clock over the same venue code as `sim run`
//! ([`crate::sim::Venue`]): a request `sim run`'s engine would make gets the same answer either
//! way. One venue ([`state::Session`]) handles commands from the HTTP handlers and WebSocket
//! sessions strictly in arrival order, on the one runtime thread: a request that arrives while
//! nothing is queued and no advance is being walked is answered on the spot by its own handler
//! (no hand-off); otherwise it joins the venue actor's channel behind the others. Sessions receive frames
//! through bounded buffers (a client that stops reading is disconnected when its buffer fills,
//! or when a frame cannot be written for 5 s).
//!
//! Limits (hostile input): request head 16 KiB (431), body 64 KiB (413), a head must arrive within
//! 10 s, at most `max_connections` open connections (the excess gets a 503 and is closed),
//! WebSocket messages 64 KiB. Nothing here may panic on input.
//!
//! Modules: `wire` (Binance JSON), `auth` (params, HMAC, recvWindow), `state` (the actor),
//! `record` (`--record` JSONL). Only this module (with `cli`) uses tokio, hyper and tungstenite.

pub mod auth;
pub mod record;
pub mod state;
pub mod wire;

use crate::scenario::Scenario;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use state::{Cmd, Out, Reply, ReplyKind, Request, Session, Settings};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// How venue time moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockMode {
    /// Only on `advance` and by each call's latency (deterministic).
    Lockstep,
    /// start + SPEED × wall time since `ready`.
    Paced(f64),
}

impl ClockMode {
    /// Parses `lockstep` or `paced:SPEED` (SPEED > 0).
    pub fn parse(s: &str) -> Result<ClockMode, String> {
        if s == "lockstep" {
            return Ok(ClockMode::Lockstep);
        }
        if let Some(x) = s.strip_prefix("paced:") {
            if let Ok(v) = x.parse::<f64>() {
                if v.is_finite() && v > 0.0 {
                    return Ok(ClockMode::Paced(v));
                }
            }
        }
        Err(format!(
            "--clock `{s}`: expected `lockstep` or `paced:SPEED` with SPEED > 0 (e.g. paced:60)"
        ))
    }
}

/// Command-line settings of `sim serve`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port (0 = any free port).
    pub port: u16,
    /// Address to bind.
    pub bind: String,
    /// Clock.
    pub clock: ClockMode,
    /// `--record FILE`.
    pub record: Option<PathBuf>,
    /// Report folder.
    pub out: PathBuf,
    /// Check `timestamp`/`recvWindow`.
    pub time_check: bool,
    /// API key and secret.
    pub keys: (String, String),
    /// Most open connections at once.
    pub max_connections: usize,
}

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
const WS_BUFFER: usize = 4096;
const WS_MESSAGE: usize = 64 * 1024;
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const ADVANCE_STEP_FRAMES: u64 = 1024;
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

struct Shared {
    tx: mpsc::Sender<Cmd>,
    exit: watch::Sender<Option<i32>>,
    active: AtomicUsize,
    /// The venue. Locked only for one synchronous call at a time (never across an await).
    venue: Arc<Mutex<Session>>,
    /// Commands sent to the actor and not yet fully handled (an advance counts until walked).
    pending: AtomicUsize,
}

impl Shared {
    /// Queues `cmd` for the actor, behind every command queued before it.
    async fn send(&self, cmd: Cmd) -> bool {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(cmd).await.is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Runs `f` on the venue now when nothing is queued before it (same order as through the
    /// actor, without the hand-off); `None` when the actor is busy or the venue is locked.
    fn now<R>(&self, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        if self.pending.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let mut v = self.venue.try_lock().ok()?;
        let r = f(&mut v);
        if v.paced_done() && !v.stopped() {
            if let ReplyKind::Exit(code) = v.stop().kind {
                let _ = self.exit.send(Some(code));
            }
        }
        Some(r)
    }
}

fn lock(m: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Guard(Arc<Shared>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An injected timeout: the connection is closed without an answer.
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped (injected timeout)")
    }
}
impl std::error::Error for Dropped {}

/// Serves `sc` until stopped; returns the exit code (0 PASS, 1 FAIL, 2 reports not written).
pub fn serve(sc: Scenario, opts: Options) -> Result<i32, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(run(sc, opts))
}

async fn run(sc: Scenario, opts: Options) -> Result<i32, String> {
    let listener = TcpListener::bind((opts.bind.as_str(), opts.port))
        .await
        .map_err(|e| format!("--bind {}:{}: {e}", opts.bind, opts.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let record = match &opts.record {
        Some(p) => Some(
            record::Recorder::create(p).map_err(|e| format!("--record {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let session = Session::new(
        sc,
        Settings {
            api_key: opts.keys.0.clone(),
            api_secret: opts.keys.1.clone(),
            clock: opts.clock,
            time_check: opts.time_check,
            out: opts.out.clone(),
            record,
        },
    );
    let clock_line = match opts.clock {
        ClockMode::Lockstep => format!("clock: lockstep (venue time {})", session.now()),
        ClockMode::Paced(s) => format!("clock: paced:{s} (venue time {})", session.now()),
    };
    let (tx, mut rx) = mpsc::channel::<Cmd>(1024);
    let (exit_tx, mut exit_rx) = watch::channel::<Option<i32>>(None);
    let venue = Arc::new(Mutex::new(session));
    let shared = Arc::new(Shared {
        tx: tx.clone(),
        exit: exit_tx,
        active: AtomicUsize::new(0),
        venue: venue.clone(),
        pending: AtomicUsize::new(0),
    });
    {
        let mut so = std::io::stdout().lock();
        let _ = writeln!(so, "rest: http://{addr}");
        let _ = writeln!(so, "ws: ws://{addr}");
        let _ = writeln!(so, "api key: {}", opts.keys.0);
        let _ = writeln!(so, "secret: {}", opts.keys.1);
        let _ = writeln!(so, "{clock_line}");
        let _ = writeln!(so, "ready");
        let _ = so.flush();
    }
    lock(&venue).set_ready();
    // the venue actor: the commands that found others queued before them
    let sh = shared.clone();
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            let adv = lock(&venue).handle(cmd);
            if let Some(a) = adv {
                // a long advance pauses every step until the sessions have room again; one that
                // takes nothing for WRITE_TIMEOUT is disconnected
                while !lock(&venue).advance_step(&a, ADVANCE_STEP_FRAMES) {
                    tokio::task::yield_now().await;
                    let t0 = tokio::time::Instant::now();
                    loop {
                        let lag = lock(&venue).lagging(WS_BUFFER / 2);
                        if lag.is_empty() {
                            break;
                        }
                        if t0.elapsed() > WRITE_TIMEOUT {
                            lock(&venue).kick(&lag);
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                lock(&venue).advance_done(a);
            }
            {
                let mut v = lock(&venue);
                if v.paced_done() && !v.stopped() {
                    let r = v.stop();
                    if let ReplyKind::Exit(code) = r.kind {
                        let _ = sh.exit.send(Some(code));
                    }
                }
            }
            sh.pending.fetch_sub(1, Ordering::SeqCst);
        }
    });
    if let ClockMode::Paced(_) = opts.clock {
        let sh = shared.clone();
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_millis(20));
            loop {
                iv.tick().await;
                if sh.tx.is_closed() {
                    break;
                }
                sh.pending.fetch_add(1, Ordering::SeqCst);
                if sh.tx.try_send(Cmd::Tick).is_err() {
                    sh.pending.fetch_sub(1, Ordering::SeqCst);
                }
            }
        });
    }
    let mut term = signal_term();
    loop {
        tokio::select! {
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let _ = stream.set_nodelay(true);
                if shared.active.load(Ordering::SeqCst) >= opts.max_connections {
                    tokio::spawn(async move {
                        let mut s = stream;
                        let body = r#"{"code":-1000,"msg":"Too many open connections."}"#;
                        let msg = format!("HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                        let _ = tokio::time::timeout(Duration::from_secs(1), s.write_all(msg.as_bytes())).await;
                        let _ = s.shutdown().await;
                    });
                    continue;
                }
                shared.active.fetch_add(1, Ordering::SeqCst);
                let guard = Guard(shared.clone());
                let sh = shared.clone();
                tokio::spawn(async move {
                    let _g = guard;
                    let svc = service_fn(move |req| handle(req, sh.clone()));
                    let mut b = http1::Builder::new();
                    b.max_buf_size(MAX_HEAD)
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10));
                    let _ = b.serve_connection(TokioIo::new(stream), svc).with_upgrades().await;
                });
            }
            _ = exit_rx.changed() => {
                let code = (*exit_rx.borrow()).unwrap_or(2);
                return Ok(code);
            }
            _ = tokio::signal::ctrl_c() => {
                return Ok(stop_now(&shared).await);
            }
            _ = term.recv() => {
                return Ok(stop_now(&shared).await);
            }
        }
    }
}

#[cfg(unix)]
fn signal_term() -> TermSignal {
    TermSignal(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok())
}
#[cfg(not(unix))]
fn signal_term() -> TermSignal {
    TermSignal(None)
}

struct TermSignal(
    #[cfg(unix)] Option<tokio::signal::unix::Signal>,
    #[cfg(not(unix))] Option<()>,
);
impl TermSignal {
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.0.as_mut() {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

async fn stop_now(sh: &Shared) -> i32 {
    let (tx, rx) = oneshot::channel();
    if !sh.send(Cmd::Stop(tx)).await {
        return 2;
    }
    match rx.await {
        Ok(Reply {
            kind: ReplyKind::Exit(c),
            ..
        }) => c,
        _ => 2,
    }
}

fn json_response(
    status: u16,
    body: String,
    time: Option<i64>,
    weight: Option<u32>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(t) = time {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&t.to_string()) {
            h.insert("x-sim-time", v);
        }
    }
    if let Some(w) = weight {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&w.to_string()) {
            h.insert("x-mbx-used-weight-1m", v);
        }
    }
    r
}

/// The venue's answer to `req`: on the spot when nothing is queued before it (an advance always
/// goes to the actor, which walks it in steps), else through the actor's channel.
async fn ask(sh: &Shared, req: Request) -> Option<Reply> {
    let (tx, mut rx) = oneshot::channel();
    let cmd = Cmd::Http(req, tx);
    let cmd = if is_advance(&cmd) {
        cmd
    } else {
        let mut cmd = Some(cmd);
        let done = sh.now(|v| {
            if let Some(c) = cmd.take() {
                // not an advance, so never handed back to be walked
                let _ = v.handle(c);
            }
        });
        if done.is_some() {
            return rx.try_recv().ok();
        }
        cmd?
    };
    if !sh.send(cmd).await {
        return None;
    }
    rx.await.ok()
}

fn is_advance(cmd: &Cmd) -> bool {
    matches!(cmd, Cmd::Http(r, _) if r.path == "/sim/v1/advance")
}

async fn handle(
    req: HRequest<Incoming>,
    sh: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let is_ws = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_ws {
        return Ok(ws_upgrade(req, path, query, sh).await);
    }
    let method = req.method().as_str().to_string();
    let api_key = req
        .headers()
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(json_response(
                413,
                r#"{"code":-1000,"msg":"Request body too large (64 KiB at most)."}"#.into(),
                None,
                None,
            ))
        }
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let Some(r) = ask(
        &sh,
        Request {
            method,
            path,
            query,
            body,
            api_key,
        },
    )
    .await
    else {
        return Ok(json_response(
            503,
            r#"{"code":-1000,"msg":"The session has ended."}"#.into(),
            None,
            None,
        ));
    };
    match r.kind {
        ReplyKind::Drop => return Err(Dropped),
        ReplyKind::Flush(acks) => {
            let deadline = tokio::time::Instant::now() + FLUSH_TIMEOUT;
            for a in acks {
                let _ = tokio::time::timeout_at(deadline, a).await;
            }
        }
        ReplyKind::Exit(code) => {
            let sh2 = sh.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = sh2.exit.send(Some(code));
            });
        }
        ReplyKind::Normal => {}
    }
    Ok(json_response(r.status, r.body, Some(r.time), r.weight))
}

async fn ws_upgrade(
    req: HRequest<Incoming>,
    path: String,
    query: String,
    sh: Arc<Shared>,
) -> Response<Full<Bytes>> {
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return json_response(
            400,
            r#"{"code":-1000,"msg":"Missing Sec-WebSocket-Key."}"#.into(),
            None,
            None,
        );
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let (ftx, frx) = mpsc::channel::<Out>(WS_BUFFER);
    let (rtx, rrx) = oneshot::channel();
    if !sh
        .send(Cmd::WsOpen {
            path,
            query,
            tx: ftx,
            reply: rtx,
        })
        .await
    {
        return json_response(
            503,
            r#"{"code":-1000,"msg":"The session has ended."}"#.into(),
            None,
            None,
        );
    }
    let id = match rrx.await {
        Ok(Ok(id)) => id,
        Ok(Err(msg)) => {
            let b = serde_json::json!({"code": -1000, "msg": msg}).to_string();
            return json_response(404, b, None, None);
        }
        Err(_) => return json_response(503, "{}".into(), None, None),
    };
    let on_upgrade = hyper::upgrade::on(req);
    let sh2 = sh.clone();
    tokio::spawn(async move {
        sh2.active.fetch_add(1, Ordering::SeqCst);
        let _g = Guard(sh2.clone());
        if let Ok(up) = on_upgrade.await {
            let cfg = WebSocketConfig::default()
                .max_message_size(Some(WS_MESSAGE))
                .max_frame_size(Some(WS_MESSAGE));
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, Some(cfg)).await;
            ws_session(ws, id, frx, &sh2).await;
        }
        let _ = sh2.send(Cmd::WsClosed(id)).await;
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        "upgrade",
        hyper::header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        "connection",
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    r
}

async fn ws_session<S>(ws: WebSocketStream<S>, id: u64, mut frx: mpsc::Receiver<Out>, sh: &Shared)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            out = frx.recv() => match out {
                Some(Out::Text(t)) => {
                    let sent = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::text(t.as_ref()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break;
                    }
                }
                Some(Out::Flush(ack)) => {
                    let _ = ack.send(());
                }
                // the actor let go of this session (its buffer filled, or the session ended)
                None => break,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if !sh.send(Cmd::WsText(id, t.as_str().to_string())).await {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_))) => {
                    // tungstenite queued the pong; write it out
                    if tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), sink.close()).await;
}
