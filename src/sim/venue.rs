//! The venue session: the mock exchange behind latency and faults, shared by `sim run` (through
//! `SimClient`) and `sim serve` (through its venue actor), so a request gets the same answer,
//! the same events and the same faults whichever way it arrives.
//!
//! A [`Venue`] owns the [`MockExchange`], the settings, the call counter (faults and jitter are
//! drawn by call number) and the feed: the event log, the user-stream events on their way out
//! (sorted by delivery time) and the counters. Must not import an async runtime or HTTP code
//! (`tests/tidy.rs`).
//!
//! Ordering: [`Venue::sync`] walks the exchange to a time and moves its events into the log in
//! the order they happened; a call is logged at its arrival (request) and its receipt (answer).

use super::rng::{chance, draw, fast_draw, Stream};
use super::target::{Answer, Subject, Targeting};
use super::{FaultKind, SimConfig, SimStats};
use crate::api::*;
use crate::engine::Monitor;
use crate::events::*;
use crate::exchange::MockExchange;
use crate::types::*;
use std::collections::VecDeque;

/// What a run collects as it walks the venue: the log, the stream events on their way to the
/// engine (sorted by delivery time), the loop's counters and the number of stream events sent.
#[derive(Default)]
pub(crate) struct Feed {
    pub(crate) log: EventLog,
    /// Boxed: a stream event is big (an order update ≈ 240 bytes), and unboxed it was copied
    /// out of the exchange's event, into the tuple, into the queue, out of it at delivery and
    /// into the spares; boxed, each of those moves is a pointer's.
    pub(crate) queue: VecDeque<(TimeMs, Box<StreamEvent>)>,
    pub(crate) stats: SimStats,
    pub(crate) stream_no: u64,
    /// Stream events put into the queue ahead of its last one (a stream delay can do that):
    /// the delivery loop's noted front ([`super::run_inner`]) holds only while this stands.
    pub(crate) queue_cuts: u64,
    /// Delivered stream events handed back ([`Venue::recycle_stream`]): the next copies for the
    /// queue are written into their boxes (and an account update's `positions` vector) instead
    /// of new allocations.
    spare: Spare,
    /// Strings of accepted calls' summaries (`CallOutcome::Ok`) whose records left the log's
    /// streaming ring ([`Feed::push`]): the next summaries are written into them instead of
    /// into new allocations (a few are kept).
    spare_text: TextPool<SPARE_TEXT_MAX>,
}

impl Feed {
    /// Appends a record to the log, keeping the string of an accepted call's summary that the
    /// streaming ring lets go of in its place (the record's event is otherwise dropped as
    /// [`EventLog::push`] drops it).
    #[inline(always)]
    pub(crate) fn push(&mut self, t: TimeMs, source: Source, event: Event) -> Seq {
        let spare = &mut self.spare_text;
        self.log
            .push_recycling(t, source, event, |gone| keep_text(spare, gone))
    }

    /// A string for a summary: one kept from a record that left the log, emptied, or a new one.
    #[inline]
    fn text(&mut self) -> String {
        self.spare_text.take()
    }
}

/// At most this many summary strings are kept for reuse.
const SPARE_TEXT_MAX: usize = 8;

/// Keeps the summary string of `e` (an event the log let go of) when it is an accepted call's.
#[inline]
fn keep_text(spare: &mut TextPool<SPARE_TEXT_MAX>, e: &mut Event) {
    if let Event::Response {
        outcome: CallOutcome::Ok(s),
        ..
    } = e
    {
        spare.keep(s);
    }
}

/// At most this many delivered events of each kind are kept for reuse.
const SPARE_MAX: usize = 16;

/// Delivered stream events kept for reuse, by kind (each box holds an event of its kind, so an
/// account update is refilled into its own `positions` vector). The boxes themselves are what
/// is kept: the queue holds boxes, and a spare one goes back into it without an allocation.
#[derive(Default)]
#[allow(clippy::vec_box)]
struct Spare {
    orders: Vec<Box<StreamEvent>>,
    algos: Vec<Box<StreamEvent>>,
    accounts: Vec<Box<StreamEvent>>,
}

/// The queue's copy of `e` when it is a stream event, written into a spare box of its kind
/// when one is kept.
fn stream_event(e: &Event, spare: &mut Spare) -> Option<Box<StreamEvent>> {
    match e {
        Event::OrderTradeUpdate(o) => Some(match spare.orders.pop() {
            Some(mut b) => {
                match &mut *b {
                    StreamEvent::Order(d) => refill_order(d, o),
                    other => *other = StreamEvent::Order(o.clone()),
                }
                b
            }
            None => Box::new(StreamEvent::Order(o.clone())),
        }),
        Event::AlgoUpdate(a) => Some(match spare.algos.pop() {
            Some(mut b) => {
                match &mut *b {
                    StreamEvent::Algo(d) => refill_algo(d, a),
                    other => *other = StreamEvent::Algo(a.clone()),
                }
                b
            }
            None => Box::new(StreamEvent::Algo(a.clone())),
        }),
        Event::AccountUpdate(a) => Some(match spare.accounts.pop() {
            Some(mut b) => {
                match &mut *b {
                    StreamEvent::Account(d) => d.clone_from(a),
                    other => *other = StreamEvent::Account(a.clone()),
                }
                b
            }
            None => Box::new(StreamEvent::Account(a.clone())),
        }),
        _ => None,
    }
}

/// `d` made a copy of `s` field by field, in place: assigning a clone built it aside and copied
/// the whole update over (a call to memcpy per stream event). Every field is named, so a field
/// added later fails to compile here until it is copied.
fn refill_order(d: &mut OrderUpdate, s: &OrderUpdate) {
    let OrderUpdate {
        symbol,
        client_order_id,
        side,
        order_type,
        orig_type,
        time_in_force,
        orig_qty,
        price,
        avg_price,
        stop_price,
        exec_type,
        status,
        order_id,
        last_qty,
        cum_qty,
        last_price,
        commission,
        is_maker,
        reduce_only,
        position_side,
        close_position,
        realized_pnl,
        expiry_reason,
        from_algo,
    } = d;
    symbol.clone_from(&s.symbol);
    client_order_id.clone_from(&s.client_order_id);
    *side = s.side;
    *order_type = s.order_type;
    *orig_type = s.orig_type;
    *time_in_force = s.time_in_force;
    *orig_qty = s.orig_qty;
    *price = s.price;
    *avg_price = s.avg_price;
    *stop_price = s.stop_price;
    *exec_type = s.exec_type;
    *status = s.status;
    *order_id = s.order_id;
    *last_qty = s.last_qty;
    *cum_qty = s.cum_qty;
    *last_price = s.last_price;
    *commission = s.commission;
    *is_maker = s.is_maker;
    *reduce_only = s.reduce_only;
    *position_side = s.position_side;
    *close_position = s.close_position;
    *realized_pnl = s.realized_pnl;
    *expiry_reason = s.expiry_reason;
    *from_algo = s.from_algo;
}

/// As [`refill_order`], for an algo update.
fn refill_algo(d: &mut AlgoUpdate, s: &AlgoUpdate) {
    let AlgoUpdate {
        symbol,
        client_algo_id,
        algo_id,
        order_type,
        side,
        position_side,
        time_in_force,
        quantity,
        status,
        actual_order_id,
        trigger_price,
        price,
        close_position,
        reduce_only,
        working_type,
        reject_reason,
    } = d;
    symbol.clone_from(&s.symbol);
    client_algo_id.clone_from(&s.client_algo_id);
    *algo_id = s.algo_id;
    *order_type = s.order_type;
    *side = s.side;
    *position_side = s.position_side;
    *time_in_force = s.time_in_force;
    *quantity = s.quantity;
    *status = s.status;
    *actual_order_id = s.actual_order_id;
    *trigger_price = s.trigger_price;
    *price = s.price;
    *close_position = s.close_position;
    *reduce_only = s.reduce_only;
    *working_type = s.working_type;
    reject_reason.clone_from(&s.reject_reason);
}

/// Hands the exchange the `positions` vector of an account update that left the log's ring (`e`,
/// handed to the `gone` of [`EventLog::push_read`]): its next account update is written into it
/// rather than into a new allocation. An accepted call's summary string is kept the same way.
#[inline(always)]
fn reclaim(ex: &mut MockExchange, spare_text: &mut TextPool<SPARE_TEXT_MAX>, e: &mut Event) {
    match e {
        Event::AccountUpdate(a) => ex.give_rows(std::mem::take(&mut a.positions)),
        Event::Response { .. } => keep_text(spare_text, e),
        _ => {}
    }
}

/// Walks the exchange up to `t`, moving its events into the log and the stream queue.
/// Inline: most calls find the exchange already there with nothing to move (a call's second
/// sync, each step of `sync_until`), and then cost a few compares, not a call.
#[inline]
pub(crate) fn sync(ex: &mut MockExchange, f: &mut Feed, cfg: &SimConfig, t: TimeMs) {
    if ex.time() >= t && !ex.has_events() && !ex.funding_due_at_cursor() {
        // already there (the common case for a call's second sync): nothing to walk or move
        return;
    }
    sync_walk(ex, f, cfg, t);
}

/// [`sync`] when there is something to walk or to move.
#[inline(never)]
fn sync_walk(ex: &mut MockExchange, f: &mut Feed, cfg: &SimConfig, t: TimeMs) {
    loop {
        ex.advance_to(t);
        if ex.has_events() {
            move_events(ex, f, cfg);
            continue;
        }
        if ex.time() >= t {
            return;
        }
    }
}

/// Moves the exchange's waiting events into the log and the stream queue. Out of line: about
/// half the walks move nothing, and this loop's setup is not free.
#[inline(never)]
fn move_events(ex: &mut MockExchange, f: &mut Feed, cfg: &SimConfig) {
    // the exchange's own buffer, moved out and handed back empty: no copy, no allocation
    let mut buf = ex.take_events();
    let n = buf.len();
    // Each event is read out of the buffer straight into the log (`push_read`: one copy, over
    // the record the ring lets go of). The buffer counts none of them from here on, so a panic
    // part-way leaks the events not yet moved rather than dropping moved ones twice.
    // SAFETY: zero is within capacity, and the events past it stay initialised until read
    unsafe { buf.set_len(0) };
    let base = buf.as_ptr();
    for i in 0..n {
        // SAFETY: `i < n`, the buffer's old length: an initialised event not yet read out
        let (et, e) = unsafe { &*base.add(i) };
        let et = *et;
        let streamed = cfg.monitor == Monitor::Stream
            && matches!(
                e,
                Event::OrderTradeUpdate(_) | Event::AlgoUpdate(_) | Event::AccountUpdate(_)
            );
        // the note that follows the record: Some(true) dropped, Some(false) duplicated (one
        // place moves the record into the log, so that move is inlined once)
        let mut note = None;
        if streamed {
            let n = f.stream_no;
            f.stream_no += 1;
            let dropped =
                chance(
                    cfg.seed,
                    Stream::UserStream,
                    n * 2,
                    cfg.faults.stream_drop_ppm,
                ) || cfg.faults.scheduled.iter().any(|f| {
                    f.kind == FaultKind::DropStream && f.from_ms <= et.0 && et.0 < f.to_ms
                });
            if dropped {
                f.stats.stream_dropped += 1;
                note = Some(true);
            } else {
                let delay = if cfg.faults.stream_delay_ms > 0 {
                    (draw(cfg.seed, Stream::UserStream, n * 2 + 1)
                        % (cfg.faults.stream_delay_ms as u64 + 1)) as i64
                } else {
                    0
                };
                let at = et.plus(cfg.latency.stream_ms + delay);
                let dup = chance(
                    cfg.seed,
                    Stream::StreamDuplicate,
                    n,
                    cfg.faults.stream_duplicate_ppm,
                );
                // keep the queue sorted by delivery time (stable for equal times); the copy
                // goes in before the log takes the event, so the event is moved once, into
                // the log (with one latency for every event, the usual place is the end: no
                // search, no shift)
                let pos = if f.queue.back().is_none_or(|(qt, _)| *qt <= at) {
                    f.queue.len()
                } else {
                    f.queue_cuts += 1;
                    f.queue.partition_point(|(qt, _)| *qt <= at)
                };
                if let Some(se) = stream_event(e, &mut f.spare) {
                    if dup {
                        insert_at(&mut f.queue, pos, (at, se.clone()));
                    }
                    insert_at(&mut f.queue, pos + usize::from(dup), (at, se));
                }
                if dup {
                    note = Some(false);
                }
            }
        }
        let spare_text = &mut f.spare_text;
        // SAFETY: read once, never touched again (the buffer's length is zero)
        let seq = unsafe {
            f.log
                .push_read(et, Source::Exchange, e, |g| reclaim(ex, spare_text, g))
        };
        match note {
            Some(true) => f
                .log
                .push(et, Source::Sim, Event::StreamDropped { of: seq }),
            Some(false) => f
                .log
                .push(et, Source::Sim, Event::StreamDuplicated { of: seq }),
            None => seq,
        };
    }
    ex.return_event_buffer(buf);
}

/// Inserts `item` at `pos` of `q`; at the end, as a push (no shifting to consider).
#[inline]
fn insert_at(
    q: &mut VecDeque<(TimeMs, Box<StreamEvent>)>,
    pos: usize,
    item: (TimeMs, Box<StreamEvent>),
) {
    if pos == q.len() {
        q.push_back(item);
    } else {
        q.insert(pos, item);
    }
}

/// As [`sync`], but in stream mode stops as soon as a stream event is due before `t`, so the
/// engine hears of it before its next wake-up. Returns true when it stopped early.
pub(crate) fn sync_until(ex: &mut MockExchange, f: &mut Feed, cfg: &SimConfig, t: TimeMs) -> bool {
    if cfg.monitor != Monitor::Stream {
        sync(ex, f, cfg, t);
        return false;
    }
    loop {
        if f.queue.front().is_some_and(|q| q.0 < t) {
            return true;
        }
        if ex.time() >= t && !ex.has_events() {
            return false;
        }
        // one step: advance_to stops right after the first step that emitted events
        ex.advance_to(t);
        let now = ex.time();
        sync(ex, f, cfg, now);
    }
}

/// Jitter of call `n`, leg 0 (request) or 1 (response): uniform in 0..=jitter_ms.
pub(crate) fn call_jitter(cfg: &SimConfig, n: u64, leg: u64) -> i64 {
    let j = cfg.latency.jitter_ms;
    if j <= 0 {
        return 0;
    }
    let x = fast_draw(cfg.seed, Stream::Latency, n);
    let half = if leg == 0 { x & 0xFFFF_FFFF } else { x >> 32 };
    (half % (j as u64 + 1)) as i64
}

/// 20-bit lane `i` of a draw hits with probability `ppm` per million.
fn lane_hit(x: u64, i: u32, ppm: u32) -> bool {
    ppm > 0 && ((x >> (20 * i)) & 0xF_FFFF) * 1_000_000 < (ppm as u64) << 20
}

/// Which fault (if any) hits call `n` to `ep` arriving at `at`, and whether it reached.
/// A pure function of (seed, n, endpoint, time), so idle-poll skipping can look ahead.
/// Inline: without faults configured (most runs) the answer is two checks, and idle-poll
/// skipping asks it for every poll it looks ahead over.
#[inline]
pub(crate) fn call_fault(
    cfg: &SimConfig,
    n: u64,
    ep: Endpoint,
    at: TimeMs,
) -> Option<(FaultKind, bool)> {
    if cfg.faults.scheduled.is_empty() && !cfg.faults.any_random() {
        return None;
    }
    call_fault_drawn(cfg, n, ep, at)
}

/// [`call_fault`] when faults are configured.
#[inline(never)]
fn call_fault_drawn(
    cfg: &SimConfig,
    n: u64,
    ep: Endpoint,
    at: TimeMs,
) -> Option<(FaultKind, bool)> {
    let f = &cfg.faults;
    for s in &f.scheduled {
        if s.from_ms <= at.0 && at.0 < s.to_ms && s.endpoint.is_none_or(|e| e == ep) {
            if s.kind == FaultKind::DropStream {
                continue;
            }
            if s.kind == FaultKind::CancelUnknown
                && !matches!(ep, Endpoint::CancelOrder | Endpoint::CancelAlgoOrder)
            {
                continue;
            }
            return Some((s.kind, s.reached));
        }
    }
    if !f.any_random() {
        return None;
    }
    let x = fast_draw(cfg.seed, Stream::Faults, n);
    let reached = x >> 63 == 1;
    if lane_hit(x, 0, f.rate_limit_ppm) {
        return Some((FaultKind::RateLimit, false));
    }
    if lane_hit(x, 1, f.timeout_ppm) {
        return Some((FaultKind::Timeout, reached));
    }
    if lane_hit(x, 2, f.server_error_ppm) {
        return Some((FaultKind::ServerError, reached));
    }
    let y = fast_draw(cfg.seed, Stream::Faults, n ^ (1 << 62));
    if matches!(ep, Endpoint::OpenOrders | Endpoint::OpenAlgoOrders)
        && lane_hit(y, 0, f.poll_error_ppm)
    {
        return Some((FaultKind::ServerError, true));
    }
    if matches!(ep, Endpoint::CancelOrder | Endpoint::CancelAlgoOrder)
        && lane_hit(y, 1, f.cancel_unknown_ppm)
    {
        return Some((FaultKind::CancelUnknown, false));
    }
    None
}

/// A call's request parameters: the ones built at arrival for a targeted fault, or else built
/// now. A function, not a closure over both: such a closure was a copy of the (large) cached
/// parameters into it on every call, logged or not.
#[inline(always)]
fn take_params(
    cached: &mut Option<RequestParams>,
    params: &mut Option<impl FnOnce() -> RequestParams>,
) -> RequestParams {
    match cached.take() {
        Some(p) => p,
        None => (params.take().expect("request parameters are built once"))(),
    }
}

/// How an accepted call is summarised in its `Response` record (`CallOutcome::Ok`): written into
/// a string the venue hands over, emptied (one a record that left the log let go of, so a
/// summary need not allocate). A closure returning the summary is one too.
pub trait Summary<T> {
    /// Writes the summary of `v` into `out` (empty), or replaces `out` with it.
    fn write(&self, v: &T, out: &mut String);
}

impl<T, F: Fn(&T) -> String> Summary<T> for F {
    #[inline]
    fn write(&self, v: &T, out: &mut String) {
        *out = self(v);
    }
}

/// A summary written into the string it is given (no allocation of its own).
pub struct WriteSummary<F>(pub F);

impl<T, F: Fn(&T, &mut String)> Summary<T> for WriteSummary<F> {
    #[inline]
    fn write(&self, v: &T, out: &mut String) {
        (self.0)(v, out)
    }
}

/// One call's outcome as the venue saw it.
pub struct Answered<T> {
    /// The answer (or the error the caller gets).
    pub result: Result<T, CallError>,
    /// When the call reached the exchange.
    pub arrival: TimeMs,
    /// When the answer (or the timeout) reaches the caller.
    pub receive: TimeMs,
    /// The fault injected into the call, with whether the request reached the exchange (a
    /// targeted business-code answer shows here as None; see `targeted`).
    pub fault: Option<(FaultKind, bool)>,
    /// The index in `[faults] targeted` of the targeted fault that answered the call.
    pub targeted: Option<usize>,
    /// The exchange's state version at arrival, before the call executed.
    pub version_at_arrival: u64,
}

/// [`Answered`] but the answer: what [`Venue::call_into`] writes beside the answer it returns.
#[derive(Default)]
pub(crate) struct CallMeta {
    pub(crate) arrival: TimeMs,
    pub(crate) receive: TimeMs,
    pub(crate) fault: Option<(FaultKind, bool)>,
    pub(crate) targeted: Option<usize>,
    pub(crate) version_at_arrival: u64,
}

/// One call as it was sent (see [`Venue::trace`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TracedCall {
    /// Call number.
    pub call: u64,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// When it was sent.
    pub sent_ms: TimeMs,
    /// Its parameters.
    pub params: RequestParams,
}

/// A venue session: the mock exchange, its settings, its call counter and its feed.
pub struct Venue {
    /// When set, every call (reads too, which the log leaves out) is appended here, so a session
    /// can be replayed call for call (faults and jitter are drawn by call number).
    pub trace: Option<Vec<TracedCall>>,
    /// The mock exchange.
    pub ex: MockExchange,
    /// Settings (latency, faults, seed, whether stream events are queued).
    pub cfg: SimConfig,
    /// Number of the next call (faults and jitter are drawn by it).
    pub call_no: u64,
    pub(crate) feed: Feed,
    /// Targeted faults and what the venue knows to match them (roles, counts).
    pub(crate) targets: Targeting,
    /// Index of the next act behind the engine's back (`cfg.external`) to perform.
    pub(crate) ext_next: usize,
}

impl Venue {
    /// A session over `ex`; `log_capacity` sizes the event log up front.
    pub fn new(ex: MockExchange, cfg: SimConfig, log_capacity: usize) -> Venue {
        Venue::with_log(ex, cfg, EventLog::with_capacity(log_capacity))
    }

    /// A session over `ex` appending to `log` (e.g. a streaming log with an observer).
    pub fn with_log(ex: MockExchange, cfg: SimConfig, log: EventLog) -> Venue {
        Venue {
            trace: None,
            targets: Targeting::new(&cfg.faults.targeted),
            ex,
            cfg,
            call_no: 0,
            ext_next: 0,
            feed: Feed {
                log,
                ..Feed::default()
            },
        }
    }

    /// Walks the exchange to `t`, moving its events into the log and the stream queue.
    /// Acts behind the engine's back (`sim::external`) due by `t` are performed at their times.
    /// Always inline: most calls find nothing due and the exchange already there (a few
    /// compares), and out of line the call cost more than that.
    #[inline(always)]
    pub fn sync(&mut self, t: TimeMs) {
        while let Some(at) = self.external_due(t) {
            sync(&mut self.ex, &mut self.feed, &self.cfg, at);
            self.perform_next_external();
        }
        sync(&mut self.ex, &mut self.feed, &self.cfg, t);
    }

    /// As [`Venue::sync`], but when user-stream events are queued stops as soon as one is due
    /// before `t`; true when it stopped early.
    pub fn sync_until(&mut self, t: TimeMs) -> bool {
        while let Some(at) = self.external_due(t) {
            if sync_until(&mut self.ex, &mut self.feed, &self.cfg, at) {
                return true;
            }
            self.perform_next_external();
        }
        sync_until(&mut self.ex, &mut self.feed, &self.cfg, t)
    }

    /// The event log so far.
    pub fn log(&self) -> &EventLog {
        &self.feed.log
    }

    /// Appends a record to the log (the caller's own annotation).
    pub fn push_event(&mut self, t: TimeMs, source: Source, event: Event) -> Seq {
        self.feed.push(t, source, event)
    }

    /// The loop's counters so far.
    pub fn stats(&self) -> &SimStats {
        &self.feed.stats
    }

    /// The queued stream events due by `t`, in delivery order (not removed).
    pub fn stream_due(&self, t: TimeMs) -> impl Iterator<Item = &StreamEvent> + '_ {
        self.feed
            .queue
            .iter()
            .take_while(move |q| q.0 <= t)
            .map(|q| &*q.1)
    }
    /// Delivery time of the next queued stream event.
    pub fn next_stream_time(&self) -> Option<TimeMs> {
        self.feed.queue.front().map(|q| q.0)
    }

    /// Takes the next stream event due at or before `t` (in delivery order) and counts it.
    #[inline]
    pub fn pop_stream_due(&mut self, t: TimeMs) -> Option<(TimeMs, StreamEvent)> {
        self.pop_stream_boxed(t).map(|(at, ev)| (at, *ev))
    }

    /// As [`Venue::pop_stream_due`], in the queue's box (hand it back with
    /// [`Venue::recycle_stream`]).
    #[inline]
    pub(crate) fn pop_stream_boxed(&mut self, t: TimeMs) -> Option<(TimeMs, Box<StreamEvent>)> {
        if self.feed.queue.front().is_some_and(|q| q.0 <= t) {
            self.feed.stats.stream_delivered += 1;
            self.feed.queue.pop_front()
        } else {
            None
        }
    }

    /// As [`Venue::pop_stream_boxed`], for a caller that has just seen the front is due (it
    /// is not compared with a time again).
    #[inline]
    pub(crate) fn pop_stream_front(&mut self) -> Option<Box<StreamEvent>> {
        let (_, ev) = self.feed.queue.pop_front()?;
        self.feed.stats.stream_delivered += 1;
        Some(ev)
    }

    /// Hands back a delivered stream event: its box (and allocations) carry the next copy of
    /// its kind for the queue (a few of each kind are kept; the rest are dropped).
    #[inline]
    pub(crate) fn recycle_stream(&mut self, ev: Box<StreamEvent>) {
        let s = &mut self.feed.spare;
        let kept = match *ev {
            StreamEvent::Order(_) => &mut s.orders,
            StreamEvent::Algo(_) => &mut s.algos,
            StreamEvent::Account(_) => &mut s.accounts,
        };
        if kept.len() < SPARE_MAX {
            kept.push(ev);
        }
    }

    /// Finishes the session at `end`: the final equity sample, the walk to the end, the output.
    pub fn finish(mut self, end: TimeMs) -> super::RunOutput {
        let span = self.ex.span();
        self.ex.final_sample();
        self.sync(end);
        let final_wallet = self.ex.wallet();
        let final_unrealized = self.ex.unrealized();
        super::RunOutput {
            log: self.feed.log,
            exchange: self.ex.stats().clone(),
            sim: self.feed.stats,
            final_wallet,
            final_unrealized,
            span,
        }
    }

    /// One REST call sent at `sent`: request latency (the market is walked to the arrival),
    /// faults, execution at arrival, response latency; writes and failures are logged.
    pub fn call<T>(
        &mut self,
        ep: Endpoint,
        sent: TimeMs,
        params: impl FnOnce() -> RequestParams,
        summary: impl Summary<T>,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
    ) -> Answered<T> {
        self.call_with(ep, sent, Subject::None, params, summary, exec)
    }

    /// As [`Venue::call`], naming the order a cancel or query concerns, so a targeted fault
    /// (`sim::target`) can recognise its role.
    #[inline]
    pub fn call_with<T>(
        &mut self,
        ep: Endpoint,
        sent: TimeMs,
        subject: Subject<'_>,
        params: impl FnOnce() -> RequestParams,
        summary: impl Summary<T>,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
    ) -> Answered<T> {
        let mut m = CallMeta::default();
        let result = self.call_into(ep, sent, subject, params, summary, exec, &mut m);
        Answered {
            result,
            arrival: m.arrival,
            receive: m.receive,
            fault: m.fault,
            targeted: m.targeted,
            version_at_arrival: m.version_at_arrival,
        }
    }

    /// [`Venue::call_with`], its answer returned and the rest written to `m`. Inline: each
    /// caller is its own instance (its closures), and inlined the answer (an order's, a few
    /// hundred bytes) is built where the caller returns it, not built, moved into
    /// [`Answered`] and moved out again.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn call_into<T>(
        &mut self,
        ep: Endpoint,
        sent: TimeMs,
        subject: Subject<'_>,
        params: impl FnOnce() -> RequestParams,
        summary: impl Summary<T>,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
        m: &mut CallMeta,
    ) -> Result<T, CallError> {
        let n = self.call_no;
        self.call_no += 1;
        self.feed.stats.calls += 1;
        let arrival = sent.plus(self.cfg.latency.request_ms + call_jitter(&self.cfg, n, 0));
        let back = self.cfg.latency.response_ms + call_jitter(&self.cfg, n, 1);
        let mut fault = call_fault(&self.cfg, n, ep, arrival);
        self.sync(arrival);
        let version_at_arrival = self.ex.version();
        // targeted faults: the request's role as the venue sees it at arrival
        let mut params = Some(params);
        let mut cached: Option<RequestParams> = None;
        let mut role = None;
        let mut targeted = None;
        // roles are also what acts behind the engine's back aim at (`sim::external`)
        if self.targets.active() || !self.cfg.external.is_empty() {
            let nth = self.targets.count(ep);
            if matches!(ep, Endpoint::NewOrder | Endpoint::NewAlgoOrder) {
                cached = params.take().map(|f| f());
            }
            role = self.targets.role(&self.ex, ep, cached.as_ref(), subject);
            targeted = self.targets.hit(ep, nth, role);
            if let Some(i) = targeted {
                let t = self.targets.target(i);
                fault = match t.answer {
                    Answer::Timeout => Some((FaultKind::Timeout, t.reached)),
                    Answer::Status(s) if s >= 500 => Some((FaultKind::ServerError, t.reached)),
                    Answer::Status(_) => Some((FaultKind::RateLimit, false)),
                    Answer::Code(_) => None,
                };
                let text = format!(
                    "faults.targeted[{i}] ({}) answers call {n} ({})",
                    t.describe(),
                    ep.path()
                );
                self.feed.log.push(
                    arrival,
                    Source::Sim,
                    Event::Warning {
                        code: "targeted-fault".into(),
                        text,
                    },
                );
            }
        }
        let log_it = ep.is_write() || fault.is_some() || targeted.is_some();
        if let Some(tr) = self.trace.as_mut() {
            let p = take_params(&mut cached, &mut params);
            if log_it {
                self.feed.push(
                    arrival,
                    Source::Sim,
                    Event::Request {
                        call: n,
                        endpoint: ep,
                        sent_ms: sent,
                        params: p.clone(),
                    },
                );
            }
            tr.push(TracedCall {
                call: n,
                endpoint: ep,
                sent_ms: sent,
                params: p,
            });
        } else if log_it {
            self.feed.push(
                arrival,
                Source::Sim,
                Event::Request {
                    call: n,
                    endpoint: ep,
                    sent_ms: sent,
                    params: take_params(&mut cached, &mut params),
                },
            );
        }
        // the books' sizes before the call, read only when a placement's role is to be kept
        let books = role.map(|_| (self.ex.orders.len(), self.ex.algos.len()));
        let targeted_answer = targeted.map(|i| {
            let t = self.targets.target(i);
            (t.answer, super::target::error_for(t, ep, arrival.0))
        });
        // when the answer (or the timeout) reaches the caller: after the response latency,
        // unless the call timed out
        let mut receive = arrival.plus(back);
        let result = match (fault, targeted_answer) {
            (_, Some((Answer::Code(_) | Answer::Status(418 | 429), e))) => {
                self.feed.stats.faults += 1;
                Err(CallError::Api(e))
            }
            (Some((_, reached)), Some((Answer::Status(s), _))) if s != 503 => {
                self.feed.stats.faults += 1;
                if reached {
                    let _ = exec(&mut self.ex);
                }
                Err(CallError::Transport(TransportError::ServerStatus(s)))
            }
            (None, _) => exec(&mut self.ex).map_err(CallError::Api),
            (Some((kind, reached)), _) => {
                self.feed.stats.faults += 1;
                match kind {
                    FaultKind::RateLimit => {
                        Err(CallError::Api(crate::exchange::codes::rate_limited()))
                    }
                    FaultKind::CancelUnknown => {
                        Err(CallError::Api(crate::exchange::codes::unknown_order()))
                    }
                    FaultKind::Timeout | FaultKind::ServerError | FaultKind::DropStream => {
                        if reached {
                            let _ = exec(&mut self.ex);
                        }
                        if kind == FaultKind::Timeout {
                            receive = sent.plus(self.cfg.latency.timeout_ms);
                            Err(CallError::Transport(TransportError::Timeout))
                        } else {
                            Err(CallError::Transport(TransportError::ServerError))
                        }
                    }
                }
            }
        };
        // a placement the venue executed keeps its role, so its cancels and queries match too
        if let (Some(r), Some(books)) = (role, books) {
            if ep == Endpoint::NewOrder && self.ex.orders.len() > books.0 {
                self.targets.record(false, books.0, r);
            } else if ep == Endpoint::NewAlgoOrder && self.ex.algos.len() > books.1 {
                self.targets.record(true, books.1, r);
            }
        }
        // the exchange's own events from executing the request are stamped at arrival
        self.sync(receive);
        if log_it || result.is_err() {
            let outcome = match (&result, fault) {
                (Err(CallError::Transport(e)), Some((_, reached))) => {
                    CallOutcome::Fault { error: *e, reached }
                }
                (Err(CallError::Api(e)), _) => CallOutcome::Rejected(e.clone()),
                (Err(CallError::Transport(e)), None) => CallOutcome::Fault {
                    error: *e,
                    reached: false,
                },
                (Ok(v), _) => {
                    let mut text = self.feed.text();
                    summary.write(v, &mut text);
                    CallOutcome::Ok(text)
                }
            };
            self.feed.push(
                receive,
                Source::Sim,
                Event::Response {
                    call: n,
                    endpoint: ep,
                    outcome,
                },
            );
        }
        *m = CallMeta {
            arrival,
            receive,
            fault,
            targeted,
            version_at_arrival,
        };
        result
    }
}
