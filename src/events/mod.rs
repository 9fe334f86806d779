//! The append-only event log: every change in a run, in one total order `(time_ms, seq)`.
//!
//! Exchange events mirror Binance's user-data stream (ORDER_TRADE_UPDATE, ALGO_UPDATE,
//! ACCOUNT_UPDATE); call events record each REST request and its answer as the exchange and the
//! engine saw them; engine events are the engine's own annotations (signals, pairs). Invariants and
//! reports read only this log. `seq` increases by one per record, so a log replays exactly.

use crate::api::{ApiError, Endpoint, NewAlgoOrder, NewOrder, TransportError};
use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub mod json;

pub use crate::api::{
    AccountReason, AccountUpdate, AlgoUpdate, EngineEvent, ExecType, LegId, OrderUpdate,
    PositionRow,
};

/// The outcome of a call, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Accepted; a short summary (ids, status).
    Ok(String),
    /// Rejected by the exchange.
    Rejected(ApiError),
    /// Transport fault; `reached` says whether the exchange processed it.
    Fault {
        /// The fault.
        error: TransportError,
        /// Whether the request reached the exchange (unknown to the caller).
        reached: bool,
    },
}

/// The parameters of a logged request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestParams {
    /// New regular order.
    Order(NewOrder),
    /// New algo order.
    Algo(NewAlgoOrder),
    /// Anything else: the query string.
    Other(String),
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A REST request reached (or was lost before) the exchange.
    Request {
        /// Call number in this run.
        call: u64,
        /// Endpoint.
        endpoint: Endpoint,
        /// When the engine sent it.
        sent_ms: TimeMs,
        /// Parameters.
        params: RequestParams,
    },
    /// The answer as the engine got it.
    Response {
        /// Call number.
        call: u64,
        /// Endpoint.
        endpoint: Endpoint,
        /// Outcome.
        outcome: CallOutcome,
    },
    /// ORDER_TRADE_UPDATE
    OrderTradeUpdate(OrderUpdate),
    /// ALGO_UPDATE
    AlgoUpdate(AlgoUpdate),
    /// ACCOUNT_UPDATE
    AccountUpdate(AccountUpdate),
    /// A stream event that the fault schedule dropped before it reached the engine.
    StreamDropped {
        /// Seq of the dropped event.
        of: Seq,
    },
    /// A stream event that the fault schedule delivers twice (`stream_duplicate_ppm`).
    StreamDuplicated {
        /// Seq of the duplicated event.
        of: Seq,
    },
    /// Mark/equity sample for charts: wallet, unrealized PnL and last price.
    Equity {
        /// Wallet balance.
        wallet: Decimal,
        /// Unrealized PnL at the mark.
        unrealized: Decimal,
        /// Last price.
        price: Decimal,
    },
    /// A warning the exchange or sim raises without a state change (e.g. a stop beyond liquidation).
    Warning {
        /// Short code.
        code: String,
        /// Text.
        text: String,
    },
    /// Something done to the account behind the engine's back (`[[external]]`: a leg cancelled
    /// or expired by someone else, an ADL); the exchange events it caused follow it.
    External {
        /// Index in the scenario's `[[external]]` list.
        index: usize,
        /// `cancel_leg`, `expire_leg` or `adl`.
        act: String,
        /// What it aimed at (`pair 2 stop_loss`, `LONG position, fraction 0.5`).
        target: String,
        /// What it did, or why it did nothing.
        outcome: String,
        /// False when it found nothing to act on (a no-op that changed nothing).
        acted: bool,
    },
    /// Engine annotation.
    Engine(EngineEvent),
}

/// Who produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The mock exchange.
    Exchange,
    /// The engine under test.
    Engine,
    /// The simulator (calls, faults, samples).
    Sim,
}

/// One record: sequence number, simulated time, source, event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position in the log (0-based, dense).
    pub seq: Seq,
    /// Simulated time.
    pub time_ms: TimeMs,
    /// Producer.
    pub source: Source,
    /// Payload.
    pub event: Event,
}

/// Something fed every record as it is appended, in log order (the invariant checker, the
/// report accumulators, the `events.jsonl` writer), so nothing has to read the whole log back.
pub trait Observer: Send {
    /// Sees `r`, the record just appended; `log` already holds it (see [`EventLog::get`]).
    fn observe(&mut self, r: &EventRecord, log: &EventLog);
    /// The observer as `Any`, to take its concrete type back after the run.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// How many Equity samples a streaming log keeps besides its recent records.
const RECENT_EQUITY: usize = 2;

/// The append-only log of a run: either every record (the default: tests, explore, parity,
/// serve), or — streaming, [`EventLog::streaming`] — only the last records (a bounded ring of
/// the events other than Equity samples, and the last two samples), while an [`Observer`] sees
/// each record as it is appended. Memory is then flat in the length of history.
#[derive(Default)]
pub struct EventLog {
    records: Vec<EventRecord>,
    /// False: a streaming log (only `recent` and `equity` are kept).
    streaming: bool,
    /// Records appended so far (the next seq).
    len: u64,
    /// Streaming: the last `recent_len` records other than Equity samples, as a ring: in order
    /// from `head` to the end, then from the start to `head` (once full, a new record is written
    /// over the oldest in place: a record is big, and moving it out and in again was a good part
    /// of what appending cost).
    recent: Vec<EventRecord>,
    /// Index in `recent` of its oldest record (0 until it is full).
    head: usize,
    /// Streaming: the last [`RECENT_EQUITY`] Equity samples, in order.
    equity: std::collections::VecDeque<EventRecord>,
    recent_len: usize,
    observer: Option<Box<dyn Observer>>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("len", &self.len)
            .field("streaming", &self.streaming)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Clone for EventLog {
    /// A copy of the records; the observer stays with the original.
    fn clone(&self) -> EventLog {
        EventLog {
            records: self.records.clone(),
            streaming: self.streaming,
            len: self.len,
            recent: self.recent.clone(),
            head: self.head,
            equity: self.equity.clone(),
            recent_len: self.recent_len,
            observer: None,
        }
    }
}

/// True when dropping `e` would free nothing: the kinds a run's log mostly holds (order, algo
/// and account updates, requests, the engine's pair records), when their strings are inline
/// (or empty, or static) and their vectors unallocated ([`EventLog::push_read`] then skips the
/// call to drop the record it writes over, and [`RecordBatch`] copies the record bit for bit).
/// Each field left out is named and required to be `Copy` here, so a field that owns memory,
/// added later, fails to compile until it is checked.
#[inline(always)]
fn owns_nothing(e: &Event) -> bool {
    fn copy<T: Copy>(_: &T) {}
    match e {
        Event::OrderTradeUpdate(OrderUpdate {
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
        }) => {
            copy(side);
            copy(order_type);
            copy(orig_type);
            copy(time_in_force);
            copy(orig_qty);
            copy(price);
            copy(avg_price);
            copy(stop_price);
            copy(exec_type);
            copy(status);
            copy(order_id);
            copy(last_qty);
            copy(cum_qty);
            copy(last_price);
            copy(commission);
            copy(is_maker);
            copy(reduce_only);
            copy(position_side);
            copy(close_position);
            copy(realized_pnl);
            copy(expiry_reason);
            copy(from_algo);
            !symbol.is_heap() && !client_order_id.is_heap()
        }
        Event::AlgoUpdate(AlgoUpdate {
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
        }) => {
            copy(algo_id);
            copy(order_type);
            copy(side);
            copy(position_side);
            copy(time_in_force);
            copy(quantity);
            copy(status);
            copy(actual_order_id);
            copy(trigger_price);
            copy(price);
            copy(close_position);
            copy(reduce_only);
            copy(working_type);
            !symbol.is_heap() && !client_algo_id.is_heap() && reject_reason.capacity() == 0
        }
        Event::AccountUpdate(AccountUpdate {
            reason,
            wallet_balance,
            balance_change,
            realized_pnl,
            fee,
            positions,
        }) => {
            copy(reason);
            copy(wallet_balance);
            copy(balance_change);
            copy(realized_pnl);
            copy(fee);
            positions.capacity() == 0
        }
        Event::Equity {
            wallet,
            unrealized,
            price,
        } => {
            copy(wallet);
            copy(unrealized);
            copy(price);
            true
        }
        Event::StreamDropped { of } | Event::StreamDuplicated { of } => {
            copy(of);
            true
        }
        Event::Request {
            call,
            endpoint,
            sent_ms,
            params,
        } => {
            copy(call);
            copy(endpoint);
            copy(sent_ms);
            match params {
                RequestParams::Order(NewOrder {
                    symbol,
                    side,
                    order_type,
                    position_side,
                    quantity,
                    price,
                    stop_price,
                    time_in_force,
                    reduce_only,
                    close_position,
                    working_type,
                    price_protect,
                    activation_price,
                    callback_rate,
                    client_order_id,
                    resp_type,
                }) => {
                    copy(side);
                    copy(order_type);
                    copy(position_side);
                    copy(quantity);
                    copy(price);
                    copy(stop_price);
                    copy(time_in_force);
                    copy(reduce_only);
                    copy(close_position);
                    copy(working_type);
                    copy(price_protect);
                    copy(activation_price);
                    copy(callback_rate);
                    copy(resp_type);
                    !symbol.is_heap() && !client_order_id.as_ref().is_some_and(Ident::is_heap)
                }
                RequestParams::Algo(NewAlgoOrder {
                    symbol,
                    side,
                    order_type,
                    position_side,
                    quantity,
                    price,
                    trigger_price,
                    time_in_force,
                    reduce_only,
                    close_position,
                    working_type,
                    price_protect,
                    activate_price,
                    callback_rate,
                    client_algo_id,
                }) => {
                    copy(side);
                    copy(order_type);
                    copy(position_side);
                    copy(quantity);
                    copy(price);
                    copy(trigger_price);
                    copy(time_in_force);
                    copy(reduce_only);
                    copy(close_position);
                    copy(working_type);
                    copy(price_protect);
                    copy(activate_price);
                    copy(callback_rate);
                    !symbol.is_heap() && !client_algo_id.as_ref().is_some_and(Ident::is_heap)
                }
                RequestParams::Other(q) => q.capacity() == 0,
            }
        }
        Event::Engine(e) => match e {
            EngineEvent::EntryAccepted {
                symbol,
                position_side,
                order_id,
                wants_stop,
            } => {
                copy(position_side);
                copy(order_id);
                copy(wants_stop);
                !symbol.is_heap()
            }
            EngineEvent::PairPlaced {
                pair,
                symbol,
                position_side,
                sl,
                tp,
            } => {
                copy(pair);
                copy(position_side);
                copy(sl);
                copy(tp);
                !symbol.is_heap()
            }
            EngineEvent::PairDropped {
                pair,
                status,
                reason,
            } => {
                copy(pair);
                unowned(status) && unowned(reason)
            }
            EngineEvent::CancelOther {
                pair,
                filled,
                cancel,
            } => {
                copy(pair);
                copy(filled);
                copy(cancel);
                true
            }
            EngineEvent::Restart => true,
            _ => false,
        },
        _ => false,
    }
}

/// True when `c` holds no allocation (borrowed, or an unallocated owned string).
// the `Cow` itself, not its text: whether it is borrowed is the question
#[allow(clippy::ptr_arg)]
#[inline(always)]
fn unowned(c: &std::borrow::Cow<'static, str>) -> bool {
    match c {
        std::borrow::Cow::Borrowed(_) => true,
        std::borrow::Cow::Owned(s) => s.capacity() == 0,
    }
}

impl EventLog {
    /// An empty log.
    pub fn new() -> EventLog {
        EventLog::default()
    }
    /// An empty log with room for `n` records.
    pub fn with_capacity(n: usize) -> EventLog {
        EventLog {
            records: Vec::with_capacity(n),
            ..EventLog::default()
        }
    }
    /// An empty streaming log: it keeps only the last `recent` records other than Equity samples
    /// (and the last two samples); [`Self::records`] is then empty and an observer must see
    /// every record as it comes.
    pub fn streaming(recent: usize) -> EventLog {
        EventLog {
            streaming: true,
            recent_len: recent.max(1),
            recent: Vec::with_capacity(recent.max(1)),
            ..EventLog::default()
        }
    }
    /// Makes room for `n` more records (nothing for a streaming log).
    pub fn reserve(&mut self, n: usize) {
        if !self.streaming {
            self.records.reserve(n);
        }
    }
    /// Sets the observer that sees every record appended from now on.
    pub fn set_observer(&mut self, o: Box<dyn Observer>) {
        self.observer = Some(o);
    }
    /// Takes the observer back (after the run).
    pub fn take_observer(&mut self) -> Option<Box<dyn Observer>> {
        self.observer.take()
    }
    /// True when the log keeps every record (not [`Self::streaming`]).
    pub fn keeps_all(&self) -> bool {
        !self.streaming
    }
    /// Appends an event and returns its seq. Inline: an event is big, and a call took it by
    /// copy before moving it again into the log.
    #[inline(always)]
    pub fn push(&mut self, time_ms: TimeMs, source: Source, event: Event) -> Seq {
        let seq = Seq(self.len);
        self.len += 1;
        let equity = matches!(event, Event::Equity { .. });
        let at = if !self.streaming {
            self.records.push(EventRecord {
                seq,
                time_ms,
                source,
                event,
            });
            self.records.len() - 1
        } else if equity {
            if self.equity.len() == RECENT_EQUITY {
                self.equity.pop_front();
            }
            self.equity.push_back(EventRecord {
                seq,
                time_ms,
                source,
                event,
            });
            self.equity.len() - 1
        } else if self.recent.len() < self.recent_len {
            self.recent.push(EventRecord {
                seq,
                time_ms,
                source,
                event,
            });
            self.recent.len() - 1
        } else {
            let at = self.overwrite_oldest(seq, time_ms, source);
            self.recent[at].event = event;
            at
        };
        if self.observer.is_some() {
            self.notify(at, equity);
        }
        seq
    }
    /// As [`Self::push`], first handing `gone` the event of the record a full streaming ring
    /// lets go of for the new one, before it is dropped: a caller can take an allocation out of
    /// it for reuse (a log that keeps its records, or a ring not yet full, lets none go). The
    /// event is moved into its slot as `push` moves it (a swap is several times the copy).
    #[inline(always)]
    pub fn push_recycling(
        &mut self,
        time_ms: TimeMs,
        source: Source,
        event: Event,
        gone: impl FnOnce(&mut Event),
    ) -> Seq {
        if !self.streaming
            || matches!(event, Event::Equity { .. })
            || self.recent.len() < self.recent_len
        {
            return self.push(time_ms, source, event);
        }
        let seq = Seq(self.len);
        self.len += 1;
        let at = self.overwrite_oldest(seq, time_ms, source);
        let slot = &mut self.recent[at].event;
        gone(slot);
        *slot = event;
        if self.observer.is_some() {
            self.notify(at, false);
        }
        seq
    }
    /// As [`Self::push_recycling`], the event read out of `*src` (a caller's buffer, which then
    /// counts it as moved out): into a full streaming ring it is copied once, from the buffer
    /// straight over the record the ring lets go of (that one handed to `gone`, then dropped
    /// where it lies). Taking it by value copied it out of the buffer into the call first, and
    /// swapping it in (the way before) was two copies and a drop of what the buffer got back.
    ///
    /// # Safety
    /// `src` points to a valid event that nothing reads, writes or drops again after the call
    /// (the caller forgets it, e.g. a buffer whose length was set to zero before).
    #[inline(always)]
    pub unsafe fn push_read(
        &mut self,
        time_ms: TimeMs,
        source: Source,
        src: *const Event,
        gone: impl FnOnce(&mut Event),
    ) -> Seq {
        // SAFETY: `src` is valid (the caller's promise)
        let equity = matches!(unsafe { &*src }, Event::Equity { .. });
        if !self.streaming || equity || self.recent.len() < self.recent_len {
            // SAFETY: the event is moved out of `*src`, which the caller no longer uses
            return self.push(time_ms, source, unsafe { std::ptr::read(src) });
        }
        let seq = Seq(self.len);
        self.len += 1;
        let at = self.overwrite_oldest(seq, time_ms, source);
        let slot: *mut Event = &mut self.recent[at].event;
        // SAFETY: `slot` is the ring's record, valid until it is dropped just below; nothing
        // between its drop and the copy can unwind, so the ring never holds a dropped event;
        // `src` is valid and distinct from the ring (the caller's buffer)
        unsafe {
            gone(&mut *slot);
            if !owns_nothing(&*slot) {
                std::ptr::drop_in_place(slot);
            }
            std::ptr::copy_nonoverlapping(src, slot, 1);
        }
        if self.observer.is_some() {
            self.notify(at, false);
        }
        seq
    }
    /// A full streaming ring: the new record takes the oldest one's place. Writes its head
    /// (seq, time, source), advances the ring and returns the slot, whose event the caller
    /// replaces (by assignment or by a swap).
    #[inline(always)]
    fn overwrite_oldest(&mut self, seq: Seq, time_ms: TimeMs, source: Source) -> usize {
        let at = self.head;
        self.head = if at + 1 == self.recent_len { 0 } else { at + 1 };
        let old = &mut self.recent[at];
        old.seq = seq;
        old.time_ms = time_ms;
        old.source = source;
        at
    }
    /// Shows the observer the record just appended at `at` (of `equity` or of the rest); kept
    /// out of line so that [`Self::push`], inlined, moves the event straight into its slot.
    #[inline(never)]
    fn notify(&mut self, at: usize, equity: bool) {
        if let Some(mut o) = self.observer.take() {
            let r = if !self.streaming {
                &self.records[at]
            } else if equity {
                &self.equity[at]
            } else {
                &self.recent[at]
            };
            o.observe(r, self);
            self.observer = Some(o);
        }
    }
    /// The record `seq`, when the log still holds it (always, unless streaming).
    pub fn get(&self, seq: Seq) -> Option<&EventRecord> {
        if !self.streaming {
            let i = usize::try_from(seq.0).ok()?;
            return self.records.get(i).filter(|r| r.seq == seq);
        }
        // the ring in order: from `head` to the end, then from the start to `head`
        let (newer, older) = self.recent.split_at(self.head);
        for part in [older, newer] {
            if let Ok(i) = part.binary_search_by_key(&seq, |r| r.seq) {
                return Some(&part[i]);
            }
        }
        let i = self.equity.binary_search_by_key(&seq, |r| r.seq).ok()?;
        self.equity.get(i)
    }
    /// All records in order (empty for a streaming log).
    pub fn records(&self) -> &[EventRecord] {
        &self.records
    }
    /// Number of records appended.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// True when nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Writes the records `keep` accepts as JSON lines into `w` (buffer it), one record at a
    /// time: the bytes of [`Self::to_jsonl`] for the records kept, without holding them all.
    pub fn write_jsonl(
        &self,
        w: &mut impl std::io::Write,
        mut keep: impl FnMut(&EventRecord) -> bool,
    ) -> std::io::Result<()> {
        for r in self.records.iter().filter(|r| keep(r)) {
            write_jsonl_record(w, r)?;
        }
        Ok(())
    }
    /// The log as JSON lines (one record per line), the replayable form.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.records.len() * 256);
        for r in &self.records {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// Writes one record as a JSON line into `w`: the line [`EventLog::to_jsonl`] has for it.
/// Hand-rolled for the hot kinds ([`json::write_line`]), byte-identical to serde_json.
pub fn write_jsonl_record(w: &mut impl std::io::Write, r: &EventRecord) -> std::io::Result<()> {
    json::write_line(w, r)
}

/// Copies of records on their way to another thread (the report thread of
/// `report::Recorder::on_own_thread`), in order, in a buffer that is emptied and reused.
/// A record whose event owns no memory ([`owns_nothing`]: most order and algo updates) is
/// copied bit for bit and never dropped; only the others are cloned (the common kinds with
/// strings and vectors kept from the batch's last use), and only they are dropped when the
/// batch is emptied. Cloning and dropping every record, the derived way, was most of what
/// handing records over cost the run's thread.
pub struct RecordBatch {
    recs: Vec<EventRecord>,
    /// Indexes in `recs` of the clones that own memory: the records to drop.
    owning: Vec<u32>,
    /// Strings taken out of the records of the batch's last use before they were dropped
    /// (accepted calls' summaries, signals' ids and results' texts), refilled for the next.
    texts: TextPool<POOL_TEXTS>,
    /// Account updates' position vectors, likewise.
    rows: Vec<Vec<PositionRow>>,
}

/// Strings a [`RecordBatch`] keeps for reuse (a batch of 1,024 records of the dense bracket
/// holds ≈ 135 accepted calls' summaries and ≈ 45 signals with as many results: ≈ 270).
const POOL_TEXTS: usize = 384;

/// Position vectors a [`RecordBatch`] keeps for reuse (≈ 90 account updates a batch).
const POOL_ROWS: usize = 160;

impl RecordBatch {
    /// An empty batch with room for `n` records.
    pub fn with_capacity(n: usize) -> RecordBatch {
        RecordBatch {
            recs: Vec::with_capacity(n),
            owning: Vec::new(),
            texts: TextPool::default(),
            rows: Vec::new(),
        }
    }
    /// Appends a copy of `r`.
    #[inline(always)]
    pub fn push(&mut self, r: &EventRecord) {
        if owns_nothing(&r.event) {
            self.recs.reserve(1);
            let n = self.recs.len();
            // SAFETY: `r`'s event owns no memory (its strings are inline or unallocated, its
            // vectors unallocated, every other field `Copy`) and its head is `Copy`: a bitwise
            // copy is an independent record equal to its clone, with nothing to free. It is
            // copied straight into the spare room `reserve` made (a `push` of `ptr::read`
            // copied it through the stack first), then counted
            unsafe {
                std::ptr::copy_nonoverlapping(r, self.recs.as_mut_ptr().add(n), 1);
                self.recs.set_len(n + 1);
            }
        } else {
            self.owning.push(self.recs.len() as u32);
            let event = self.copy_owning(&r.event);
            self.recs.push(EventRecord {
                seq: r.seq,
                time_ms: r.time_ms,
                source: r.source,
                event,
            });
        }
    }
    /// A clone of `e`, an event that owns memory: the kinds that make most of those built with
    /// the strings and vectors kept from the batch's last use (every field named, or copied by
    /// `..` which takes only `Copy` fields, so a field added later fails to compile here).
    #[inline]
    fn copy_owning(&mut self, e: &Event) -> Event {
        match e {
            Event::Response {
                call,
                endpoint,
                outcome: CallOutcome::Ok(text),
            } => Event::Response {
                call: *call,
                endpoint: *endpoint,
                outcome: CallOutcome::Ok(self.texts.copy_of(text)),
            },
            Event::AccountUpdate(a) => {
                let mut positions = self.rows.pop().unwrap_or_default();
                positions.clone_from(&a.positions);
                Event::AccountUpdate(AccountUpdate { positions, ..*a })
            }
            Event::Engine(EngineEvent::Signal {
                id,
                action,
                symbol,
                quantity,
                stop_loss,
                take_profit,
            }) => Event::Engine(EngineEvent::Signal {
                id: self.texts.copy_of(id),
                action: action.clone(),
                symbol: symbol.clone(),
                quantity: *quantity,
                stop_loss: *stop_loss,
                take_profit: *take_profit,
            }),
            Event::Engine(EngineEvent::SignalResult { id, status, detail }) => {
                Event::Engine(EngineEvent::SignalResult {
                    id: self.texts.copy_of(id),
                    status: status.clone(),
                    detail: self.texts.copy_of(detail),
                })
            }
            e => e.clone(),
        }
    }
    /// Takes the strings and vectors of `e` (about to be dropped) for reuse, while there is room.
    #[inline]
    fn keep_parts(&mut self, e: &mut Event) {
        match e {
            Event::Response {
                outcome: CallOutcome::Ok(text),
                ..
            } => self.texts.keep(text),
            Event::AccountUpdate(a)
                if a.positions.capacity() > 0 && self.rows.len() < POOL_ROWS =>
            {
                self.rows.push(std::mem::take(&mut a.positions));
            }
            Event::Engine(EngineEvent::Signal { id, .. }) => self.texts.keep(id),
            Event::Engine(EngineEvent::SignalResult { id, detail, .. }) => {
                self.texts.keep(id);
                self.texts.keep(detail);
            }
            _ => {}
        }
    }
    /// The records, in the order pushed.
    pub fn records(&self) -> &[EventRecord] {
        &self.recs
    }
    /// Number of records.
    pub fn len(&self) -> usize {
        self.recs.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
    /// Empties the batch, dropping the records that own memory (their strings and vectors kept
    /// for reuse first, while there is room); the rest need no drop.
    pub fn clear(&mut self) {
        let n = self.recs.len();
        let p = self.recs.as_mut_ptr();
        // the length first: should a drop unwind, the records not yet dropped leak (and none
        // is dropped twice)
        // SAFETY: 0 <= len; the records stay where they are until dropped or forgotten below
        unsafe { self.recs.set_len(0) };
        let mut owning = std::mem::take(&mut self.owning);
        for &i in &owning {
            let i = i as usize;
            debug_assert!(i < n);
            if i < n {
                // SAFETY: `i` indexes a record pushed by `push` (below the old length), listed
                // once, not dropped before; nothing else refers to it
                unsafe {
                    self.keep_parts(&mut (*p.add(i)).event);
                    std::ptr::drop_in_place(p.add(i));
                }
            }
        }
        owning.clear();
        self.owning = owning;
    }
}

impl Drop for RecordBatch {
    fn drop(&mut self) {
        self.clear();
    }
}

impl std::fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.recs).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: u64) -> Event {
        Event::OrderTradeUpdate(OrderUpdate::accepted_for_test(
            "FILUSDT",
            format!("cid-{id}"),
            id,
            Side::Buy,
            OrderType::Market,
            Decimal::from(10),
        ))
    }

    /// A random event: order updates with short (inline) and long (heap) ids, warnings
    /// (strings), equity samples (kept apart in a streaming log), account updates (a vector).
    fn random_event(x: u64) -> Event {
        match x % 5 {
            0 => order(x),
            1 => Event::OrderTradeUpdate(OrderUpdate::accepted_for_test(
                "FILUSDT",
                format!("a-client-order-id-long-enough-for-the-heap-{x}"),
                x,
                Side::Sell,
                OrderType::Limit,
                Decimal::from(x % 7),
            )),
            2 => Event::Warning {
                code: format!("w{x}"),
                text: "x".repeat((x % 40) as usize),
            },
            3 => Event::Equity {
                wallet: Decimal::from(x),
                unrealized: Decimal::ZERO,
                price: Decimal::ONE,
            },
            _ => Event::AccountUpdate(AccountUpdate {
                reason: AccountReason::Order,
                wallet_balance: Decimal::from(x),
                balance_change: Decimal::ZERO,
                realized_pnl: Decimal::ZERO,
                fee: Decimal::ZERO,
                positions: (0..x % 3)
                    .map(|i| PositionRow {
                        symbol: "FILUSDT".into(),
                        position_side: PositionSide::Both,
                        amount: Decimal::from(i),
                        entry_price: Decimal::ONE,
                        accumulated_realized: Decimal::ZERO,
                        liquidation_price: None,
                    })
                    .collect(),
            }),
        }
    }

    /// `push_read` (an event copied out of a buffer over the record the ring lets go of) keeps
    /// the records `push_recycling` keeps, and hands `gone` the same events, for logs that keep
    /// everything and rings of several sizes, over random events (heap strings among them: a
    /// drop too many or too few shows as a crash or a leak of their contents).
    #[test]
    fn push_read_matches_push_recycling() {
        let mut rnd = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        for case in 0..200 {
            let ring = 1 + (case % 9);
            let (mut a, mut b) = if case % 10 == 0 {
                (EventLog::new(), EventLog::new())
            } else {
                (EventLog::streaming(ring), EventLog::streaming(ring))
            };
            let (mut gone_a, mut gone_b) = (Vec::new(), Vec::new());
            let n = (rnd() % 60) as usize;
            for _ in 0..n {
                // a buffer of a few events, moved out the way `sim::venue` moves them
                let mut buf: Vec<(TimeMs, Event)> = (0..1 + rnd() % 4)
                    .map(|_| {
                        let x = rnd() % 1000;
                        (TimeMs(x as i64), random_event(x))
                    })
                    .collect();
                for (t, e) in &buf {
                    b.push_recycling(*t, Source::Exchange, e.clone(), |g| gone_b.push(g.clone()));
                }
                let len = buf.len();
                unsafe { buf.set_len(0) };
                for i in 0..len {
                    let (t, e) = unsafe { &*buf.as_ptr().add(i) };
                    let seq =
                        unsafe { a.push_read(*t, Source::Exchange, e, |g| gone_a.push(g.clone())) };
                    assert_eq!(seq, Seq(a.len() as u64 - 1));
                }
            }
            assert_eq!(a.len(), b.len());
            assert_eq!(a.records(), b.records());
            for s in 0..a.len() as u64 {
                assert_eq!(a.get(Seq(s)), b.get(Seq(s)), "case {case} seq {s}");
            }
            assert_eq!(gone_a, gone_b, "case {case}");
        }
    }

    /// `owns_nothing` says true exactly when an event's strings are inline or unallocated and
    /// its vectors unallocated (what the events are built with is the reference), over random
    /// ids short and long, reasons empty and not, position vectors empty, reserved and filled,
    /// requests with and without client ids, engine events with borrowed and owned texts.
    #[test]
    fn owns_nothing_is_what_the_event_holds() {
        let mut rnd = crate::types::xorshift_below(0x2545_F491_4F6C_DD1D);
        let id = |long: bool, x: u64| -> String {
            if long {
                format!("an-id-too-long-to-be-kept-inline-{x}")
            } else {
                format!("id-{x}")
            }
        };
        let request = |call: u64, endpoint: Endpoint, params: RequestParams| Event::Request {
            call,
            endpoint,
            sent_ms: TimeMs(1),
            params,
        };
        let mut seen = [0u32; 2];
        for x in 0..4_000 {
            let (a, b, c) = (rnd(3) == 0, rnd(3) == 0, rnd(3) == 0);
            let (e, expect) = match rnd(12) {
                0 => {
                    let mut o = OrderUpdate::accepted_for_test(
                        "FILUSDT",
                        id(b, x),
                        x,
                        Side::Buy,
                        OrderType::Market,
                        Decimal::ONE,
                    );
                    o.symbol = id(a, x).as_str().into();
                    (Event::OrderTradeUpdate(o), !a && !b)
                }
                1 => {
                    let Event::OrderTradeUpdate(o) = order(x) else {
                        unreachable!()
                    };
                    let mut u = AlgoUpdate {
                        symbol: id(a, x).as_str().into(),
                        client_algo_id: id(b, x).as_str().into(),
                        algo_id: AlgoId(x),
                        order_type: o.order_type,
                        side: o.side,
                        position_side: o.position_side,
                        time_in_force: o.time_in_force,
                        quantity: o.orig_qty,
                        status: AlgoStatus::New,
                        actual_order_id: None,
                        trigger_price: o.price,
                        price: o.price,
                        close_position: false,
                        reduce_only: false,
                        working_type: WorkingType::ContractPrice,
                        reject_reason: String::new(),
                    };
                    if c {
                        u.reject_reason = "rejected".into();
                    }
                    (Event::AlgoUpdate(u), !a && !b && !c)
                }
                2 => {
                    let Event::AccountUpdate(mut u) = random_event(4 + 5 * x) else {
                        unreachable!()
                    };
                    u.positions.clear();
                    if a {
                        u.positions.reserve(1);
                    } else {
                        u.positions.shrink_to_fit();
                    }
                    (Event::AccountUpdate(u), !a)
                }
                3 => (random_event(3), true),
                4 => (Event::StreamDropped { of: Seq(x) }, true),
                5 => (random_event(2), false),
                6 => {
                    let mut o = NewOrder::new(&id(a, x), Side::Buy, OrderType::Market);
                    o.client_order_id = c.then(|| id(b, x).as_str().into());
                    let e = request(x, Endpoint::NewOrder, RequestParams::Order(o));
                    (e, !(a || (b && c)))
                }
                7 => {
                    let mut o = NewAlgoOrder::new(&id(a, x), Side::Sell, OrderType::StopMarket);
                    o.client_algo_id = c.then(|| id(b, x).as_str().into());
                    let e = request(x, Endpoint::NewAlgoOrder, RequestParams::Algo(o));
                    (e, !(a || (b && c)))
                }
                8 => {
                    let q = if a { id(b, x) } else { String::new() };
                    let e = request(x, Endpoint::PositionRisk, RequestParams::Other(q));
                    (e, !a)
                }
                9 => {
                    let cow = |owned: bool| -> std::borrow::Cow<'static, str> {
                        if owned {
                            id(false, x).into()
                        } else {
                            "completed".into()
                        }
                    };
                    let e = Event::Engine(EngineEvent::PairDropped {
                        pair: PairId(x),
                        status: cow(a),
                        reason: cow(b),
                    });
                    (e, !a && !b)
                }
                10 => {
                    let e = Event::Engine(EngineEvent::PairPlaced {
                        pair: PairId(x),
                        symbol: id(a, x).as_str().into(),
                        position_side: PositionSide::Long,
                        sl: LegId::Algo(AlgoId(x)),
                        tp: LegId::Algo(AlgoId(x + 1)),
                    });
                    (e, !a)
                }
                _ => {
                    let e = Event::Engine(EngineEvent::Signal {
                        id: id(a, x),
                        action: "buy".into(),
                        symbol: "FILUSDT".into(),
                        quantity: Decimal::ONE,
                        stop_loss: None,
                        take_profit: None,
                    });
                    (e, false)
                }
            };
            assert_eq!(owns_nothing(&e), expect, "{e:?}");
            seen[usize::from(expect)] += 1;
        }
        assert!(seen[0] > 500 && seen[1] > 500, "{seen:?}");
    }

    /// The kinds a `RecordBatch` refills (responses, account updates, signals and results, with
    /// texts short, long and empty, owned and borrowed) half the time, else `random_event`.
    fn pooled_or_random_event(x: u64) -> Event {
        let text = |k: u64| -> String {
            match k % 3 {
                0 => String::new(),
                1 => format!("orderId={k} status=Filled"),
                _ => format!("a longer text, {k} times longer than the last one was"),
            }
        };
        let cow = |k: u64| -> std::borrow::Cow<'static, str> {
            if k % 2 == 0 {
                "executed".into()
            } else {
                text(k).into()
            }
        };
        match (x >> 3) % 8 {
            0 => Event::Response {
                call: x,
                endpoint: Endpoint::NewOrder,
                outcome: CallOutcome::Ok(text(x >> 7)),
            },
            1 => Event::Response {
                call: x,
                endpoint: Endpoint::CancelOrder,
                outcome: CallOutcome::Rejected(ApiError {
                    http: 400,
                    code: -2011,
                    msg: text(x >> 7),
                }),
            },
            2 => Event::Engine(EngineEvent::Signal {
                id: text(x >> 5),
                action: cow(x >> 9),
                symbol: if x & 1 == 0 {
                    "FILUSDT".into()
                } else {
                    "A-SYMBOL-LONG-ENOUGH-FOR-THE-HEAP".into()
                },
                quantity: Decimal::from(x % 97),
                stop_loss: (x & 2 == 0).then(|| Decimal::new(x as i64 % 1000, 2)),
                take_profit: (x & 4 == 0).then_some(Decimal::ONE),
            }),
            3 => Event::Engine(EngineEvent::SignalResult {
                id: text(x >> 5),
                status: cow(x >> 9),
                detail: text(x >> 11),
            }),
            _ => random_event(x % 1000),
        }
    }

    /// A batch holds records equal to the originals, in order, across reuse (bit copies,
    /// clones and records built with reused strings and vectors mixed: heap ids among them;
    /// a clone dropped twice or not at all shows as a crash, a leak under memcheck, or
    /// clobbered contents here), and its copies outlive the records they were made from.
    #[test]
    fn record_batch_copies_every_record() {
        let mut rnd = crate::types::xorshift(0x853C_49E6_748F_EA9B);
        let mut batch = RecordBatch::with_capacity(8);
        let mut kinds = [0u32; 2];
        let mut refilled = 0u32;
        for round in 0..300 {
            let n = (rnd() % 40) as usize;
            let recs: Vec<EventRecord> = (0..n)
                .map(|i| EventRecord {
                    seq: Seq(i as u64),
                    time_ms: TimeMs(round),
                    source: if i % 2 == 0 {
                        Source::Exchange
                    } else {
                        Source::Engine
                    },
                    event: pooled_or_random_event(rnd()),
                })
                .collect();
            for r in &recs {
                kinds[usize::from(owns_nothing(&r.event))] += 1;
                refilled += u32::from(!batch.texts.is_empty() || !batch.rows.is_empty());
                batch.push(r);
            }
            let expect = recs.clone();
            drop(recs);
            assert_eq!(batch.len(), n);
            assert_eq!(batch.records(), &expect[..], "round {round}");
            if round % 3 == 0 {
                batch.clear();
                assert!(batch.is_empty());
            } else if round % 3 == 1 {
                // a batch dropped full frees its clones
                batch = RecordBatch::with_capacity(8);
            } else {
                batch.clear();
            }
        }
        assert!(kinds[0] > 1000 && kinds[1] > 1000, "{kinds:?}");
        assert!(refilled > 500, "{refilled}");
    }

    #[test]
    fn streaming_log_keeps_the_last_records_whole() {
        let mut log = EventLog::streaming(3);
        for id in 0..7 {
            log.push(TimeMs(id as i64), Source::Exchange, order(id));
        }
        // the records still held are whole
        for id in 4..7 {
            let Some(Event::OrderTradeUpdate(o)) = log.get(Seq(id)).map(|r| &r.event) else {
                panic!("record {id} not held");
            };
            assert_eq!((o.symbol.as_str(), o.order_id), ("FILUSDT", OrderId(id)));
            assert_eq!(o.client_order_id, format!("cid-{id}"));
        }
    }
}
