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

/// ORDER_TRADE_UPDATE `x`: what happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecType {
    /// Accepted.
    New,
    /// A fill.
    Trade,
    /// Cancelled.
    Canceled,
    /// Expired (see `er`).
    Expired,
    /// Liquidation fill.
    Calculated,
}

impl ExecType {
    /// Binance spelling (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecType::New => "NEW",
            ExecType::Trade => "TRADE",
            ExecType::Canceled => "CANCELED",
            ExecType::Expired => "EXPIRED",
            ExecType::Calculated => "CALCULATED",
        }
    }
}

/// ORDER_TRADE_UPDATE payload `o`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// s
    pub symbol: String,
    /// c
    pub client_order_id: String,
    /// S
    pub side: Side,
    /// o
    pub order_type: OrderType,
    /// ot
    pub orig_type: OrderType,
    /// f
    pub time_in_force: TimeInForce,
    /// q
    pub orig_qty: Decimal,
    /// p
    pub price: Decimal,
    /// ap
    pub avg_price: Decimal,
    /// sp
    pub stop_price: Decimal,
    /// x
    pub exec_type: ExecType,
    /// X
    pub status: OrderStatus,
    /// i
    pub order_id: OrderId,
    /// l
    pub last_qty: Decimal,
    /// z
    pub cum_qty: Decimal,
    /// L
    pub last_price: Decimal,
    /// n (commission in USDT)
    pub commission: Decimal,
    /// m
    pub is_maker: bool,
    /// R
    pub reduce_only: bool,
    /// ps
    pub position_side: PositionSide,
    /// cp
    pub close_position: bool,
    /// rp (realized PnL of this trade)
    pub realized_pnl: Decimal,
    /// er
    pub expiry_reason: ExpiryReason,
    /// The algo order this child came from (not a Binance field; `ai` links the other way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_algo: Option<AlgoId>,
}

/// ALGO_UPDATE payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgoUpdate {
    /// s
    pub symbol: String,
    /// caid
    pub client_algo_id: String,
    /// aid
    pub algo_id: AlgoId,
    /// o
    pub order_type: OrderType,
    /// S
    pub side: Side,
    /// ps
    pub position_side: PositionSide,
    /// f
    pub time_in_force: TimeInForce,
    /// q
    pub quantity: Decimal,
    /// X
    pub status: AlgoStatus,
    /// ai
    pub actual_order_id: Option<OrderId>,
    /// tp
    pub trigger_price: Decimal,
    /// p
    pub price: Decimal,
    /// cp
    pub close_position: bool,
    /// R
    pub reduce_only: bool,
    /// wt
    pub working_type: WorkingType,
    /// rm (reject reason; empty when none)
    pub reject_reason: String,
}

/// ACCOUNT_UPDATE `a.m`: why balances or positions changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountReason {
    /// A trade.
    Order,
    /// Funding settlement.
    FundingFee,
    /// Liquidation.
    Liquidation,
}

/// One position row of ACCOUNT_UPDATE `a.P`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRow {
    /// s
    pub symbol: String,
    /// ps
    pub position_side: PositionSide,
    /// pa (signed)
    pub amount: Decimal,
    /// ep
    pub entry_price: Decimal,
    /// cr (accumulated realized)
    pub accumulated_realized: Decimal,
    /// Liquidation price after this update (not a Binance field; positionRisk's
    /// `liquidationPrice`), absent when flat or when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liquidation_price: Option<Decimal>,
}

/// ACCOUNT_UPDATE payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// a.m
    pub reason: AccountReason,
    /// a.B[USDT].wb
    pub wallet_balance: Decimal,
    /// a.B[USDT].bc (balance change excluding PnL and fee; funding amount here)
    pub balance_change: Decimal,
    /// Realized PnL booked by this update.
    pub realized_pnl: Decimal,
    /// Fee charged by this update (positive = paid).
    pub fee: Decimal,
    /// a.P (changed positions only)
    pub positions: Vec<PositionRow>,
}

/// Engine-side annotations: what the engine believes and decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A signal reached the engine.
    Signal {
        /// Signal id (`strategy_symbol_action_time`).
        id: String,
        /// buy / sell / close / hold.
        action: String,
        /// symbol
        symbol: String,
        /// Requested quantity.
        quantity: Decimal,
        /// Absolute stop-loss asked for, if any.
        stop_loss: Option<Decimal>,
        /// Absolute take-profit asked for, if any.
        take_profit: Option<Decimal>,
    },
    /// The engine's verdict on a signal.
    SignalResult {
        /// Signal id.
        id: String,
        /// executed / duplicate / rejected / failed / rolled_back / …
        status: String,
        /// Why, in a few words.
        detail: String,
    },
    /// An entry was accepted by the exchange and the engine considers the position protected-to-be.
    EntryAccepted {
        /// symbol
        symbol: String,
        /// Position side the entry opened or added to.
        position_side: PositionSide,
        /// The entry's orderId.
        order_id: OrderId,
        /// Whether the signal asked for a stop-loss.
        wants_stop: bool,
    },
    /// The engine registered an SL/TP pair it will watch.
    PairPlaced {
        /// Pair id.
        pair: PairId,
        /// symbol
        symbol: String,
        /// Position side the pair protects.
        position_side: PositionSide,
        /// Stop-loss leg.
        sl: LegId,
        /// Take-profit leg.
        tp: LegId,
    },
    /// The engine stopped tracking a pair.
    PairDropped {
        /// Pair id.
        pair: PairId,
        /// completed / cancelled / externally_closed / …
        status: String,
        /// The engine's reason.
        reason: String,
    },
    /// The engine sent a cancel for a leg of a pair.
    CancelOther {
        /// Pair id.
        pair: PairId,
        /// The leg it believes filled.
        filled: LegId,
        /// The leg it cancels.
        cancel: LegId,
    },
    /// The engine's monitor loop exited (it will not run again until restarted).
    MonitorStopped {
        /// Why.
        reason: String,
    },
    /// The engine process restarted: in-memory state lost.
    Restart,
    /// Anything else worth a line in the trail.
    Note {
        /// Free text.
        text: String,
    },
}

/// A leg's exchange identity: a regular order or an algo order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegId {
    /// orderId (legacy conditional orders)
    Order(OrderId),
    /// algoId
    Algo(AlgoId),
}

impl std::fmt::Display for LegId {
    /// `order 8389765001` / `algo 4000000000002`: the kind and the exchange id as a number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LegId::Order(o) => write!(f, "order {o}"),
            LegId::Algo(a) => write!(f, "algo {a}"),
        }
    }
}

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
    /// Streaming: the last `recent_len` records other than Equity samples, in order.
    recent: std::collections::VecDeque<EventRecord>,
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
            equity: self.equity.clone(),
            recent_len: self.recent_len,
            observer: None,
        }
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
            recent: std::collections::VecDeque::with_capacity(recent.max(1) + 1),
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
    /// Appends an event and returns its seq.
    pub fn push(&mut self, time_ms: TimeMs, source: Source, event: Event) -> Seq {
        let seq = Seq(self.len);
        self.len += 1;
        let rec = EventRecord {
            seq,
            time_ms,
            source,
            event,
        };
        let equity = matches!(rec.event, Event::Equity { .. });
        if !self.streaming {
            self.records.push(rec);
        } else if equity {
            if self.equity.len() == RECENT_EQUITY {
                self.equity.pop_front();
            }
            self.equity.push_back(rec);
        } else {
            if self.recent.len() == self.recent_len {
                self.recent.pop_front();
            }
            self.recent.push_back(rec);
        }
        if let Some(mut o) = self.observer.take() {
            let last = if !self.streaming {
                self.records.last()
            } else if equity {
                self.equity.back()
            } else {
                self.recent.back()
            };
            if let Some(r) = last {
                o.observe(r, self);
            }
            self.observer = Some(o);
        }
        seq
    }
    /// The record `seq`, when the log still holds it (always, unless streaming).
    pub fn get(&self, seq: Seq) -> Option<&EventRecord> {
        if !self.streaming {
            let i = usize::try_from(seq.0).ok()?;
            return self.records.get(i).filter(|r| r.seq == seq);
        }
        let find = |d: &'_ std::collections::VecDeque<EventRecord>| -> Option<usize> {
            d.binary_search_by_key(&seq, |r| r.seq).ok()
        };
        if let Some(i) = find(&self.recent) {
            return self.recent.get(i);
        }
        find(&self.equity).and_then(|i| self.equity.get(i))
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
