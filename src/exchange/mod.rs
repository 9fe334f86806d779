//! The mock venue: Binance USDⓈ-M futures rules over replayed klines. Never imports `engine`.
//!
//! - `spec`: symbol filters and the checked Decimal ⇄ ticks conversion;
//! - `codes`: Binance's error codes and messages;
//! - `intrabar`: the declared path through a bar;
//! - `orders` (this file's requests): validation then state change — a rejected request changes
//!   nothing;
//! - `market`: walking the path, firing triggers and limits, funding, equity samples;
//! - `account`: positions per `positionSide`, fills, fees, realized PnL, the wallet;
//! - `margin`: maintenance-margin brackets, liquidation prices and bounds (§5);
//! - `mark`: the mark price on the intrabar path, from mark-price klines.
//!
//! Ordering: within one call or one step of the path, events are emitted in the order the
//! changes happen; the simulator gives them their global `(time, seq)`. Conditional orders follow
//! today's Algo Order model (`api = "algo"`), or the pre-2025-12-09 model (`api = "legacy"`).
//! Mark price: from mark-price klines where given (`with_mark`, model in `mark`), else the trade
//! price stands in (and `with_mark` with no candles emits a `Warning` saying so). The mark drives
//! `workingType=MARK_PRICE` triggers (and their -2021 check), unrealized PnL, PERCENT_PRICE,
//! MIN_NOTIONAL of MARKET orders, funding and liquidation.
//!
//! Liquidation: when the mark reaches the account's (cross) or a position's (isolated)
//! liquidation bound (`margin`), on the path like any trigger; the bound is not rounded to the tick
//! grid, so on a falling mark it is crossed before a stop on its floor tick. At equal milliseconds,
//! trade-path events come first, then mark-path ones, nearer threshold first (a stop and the
//! liquidation on the same threshold: the stop). The liquidated side's open orders expire
//! (`er=5`) and its algo orders expire (all of the account's in cross mode), then a `LIQUIDATION`
//! order (`c="autoclose-<ms>"`, `x=CALCULATED`) closes the position at the trade price of that
//! moment (without mark klines: at the bound's tick, like a stop at its trigger), with fee = symbol `liquidation_fee` × notional, and an ACCOUNT_UPDATE reason
//! LIQUIDATION carrying its realized PnL and fee. Isolated margin = entry notional / leverage,
//! released pro rata on reduction, moved by funding; fees come from the wallet. No insurance-fund
//! cap: a gap through the liquidation price can lose more than the isolated margin.
//!
//! Known limits: one traded symbol per run; no order book depth (fills at the path price plus
//! configured slippage); trailing stops track the trade price whatever their working type; no
//! -2027 (notional above the leverage's bracket cap); ADL only when a scenario says so
//! (`external`: `[[external]] act = "adl"`), never from the account's own state.

pub mod account;
pub mod codes;
pub mod external;
mod fastdec;
pub mod intrabar;
pub mod margin;
pub(crate) mod mark;
pub mod market;
pub mod orders;
pub mod retention;
pub mod spec;

pub use intrabar::{BarTicks, IntrabarPolicy};
pub use margin::Bracket;
pub use spec::SymbolSpec;

use crate::events::{Event, PositionRow};
use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which conditional-order API the account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApiMode {
    /// Since 2025-12-09: conditional orders on /fapi/v1/algoOrder; on /fapi/v1/order they get -4120.
    #[default]
    Algo,
    /// Before 2025-12-09: conditional orders on /fapi/v1/order, same orderId after trigger.
    Legacy,
}

/// When a resting limit order fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitFill {
    /// When the price touches the limit.
    Touch,
    /// Only when the price trades through the limit by a tick.
    #[default]
    Through,
}

/// Margin mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MarginMode {
    /// One wallet backs every position.
    #[default]
    Cross,
    /// Each position has its own margin.
    Isolated,
}

/// Exchange-side settings of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeConfig {
    /// One-way or hedge.
    pub position_mode: PositionMode,
    /// Algo or legacy conditional orders.
    pub api: ApiMode,
    /// Maker fee rate (0.0002 = 0.02 %).
    pub maker_fee: Decimal,
    /// Taker fee rate.
    pub taker_fee: Decimal,
    /// Intrabar path policy.
    pub intrabar: IntrabarPolicy,
    /// Adverse slippage of market fills, in ticks.
    pub slippage_ticks: i64,
    /// Limit fill rule.
    pub limit_fill: LimitFill,
    /// Leverage.
    pub leverage: u32,
    /// Margin mode.
    pub margin_mode: MarginMode,
    /// Initial USDT wallet.
    pub initial_balance: Decimal,
    /// Equity sample period for charts (0 = choose from the data span).
    pub equity_sample_ms: i64,
    /// Maintenance-margin brackets (empty: the symbol's default table, see `margin`).
    pub brackets: Vec<Bracket>,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            position_mode: PositionMode::OneWay,
            api: ApiMode::Algo,
            maker_fee: Decimal::new(2, 4),
            taker_fee: Decimal::new(5, 4),
            intrabar: IntrabarPolicy::Ohlc,
            slippage_ticks: 0,
            limit_fill: LimitFill::Through,
            leverage: 10,
            margin_mode: MarginMode::Cross,
            initial_balance: Decimal::from(10_000),
            equity_sample_ms: 0,
            brackets: Vec::new(),
        }
    }
}

/// Counters the report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeStats {
    /// Bars walked.
    pub bars: u64,
    /// Bars where the path policy, not the bar, decided the order of fills.
    pub ambiguous_bars: u64,
    /// Orders accepted (regular + algo).
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Requests rejected with an API error.
    pub rejections: u64,
    /// Liquidations.
    pub liquidations: u64,
}

/// A regular order (MARKET/LIMIT, triggered children, legacy conditionals).
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub id: OrderId,
    pub client_id: Ident,
    pub side: Side,
    pub otype: OrderType,
    pub orig_type: OrderType,
    pub tif: TimeInForce,
    pub qty: i64,
    pub price: i64,
    pub stop: i64,
    pub reduce_only: bool,
    pub close_position: bool,
    pub ps: PositionSide,
    pub working_type: WorkingType,
    pub status: OrderStatus,
    pub executed: i64,
    pub cum_quote: Decimal,
    /// The average price as reported, `fastdec::avg(cum_quote, qty(executed))`: set where a
    /// fill moves those two, read by every update and query of the order (and its algo parent's
    /// FINISHED) instead of dividing again.
    pub avg: Decimal,
    pub time: TimeMs,
    pub update_time: TimeMs,
    pub from_algo: Option<AlgoId>,
    /// Legacy conditional not yet triggered.
    pub armed: bool,
    pub trailing: Option<Trailing>,
    /// `qty`, `price` and `stop` as reported (set by `push_order`, and again where `qty` moves).
    pub shown: Shown,
}

/// The reported Decimal forms of an order's quantity, price and stop (or trigger): converted
/// once rather than on each of the order's updates and queries, which all carry them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shown {
    pub qty: Decimal,
    pub price: Decimal,
    pub stop: Decimal,
}

/// An algo (conditional) order.
#[derive(Debug, Clone)]
pub(crate) struct Algo {
    pub id: AlgoId,
    pub client_id: Ident,
    pub side: Side,
    pub otype: OrderType,
    pub tif: TimeInForce,
    pub qty: i64,
    pub price: i64,
    pub trigger: i64,
    pub reduce_only: bool,
    pub close_position: bool,
    pub ps: PositionSide,
    pub working_type: WorkingType,
    pub status: AlgoStatus,
    pub actual_order_id: Option<OrderId>,
    pub actual_price: Decimal,
    pub create_time: TimeMs,
    pub update_time: TimeMs,
    pub trigger_time: TimeMs,
    pub trailing: Option<Trailing>,
    /// `qty`, `price` and `trigger` as reported (none of them changes after creation).
    pub shown: Shown,
}

/// Trailing-stop state: callback in basis points of a percent (1.0 % = 100), best price seen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trailing {
    pub callback_bp: i64,
    pub activate: Option<i64>,
    pub active: bool,
    pub extreme: i64,
}

/// What a resting trigger belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrigRef {
    Algo(u32),
    Legacy(u32),
    Limit(u32),
}

/// One resting trigger: fires when the price goes to `ticks` or beyond in direction `up`;
/// `mark`: on the mark path (MARK_PRICE working type with mark klines), else the trade path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trig {
    pub up: bool,
    pub ticks: i64,
    pub what: TrigRef,
    pub mark: bool,
}

/// A liquidation bound: fires when the mark reaches `ticks` (down: at or below; up: at or
/// above); liquidates position side `ps`, or every position when None (cross).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Liq {
    pub ticks: i64,
    /// The exact bound in thousandths of a tick (floor for down, ceil for up): orders the
    /// crossing in time against stops on the same tick.
    pub milli: i64,
    pub ps: Option<PositionSide>,
    /// The bound as a price.
    pub price: Decimal,
    /// `price` as positionRisk and ACCOUNT_UPDATE show it (`round_dp(8).normalize()`), worked
    /// out once per bound rather than on every fill and stop placement that reports it.
    pub shown: Decimal,
}

/// A position per (symbol, positionSide).
#[derive(Debug, Clone, Default)]
pub(crate) struct Position {
    pub amt: i64,
    pub entry: Decimal,
    pub realized: Decimal,
    /// Isolated margin (kept in both modes; used in isolated mode).
    pub margin: Decimal,
}

/// Where the walk is inside the bar series.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cursor {
    pub bar: usize,
    /// 0: before the bar's open jump; 1..=3: inside segment k; the path is `path`;
    /// 4 (`market::SUB_BAR_PENDING`): between two sub-bars of a `refine` bar.
    pub seg: u8,
    pub time: i64,
    pub price: i64,
    /// Mark price (ticks); maintained only when mark klines are given.
    pub mark: i64,
    pub path: intrabar::Path,
    /// The mark path with the same times as `path` (mark klines only).
    pub mpath: intrabar::Path,
    /// For `refine`: index of the sub-bar being walked and the end of its range.
    pub sub: usize,
    pub sub_end: usize,
    /// The exposure sign (+1, −1, 0) the current path was planned for (`pessimistic` /
    /// `optimistic` re-plan the rest of the bar when a position appears or grows mid-bar).
    pub planned: i64,
    /// The current bar was already counted as ambiguous.
    pub ambiguous: bool,
    /// Extremes of the current bar reached before its last re-plan (`intrabar::visited` bits).
    pub visited: u8,
    /// `path_reach` of the rest of `path` for the current bounds, once worked out: Some(None)
    /// when the rest reaches nothing. Walking the path short of that instant leaves it
    /// unchanged, so it is kept until the path (`start_bar`, a re-plan, a sub-bar) or the
    /// bounds (`recompute_bounds`) change, which clear it.
    pub reach: Option<Option<i64>>,
    /// Before this instant (exclusive) the rest of the current bar's path is quiet for the
    /// current bounds: nothing can fire, no funding falls in the bar, no trailing stop, no mark
    /// klines, no sub-bars (`quiet_rest_of_bar` sets it: the bar's end, or the cached
    /// `path_reach`, whichever is first). `advance_to` then moves the cursor to any earlier `t`
    /// without entering the walk. `i64::MIN` when unknown; cleared with `reach`.
    pub quiet_until: i64,
}

/// Base of orderIds and algoIds; the ranges never overlap, so an algoId sent to /fapi/v1/order
/// is unknown there, as on Binance.
pub const ORDER_ID_BASE: u64 = 8_389_765_000;
/// Base of algoIds.
pub const ALGO_ID_BASE: u64 = 4_000_000_000_000;

/// The mock exchange for one symbol.
pub struct MockExchange {
    pub(crate) cfg: ExchangeConfig,
    pub(crate) spec: SymbolSpec,
    pub(crate) bars: Arc<[BarTicks]>,
    pub(crate) interval_ms: i64,
    pub(crate) sub_bars: Arc<[BarTicks]>,
    pub(crate) sub_interval_ms: i64,
    pub(crate) funding: Vec<(i64, Decimal)>,
    pub(crate) next_funding: usize,
    pub(crate) cur: Cursor,
    /// `next_change_time`'s scan, remembered: (from, j) when every bar in `from..j` is quiet for
    /// the current bounds (high below `up_min`, low above `down_max`, the mark range likewise).
    /// Later funding and a walking cursor keep them quiet; only tighter bounds may not, so
    /// `recompute_bounds` forgets it. A Cell: the question is asked through `&self`.
    pub(crate) quiet_bars: std::cell::Cell<(usize, usize)>,
    /// The last two step counts converted to quantities and their Decimals (`qty_of`): a run
    /// converts the same few (its order sizes, its position) over and over. A Cell: asked
    /// through `&self`.
    pub(crate) qty_memo: std::cell::Cell<[(i64, Decimal); 2]>,
    /// The same for tick counts converted to prices (`price_of`): an entry's minimum-notional
    /// and margin checks and its fill convert the same price, a leg's fill its trigger's.
    pub(crate) price_memo: std::cell::Cell<[(i64, Decimal); 2]>,
    /// The spec's price and quantity limits in ticks and steps (orders are checked against them
    /// in integers).
    pub(crate) grid: spec::GridLimits,
    pub(crate) orders: crate::types::Chunked<Order>,
    pub(crate) algos: crate::types::Chunked<Algo>,
    /// Indices of orders that may still be open, ascending: every non-terminal order is here;
    /// finished ones are dropped lazily by `compact_open` (they never reopen). Keeps scans
    /// proportional to the open orders, not to every order of the run.
    pub(crate) open_o: Vec<u32>,
    /// Same for algo orders (every open algo order is here).
    pub(crate) open_a: Vec<u32>,
    pub(crate) trigs: Vec<Trig>,
    pub(crate) up_min: i64,
    pub(crate) down_max: i64,
    /// Bounds of the triggers on the mark path (MAX/MIN when none).
    pub(crate) m_up_min: i64,
    pub(crate) m_down_max: i64,
    /// Mark model (None: the trade price stands in).
    pub(crate) mark: Option<Box<mark::MarkData>>,
    /// Maintenance-margin brackets in force.
    pub(crate) table: Vec<Bracket>,
    /// Liquidation bounds: [down, up].
    pub(crate) liq: [Option<Liq>; 2],
    pub(crate) trailing_count: u32,
    pub(crate) pos: [Position; 3],
    pub(crate) wallet: Decimal,
    pub(crate) out: Vec<(TimeMs, Event)>,
    /// Emptied `positions` vectors of account updates gone from the log ([`Self::give_rows`]),
    /// for the next account updates.
    pub(crate) row_bufs: Vec<Vec<PositionRow>>,
    pub(crate) stats: ExchangeStats,
    pub(crate) version: u64,
    pub(crate) next_sample: i64,
    pub(crate) sample_ms: i64,
    /// Positions opened on the symbol so far (a side going from flat, or flipping, to a
    /// position); the venue's pair numbering for targeted faults (`sim::target`).
    pub(crate) opened: u32,
    /// The number (1-based, in `opened`) of the position now open on each side; 0 when flat.
    pub(crate) pos_pair: [u32; 3],
}

impl MockExchange {
    /// A venue over `bars` (ticks of `spec`) with bar length `interval_ms`, starting before the
    /// first bar's open at the first bar's open price. The bars' open times must rise strictly
    /// (the loaders reject anything else, and a slice keeps their order): the walk's look-ahead
    /// remembers a range of quiet bars by index and relies on it.
    pub fn new(
        cfg: ExchangeConfig,
        spec: SymbolSpec,
        bars: impl Into<Arc<[BarTicks]>>,
        interval_ms: i64,
    ) -> MockExchange {
        let bars: Arc<[BarTicks]> = bars.into();
        let first = bars.first().copied().unwrap_or_default();
        let span = bars.last().map(|b| b.t - first.t).unwrap_or(0) + interval_ms;
        let sample_ms = if cfg.equity_sample_ms > 0 {
            cfg.equity_sample_ms
        } else {
            // about 1,500 samples per run, whole bars, at least one bar
            ((span / 1500) / interval_ms.max(1)).max(1) * interval_ms.max(1)
        };
        let wallet = cfg.initial_balance;
        let table = margin::table_for(&spec.symbol, spec.maint_margin_ratio, &cfg.brackets);
        let grid = spec::GridLimits::of(&spec);
        MockExchange {
            cfg,
            spec,
            bars,
            interval_ms: interval_ms.max(1),
            sub_bars: Arc::from([]),
            sub_interval_ms: 0,
            funding: Vec::new(),
            next_funding: 0,
            cur: Cursor {
                time: first.t - 1,
                price: first.o,
                quiet_until: i64::MIN,
                ..Cursor::default()
            },
            quiet_bars: std::cell::Cell::new((usize::MAX, 0)),
            qty_memo: std::cell::Cell::new([(0, Decimal::ZERO); 2]),
            price_memo: std::cell::Cell::new([(0, Decimal::ZERO); 2]),
            grid,
            orders: crate::types::Chunked::default(),
            algos: crate::types::Chunked::default(),
            open_o: Vec::new(),
            open_a: Vec::new(),
            trigs: Vec::new(),
            up_min: i64::MAX,
            down_max: i64::MIN,
            m_up_min: i64::MAX,
            m_down_max: i64::MIN,
            mark: None,
            table,
            liq: [None, None],
            trailing_count: 0,
            pos: Default::default(),
            wallet,
            out: Vec::new(),
            row_bufs: Vec::new(),
            stats: ExchangeStats::default(),
            version: 0,
            next_sample: first.t + sample_ms - 1,
            sample_ms,
            opened: 0,
            pos_pair: [0; 3],
        }
    }

    /// Lower-timeframe bars for the `refine` policy (sorted, inside the main bars' span).
    pub fn with_sub_bars(
        mut self,
        sub_bars: impl Into<Arc<[BarTicks]>>,
        sub_interval_ms: i64,
    ) -> Self {
        self.sub_bars = sub_bars.into();
        self.sub_interval_ms = sub_interval_ms.max(1);
        self
    }

    /// Funding rates at their timestamps (ms, rate), applied to positions open at that time.
    pub fn with_funding(mut self, funding: Vec<(i64, Decimal)>) -> Self {
        self.funding = funding;
        let t = self.cur.time;
        self.next_funding = self.funding.partition_point(|f| f.0 <= t);
        self
    }

    /// Mark-price candles (ticks of `spec`, length `interval_ms`) for the mark path; with none,
    /// the trade price stands in and a `Warning` ("mark-price") says so at the start.
    pub fn with_mark(mut self, mark_bars: impl Into<Arc<[BarTicks]>>, interval_ms: i64) -> Self {
        let mark_bars: Arc<[BarTicks]> = mark_bars.into();
        if mark_bars.is_empty() {
            self.mark = None;
            self.emit(Event::Warning {
                code: "mark-price".into(),
                text: "mark price = trade price (no mark klines)".into(),
            });
        } else {
            let m = mark::MarkData::new(mark_bars, interval_ms, &self.bars, self.interval_ms);
            self.cur.mark = m.at(self.cur.time + 1, self.cur.price);
            self.mark = Some(Box::new(m));
        }
        self.recompute_bounds();
        self
    }

    /// The current mark price (ticks): the mark path, or the trade price without mark klines.
    #[inline]
    pub(crate) fn mark_ticks(&self) -> i64 {
        if self.mark.is_some() {
            self.cur.mark
        } else {
            self.cur.price
        }
    }

    /// The current mark price.
    pub fn mark_price(&self) -> Decimal {
        self.spec.price(self.mark_ticks())
    }

    /// Maintenance-margin brackets in force.
    pub fn brackets(&self) -> &[Bracket] {
        &self.table
    }

    /// The exchange's clock.
    pub fn time(&self) -> TimeMs {
        TimeMs(self.cur.time)
    }

    /// The current (last) price.
    pub fn last_price(&self) -> Decimal {
        self.spec.price(self.cur.price)
    }

    /// The symbol's rules.
    pub fn spec(&self) -> &SymbolSpec {
        &self.spec
    }

    /// The configuration.
    pub fn config(&self) -> &ExchangeConfig {
        &self.cfg
    }

    /// Counters for the report.
    pub fn stats(&self) -> &ExchangeStats {
        &self.stats
    }

    /// USDT wallet balance.
    pub fn wallet(&self) -> Decimal {
        self.wallet
    }

    /// Bumped on every change of the open-order set or of positions; equal versions mean
    /// "nothing a poll can see has changed".
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Open time of the first bar and close time of the last one.
    pub fn span(&self) -> (TimeMs, TimeMs) {
        match (self.bars.first(), self.bars.last()) {
            (Some(a), Some(b)) => (TimeMs(a.t), TimeMs(b.t + self.interval_ms - 1)),
            _ => (TimeMs(0), TimeMs(0)),
        }
    }

    /// True once the walk has passed the last bar.
    pub fn finished(&self) -> bool {
        self.cur.bar >= self.bars.len()
    }

    /// Moves the events produced so far into `into`, in order.
    pub fn drain_events(&mut self, into: &mut Vec<(TimeMs, Event)>) {
        into.append(&mut self.out);
    }

    /// Takes the waiting events with their buffer (hand it back with [`Self::return_event_buffer`]).
    pub fn take_events(&mut self) -> Vec<(TimeMs, Event)> {
        std::mem::take(&mut self.out)
    }

    /// Gives an emptied buffer from [`Self::take_events`] back, to be reused for the next events.
    pub fn return_event_buffer(&mut self, mut buf: Vec<(TimeMs, Event)>) {
        if self.out.is_empty() {
            buf.clear();
            self.out = buf;
        }
    }

    /// How many equity samples a run over all the bars emits (about).
    pub fn expected_samples(&self) -> usize {
        let (a, b) = self.span();
        usize::try_from((b.0 - a.0) / self.sample_ms.max(1) + 2).unwrap_or(0)
    }

    /// True when events are waiting to be drained.
    pub fn has_events(&self) -> bool {
        !self.out.is_empty()
    }

    /// Takes back an account update's `positions` vector (a few are kept, emptied) so that
    /// a fill's update does not allocate its own.
    #[inline]
    pub fn give_rows(&mut self, mut rows: Vec<PositionRow>) {
        if rows.capacity() > 0 && self.row_bufs.len() < 4 {
            rows.clear();
            self.row_bufs.push(rows);
        }
    }

    /// A vector for an account update's `positions`: a kept one, or a new one of `n` rows.
    pub(crate) fn rows_buf(&mut self, n: usize) -> Vec<PositionRow> {
        self.row_bufs.pop().unwrap_or_else(|| Vec::with_capacity(n))
    }

    /// Drops finished orders and algo orders from the open-index lists.
    pub(crate) fn compact_open(&mut self) {
        let orders = &self.orders;
        self.open_o
            .retain(|&k| !orders[k as usize].status.is_terminal());
        let algos = &self.algos;
        self.open_a.retain(|&k| algos[k as usize].status.is_open());
    }

    /// Non-terminal orders with their indices, ascending.
    pub(crate) fn open_order_iter(&self) -> impl Iterator<Item = (usize, &Order)> + '_ {
        self.open_o
            .iter()
            .map(|&k| (k as usize, &self.orders[k as usize]))
            .filter(|(_, o)| !o.status.is_terminal())
    }

    /// Open algo orders with their indices, ascending.
    pub(crate) fn open_algo_iter(&self) -> impl Iterator<Item = (usize, &Algo)> + '_ {
        self.open_a
            .iter()
            .map(|&k| (k as usize, &self.algos[k as usize]))
            .filter(|(_, a)| a.status.is_open())
    }

    /// Appends a new order and indexes it as open.
    pub(crate) fn push_order(&mut self, mut o: Order) -> usize {
        o.shown = self.shown(o.qty, o.price, o.stop);
        if self.orders.at_chunk_start() {
            self.retire();
        }
        self.orders.push(o);
        let k = self.orders.len() - 1;
        self.open_o.push(k as u32);
        k
    }

    /// `self.spec.qty(steps)`, remembered for the last two counts asked (a pure function of
    /// `steps` for the run's one spec: the same Decimal, bit for bit).
    #[inline]
    pub(crate) fn qty_of(&self, steps: i64) -> Decimal {
        remembered(&self.qty_memo, steps, |n| self.spec.qty(n))
    }

    /// `self.spec.price(ticks)`, remembered for the last two counts asked, as `qty_of` (zero,
    /// the price of orders without one, is answered without the memo and kept out of it).
    #[inline]
    pub(crate) fn price_of(&self, ticks: i64) -> Decimal {
        if ticks == 0 {
            return Decimal::ZERO;
        }
        remembered(&self.price_memo, ticks, |n| self.spec.price(n))
    }

    /// Notional of `steps` at `ticks`: price × quantity, through `price_of` and `qty_of`.
    #[inline]
    pub(crate) fn notional_of(&self, ticks: i64, steps: i64) -> Decimal {
        fastdec::mul(self.price_of(ticks), self.qty_of(steps))
    }

    /// The reported forms of `qty` steps, `price` and `stop` ticks.
    pub(crate) fn shown(&self, qty: i64, price: i64, stop: i64) -> Shown {
        Shown {
            qty: self.qty_of(qty),
            price: self.price_of(price),
            stop: self.price_of(stop),
        }
    }

    #[inline]
    pub(crate) fn emit(&mut self, e: Event) {
        self.out.push((TimeMs(self.cur.time), e));
    }

    /// True when every position side is at zero.
    pub fn is_flat(&self) -> bool {
        self.pos.iter().all(|p| p.amt == 0)
    }

    /// Signed position amount (in quantity units) of a position side.
    pub fn position_amt(&self, ps: PositionSide) -> Decimal {
        self.qty_of(self.pos[ps_idx(ps)].amt)
    }
}

pub(crate) fn ps_idx(ps: PositionSide) -> usize {
    match ps {
        PositionSide::Both => 0,
        PositionSide::Long => 1,
        PositionSide::Short => 2,
    }
}

/// `f(n)`, remembered in `memo` for the last two `n` asked (`f` a pure function of `n`: the
/// answer is the same Decimal, bit for bit). `memo` starts as `[(0, f(0)); 2]` or with zero
/// kept out of it by the caller.
#[inline]
fn remembered(
    memo: &std::cell::Cell<[(i64, Decimal); 2]>,
    n: i64,
    f: impl FnOnce(i64) -> Decimal,
) -> Decimal {
    let m = memo.get();
    if m[0].0 == n {
        return m[0].1;
    }
    if m[1].0 == n {
        return m[1].1;
    }
    let d = f(n);
    memo.set([(n, d), m[0]]);
    d
}
#[cfg(test)]
mod tests {
    use super::*;

    /// `qty_of` and `price_of` (remembering the last two counts) answer what `SymbolSpec::qty`
    /// and `SymbolSpec::price` do, bit for bit, over runs of repeated, alternating, signed, zero
    /// and fresh counts and every builtin step and tick.
    #[test]
    fn qty_of_and_price_of_are_the_spec_conversions() {
        let bars = vec![BarTicks {
            t: 0,
            o: 100,
            h: 100,
            l: 100,
            c: 100,
        }];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for sym in ["BTCUSDT", "ETHUSDT", "FILUSDT", "NEARUSDT"] {
            let spec = SymbolSpec::builtin(sym).expect("builtin");
            let ex = MockExchange::new(
                ExchangeConfig::default(),
                spec.clone(),
                bars.clone(),
                60_000,
            );
            let mut last = [0i64; 3];
            for i in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let n = match x % 5 {
                    0 => last[0],
                    1 => -last[1],
                    2 => last[2],
                    3 => (x >> 20) as i64 % 1_000_000 - 500_000,
                    _ => (x >> 8) as i64 % 100 * 10,
                };
                last[i % 3] = n;
                assert_eq!(
                    ex.qty_of(n).serialize(),
                    spec.qty(n).serialize(),
                    "{sym} {n}"
                );
                assert_eq!(
                    ex.price_of(n).serialize(),
                    spec.price(n).serialize(),
                    "{sym} {n}"
                );
            }
        }
    }
}
