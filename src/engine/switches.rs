//! Behaviour switches: every difference between releases of the live engine
//! (`tradeengine-oco.md` §1–§5, §7), one named switch each, plus the choices of ocosim's own
//! `reference` OCO manager.
//!
//! Contract: [`Switches`] is plain data (serde, every field defaulted from the `reference`
//! profile); the engine reads it and nothing else decides behaviour. [`Switches::set`] overrides
//! one switch from text, so a scenario can turn one weak point on or off. [`SWITCH_DOCS`] holds
//! the one-line "what it changes" text for each key, in the order of the struct.
//!
//! Weak points of `tradeengine-oco.md` §7 and how they are reproduced:
//! - W1 `oco_quantity_source = result_amount` (with the ACK response: `amount` is the sum of absent
//!   `fills`, so 0);
//! - W2 `partial_oco_cancels_survivor = false` with `individual_fallback = any_failure_logged`;
//! - W3 `monitor_restarts = false`;
//! - W4 `cancel_pair_works = false`;
//! - W5 `cancel_endpoint_for_algo = order_endpoint` and `completion_close_step = true` (exit query
//!   on `/fapi/v1/order`, the `params=` DELETE fallback fails client-side with no request);
//! - W6 `manual_close_finds_pair = false`;
//! - W7 `monitor_fill_detection = missing_means_filled`, `poll_errors_as_empty = true` (PHEAD);
//! - W8 `both_missing = mark_completed`;
//! - W9 `protect_resting_entry = true`;
//! - W10 `exhausted_cancel_drops_pair = true`;
//! - W11 `reconcile_on_restart` (`off`: state simply lost; `zip_by_create_time`: PHEAD's rebuild)
//!   and `reconcile_cancels_lone_legs`;
//! - W12 `exchange_truth_dedup` and `direction_refusal` results fall into
//!   `individual_fallback = non_naked_failure_raises`; the check-before-place store and the WS
//!   nudge are not ported (they see only standard orders and never fire for algo legs, so leaving
//!   them out changes nothing observable on an algo account);
//! - W13 `client_ids = none` with `requery_unknown_outcome = false` (blind re-post after a
//!   timeout), and `rollback_timeout_ms` (the 10 s `wait_for` can abort after a leg was posted);
//! - W14 `one_pair_per_side` (PHEAD: the first pair governs the accumulated side) or per-entry
//!   quantity pairs (P78), both by construction;
//! - W15 `manual_close_order = cancel_then_close` (no pause of the monitor), by construction;
//! - W16 `wire_rounding = decimal_places`;
//! - W17 `local_book_by_side` plus the book never being decremented by SL/TP fills (all
//!   profiles: the book is only the cooldown's and manual close's notion);
//! - W18 `retry_on = all_but_listed` with -2021 absent from `no_retry_codes`.
//!
//! The `reference` profile is what a correct OCO manager for USD-M futures does today: one
//! closePosition + GTE_GTC pair per position side (completed with a leg a later entry asks for),
//! positionSide only in hedge mode and reduceOnly only in one-way mode, deterministic client ids
//! with look-ups by client id after an unknown outcome (never a blind re-post), status queries
//! instead of "missing means filled", re-arming a leg that ended unfilled while the position is
//! open, retries with backoff on transport faults and throttling, a cleanup queue for what failed
//! to settle, restart recovery from open orders and positionRisk, and the algo endpoint with a
//! fallback to `/fapi/v1/order` on pre-2025-12-09 accounts.
//!
//! Not reproduced, and why: the CIO gates, distributed lock, persistence timeouts and the
//! naked-position remediator (default `dry_run`, so it does nothing observable) are out of scope
//! (`tradeengine-oco.md` "How ocosim uses this page"); of PHEAD's user-data truth store only the
//! positions are ported, for the close guard (#481, `close_guard`); the P78 aggregator's
//! naive-datetime crash is moot because simulated timestamps are integers; the -4130
//! "ALREADY_EXISTS" reconciliation (W12) needs a -4130 from the venue, which the mock does not
//! emit (duplicate closePosition legs are accepted there); PHEAD's deferred conditional entries are
//! dead code with the Binance adapter and are not ported.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the OCO and individual legs take their quantity from (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantitySource {
    /// `result.get("amount", order.amount)`: the sum of the response's fills, 0 for futures (W1).
    ResultAmount,
    /// `result.amount or order.amount` (v1.1.80 and later).
    ResultOrOrderAmount,
}

/// Which endpoint SL/TP legs are posted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegsApi {
    /// `POST /fapi/v1/order` STOP_MARKET / TAKE_PROFIT_MARKET with `stopPrice` (pre-2025-12-09).
    LegacyOrder,
    /// `POST /fapi/v1/algoOrder`, `algoType=CONDITIONAL`, `triggerPrice`.
    Algo,
    /// The algo endpoint, falling back to `/fapi/v1/order` when the venue has none (HTTP 404,
    /// a pre-2025-12-09 account); learned once per process.
    Auto,
}

/// How the monitor decides that a leg filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillDetection {
    /// Absent from the open list means filled (W7).
    MissingMeansFilled,
    /// Query the leg's status and act on FILLED / CANCELED / EXPIRED / REJECTED.
    QueryStatus,
}

/// What the monitor does when both legs are absent in one poll (W8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BothMissing {
    /// Silently mark the pair completed.
    MarkCompleted,
    /// Query both legs and the position, then decide (double fill, re-arm, externally closed).
    Reconcile,
}

/// Where the cancel of an algo leg is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelEndpoint {
    /// `DELETE /fapi/v1/order` with the algoId in `orderId`: -2011 (W5).
    OrderEndpoint,
    /// `DELETE /fapi/v1/algoOrder` with `algoId`.
    AlgoEndpoint,
}

/// How quantities and prices are turned into wire text (§1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireRounding {
    /// Round to nearest at the decimal count of stepSize/tickSize (W16).
    DecimalPlaces,
    /// Quantity floored to a multiple of stepSize, price rounded to the nearest multiple of tickSize.
    FloorToStepTick,
}

/// Client order ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientIds {
    /// No `newClientOrderId` / `clientAlgoId` (W13).
    None,
    /// Deterministic ids from the signal time, a counter, the leg and the attempt.
    Idempotent,
}

/// Which failures a placement retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// Everything except the codes in `no_retry_codes` (the live `_execute_with_retry`, W18).
    AllButListed,
    /// Only transport faults and throttling (-1003, -1008).
    TransportAndThrottle,
}

/// When `positionSide` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSideParam {
    /// Always LONG/SHORT from the signal: one-way accounts get -4061 (§5.1).
    Always,
    /// LONG/SHORT in hedge mode, omitted in one-way mode (mode read from positionRisk).
    ByAccountMode,
}

/// The shape of one monitoring pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollScope {
    /// `GET openOrders` once per active pair (P78).
    PerPair,
    /// `GET openOrders` and `GET openAlgoOrders` once per `SYMBOL_SIDE` key (PHEAD).
    PerKeyBothBooks,
    /// One read per symbol of only the books that hold its legs and pending entries.
    PerSymbol,
}

/// What happens after a failed OCO placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// No fallback: the failure stands (and `atomic_rollback` closes the position).
    Never,
    /// Any non-success places individual SL then TP, unpaired; failures are only logged (P78, W2).
    AnyFailureLogged,
    /// Everything but `duplicate_oco` / `position_naked` places individual legs, and a failed
    /// individual leg raises (so `atomic_rollback` runs) (PHEAD, W12).
    NonNakedFailureRaises,
}

/// What a `close` signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseAction {
    /// `side="close"` is refused by the adapter: "Invalid order side", status failed (§1.3).
    InvalidSide,
    /// Close the symbol's open position(s) with cleanup.
    ClosePosition,
}

/// Where a manual close takes its quantity from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseQty {
    /// The engine's local position book (W17: stale after SL/TP fills).
    LocalBook,
    /// `GET positionRisk`.
    PositionRisk,
}

/// What a restarted process rebuilds from the exchange (§4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reconcile {
    /// Nothing: the pair map and the monitor are gone (P78).
    Off,
    /// PHEAD `reconcile_from_exchange`: open algo legs (else regular ones) per position side,
    /// zipped SL with TP by createTime; leftovers become orphan records.
    ZipByCreateTime,
    /// Reference: legs and resting entries grouped by their client ids, checked against
    /// positionRisk; legs of a flat side cancelled, a position with no legs and no plan flattened.
    ClientIdsAndPositions,
}

/// Order of the two steps of a manual close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseOrder {
    /// Cancel the legs, then send the MARKET close (live engine, W15 window).
    CancelThenClose,
    /// Send the MARKET close, then cancel whatever legs remain.
    CloseThenCancel,
}

/// Every behaviour switch of the engine. Unknown fields are refused; missing ones take the
/// `reference` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    // ---- dispatcher gates (§1.6)
    /// Duplicate-signal cache TTL in ms (60 000 P78, 10 000 PHEAD).
    pub duplicate_ttl_ms: i64,
    /// Signals below this confidence are rejected.
    pub confidence_floor: Decimal,
    /// P78: reject when an active signal (1 h) on the symbol with another action has ≥ confidence.
    pub opposite_signal_conflict: bool,
    /// Refuse signals older than this many ms at dispatch (0 = off; PHEAD 300 000).
    pub max_signal_age_ms: i64,
    /// Reject adds to a side whose local book is open within this many ms of the last add (0 = off).
    pub accumulation_cooldown_ms: i64,
    /// Reject entries when the symbol has at least this many open algo orders (0 = off; PHEAD 9).
    pub algo_slot_limit: u32,
    /// What a `close` signal does.
    pub close_action: CloseAction,
    /// Local position book keyed by (symbol, side) (true) or by symbol only (false, P78).
    pub local_book_by_side: bool,
    // ---- entry
    /// Send `newOrderRespType=RESULT` and read `executedQty`/`avgPrice` (false: ACK, amount 0).
    pub entry_resp_result: bool,
    /// A resting entry (status NEW) counts as filled and gets its legs at once (W9).
    pub protect_resting_entry: bool,
    /// Read positionRisk after an entry fills and protect only a position open on the entry's side.
    pub verify_position_after_entry: bool,
    /// One-way mode: a signal against the open position first closes it (and its pair), then
    /// opens its own position at full size (false: the order nets against the position).
    pub one_way_reverse_closes_first: bool,
    /// Fetch the ticker for the MIN_NOTIONAL check of market/stop/take-profit orders (§1.5).
    pub notional_check_ticker: bool,
    /// Every `POST /fapi/v1/order` sent without a client id carries python-binance 1.0.32's
    /// broker id, `newClientOrderId=x-Cb7ytekJ…` (the 2026-08 wire traces; never read back).
    pub broker_client_id: bool,
    // ---- risk prices (§3.5)
    /// Use `stop_loss_pct` / `take_profit_pct` when the absolute price is missing (P78 ignores them).
    pub risk_from_pct: bool,
    /// Re-anchor an entry price outside the live PERCENT_PRICE band to the live price (#501).
    pub reanchor_to_live: bool,
    /// Minimum stop distance from the entry, in percent (0 = off; PHEAD 0.5).
    pub sl_min_distance_pct: Decimal,
    /// Clamp correct-side prices to 20 % and rebuild wrong-side ones (#479/#502).
    pub direction_guard: bool,
    /// The stop must sit at least this many percent beyond the live price (0 = off; PHEAD 6).
    pub sl_market_floor_pct: Decimal,
    /// Clamp an algo stop into the live PERCENT_PRICE band less a 1 % margin (§5.3).
    pub percent_price_clamp: bool,
    /// 2026-08 `_execute_limit_order`: a LIMIT order's price is validated against the live
    /// PERCENT_PRICE band (a ticker read); outside it the order is refused locally.
    pub limit_percent_price_check: bool,
    // ---- OCO placement (§4.2)
    /// Quantity of the legs (W1).
    pub oco_quantity_source: QuantitySource,
    /// Legacy `/fapi/v1/order` conditional legs or Algo Order API legs.
    pub legs_api: LegsApi,
    /// Legs use `closePosition=true` instead of a quantity.
    pub leg_close_position: bool,
    /// Legs use `timeInForce=GTE_GTC` (expire when the position reaches zero).
    pub leg_tif_gte_gtc: bool,
    /// Legs trigger on `workingType=MARK_PRICE` (false: Binance's default CONTRACT_PRICE).
    pub leg_working_type_mark: bool,
    /// Legs send `priceProtect=true`.
    pub leg_price_protect: bool,
    /// Quantity legs carry `reduceOnly=true` where the account mode allows it (one-way); false
    /// plants the "no reduceOnly" bug: a survivor that fires after the position closed opens a
    /// reverse position.
    pub leg_reduce_only: bool,
    /// PHEAD local dedup: an active pair on (symbol, side) rejects a new one (`duplicate_oco`).
    pub one_pair_per_side: bool,
    /// PHEAD #550: skip placement when openAlgoOrders already shows a STOP and a TAKE_PROFIT.
    pub exchange_truth_dedup: bool,
    /// PHEAD: refuse the pair when SL or TP is on the wrong side of the entry (`direction_inversion`).
    pub direction_refusal: bool,
    /// On a partial OCO (one leg posted) cancel the posted leg (PHEAD) instead of leaving it (W2).
    pub partial_oco_cancels_survivor: bool,
    /// What follows a failed OCO placement.
    pub individual_fallback: Fallback,
    /// Stop placing the pair once a leg failed (false: SL then TP regardless, as the live engine).
    pub oco_abort_after_failed_leg: bool,
    /// Register a lone SL or TP with the monitor (false: placed unpaired and never watched).
    pub register_single_legs: bool,
    /// Individual legs retry -2021 at ×0.99 then ×0.98 of the price (moved toward safety) (#109).
    pub minus_2021_ladder: bool,
    /// When protection fails (error or timeout), close the position (PHEAD #238, reference).
    pub atomic_rollback: bool,
    /// What failed to settle is retried by the monitor until it does: a rollback close, a leg
    /// cancel, an entry or leg whose outcome stayed unknown (found by client id).
    pub retry_cleanup: bool,
    /// Abort risk placement after this many ms and roll back (0 = no budget; PHEAD 10 000, W13).
    pub rollback_timeout_ms: i64,
    // ---- adapter (§5)
    /// When `positionSide` is sent.
    pub position_side_param: PositionSideParam,
    /// Pre-v1.1.78 bug: send `reduceOnly=true` together with `positionSide` (-1106 in hedge mode).
    pub send_reduce_only_with_position_side: bool,
    /// Wire formatting of quantities and prices (W16).
    pub wire_rounding: WireRounding,
    /// Attempts per placement or close request (1 = no retry).
    pub placement_retries: u32,
    /// First retry delay in ms; doubles per attempt (1 s, 2 s).
    pub retry_base_delay_ms: i64,
    /// Which failures are retried.
    pub retry_on: RetryOn,
    /// Codes never retried with `retry_on = all_but_listed`.
    pub no_retry_codes: Vec<i32>,
    /// Client order ids.
    pub client_ids: ClientIds,
    /// After a transport fault on a placement, query by client id before re-posting.
    pub requery_unknown_outcome: bool,
    // ---- monitor (§4.3)
    /// Shape of a monitoring pass.
    pub poll_scope: PollScope,
    /// How a filled leg is recognised.
    pub monitor_fill_detection: FillDetection,
    /// Both legs absent in one poll.
    pub both_missing: BothMissing,
    /// The monitor restarts when a pair is added after the map drained (false: W3).
    pub monitor_restarts: bool,
    /// PHEAD `get_all_open_orders`: an error in either sub-call reads as an empty list (W7).
    pub poll_errors_as_empty: bool,
    /// With `monitor = stream`, react to ALGO_UPDATE / ORDER_TRADE_UPDATE (false: keep polling).
    pub stream_monitor_supported: bool,
    /// With stream monitoring, a safety re-read of open orders every this many ms.
    pub stream_resync_ms: i64,
    // ---- cancel (§4.4, §4.5)
    /// Attempts of a cancel-other (1 = single call; P78 retries only at the next poll).
    pub cancel_retries: u32,
    /// First cancel retry delay in ms (doubles, capped at 4 s): PHEAD 500.
    pub cancel_retry_base_ms: i64,
    /// Endpoint used to cancel an algo leg (W5).
    pub cancel_endpoint_for_algo: CancelEndpoint,
    /// PHEAD: -2011 / -2013 on a cancel counts as success and marks the pair externally_closed.
    pub cancel_unknown_is_success: bool,
    /// PHEAD: after an exhausted cancel the completion step still drops the pair (W10).
    pub exhausted_cancel_drops_pair: bool,
    /// PHEAD `_close_position_on_oco_completion`: exit query and a second cancel on `/fapi/v1/order`.
    pub completion_close_step: bool,
    // ---- close (§3.3)
    /// Manual close and rollback find the side's pair (false: keyed lookup never matches, W6).
    pub manual_close_finds_pair: bool,
    /// `cancel_oco_pair` works (false: `futures_cancel_batch_orders` does not exist, W4).
    pub cancel_pair_works: bool,
    /// Quantity of a manual close.
    pub manual_close_qty: CloseQty,
    /// Cancel-then-close or close-then-cancel.
    pub manual_close_order: CloseOrder,
    /// Thrash breaker: more than this many closes per symbol in 10 min are skipped (0 = off; PHEAD 2).
    pub close_thrash_limit: u32,
    /// PHEAD close guard (#481 AC3): no MARKET close when the user-data-stream store shows no
    /// position on that side (`skipped_no_exchange_position`); a caller without such a store
    /// ([`crate::api::Exchange::stream_positions`] `None`) is never blocked.
    pub close_guard: bool,
    // ---- restart (§4.8)
    /// What a restart rebuilds from the exchange.
    pub reconcile_on_restart: Reconcile,
    /// Rebuilt lone legs are orphans that the first pass cancels (W11).
    pub reconcile_cancels_lone_legs: bool,
    /// PHEAD `Dispatcher.initialize()` at session start and after a restart: the account-wide
    /// `reconcile_from_exchange` (openAlgoOrders, openOrders when that is empty) and the
    /// user-data store's seed (positionRisk, openOrders), all without a symbol.
    pub startup_reconcile: bool,
}

/// Accepted range of every numeric switch: (key, min, max, unit), checked by [`Switches::set`]
/// (scenario `[engine.switches]` and `--set`). Durations stay within a day, retries within 20,
/// so a backoff `base << attempt` stays far inside an `i64`; percentages within 0..=100.
pub const SWITCH_BOUNDS: &[(&str, &str, &str, &str)] = &[
    ("duplicate_ttl_ms", "0", "86400000", "ms"),
    ("confidence_floor", "0", "1", ""),
    ("max_signal_age_ms", "0", "86400000", "ms"),
    ("accumulation_cooldown_ms", "0", "86400000", "ms"),
    ("algo_slot_limit", "0", "1000", ""),
    ("sl_min_distance_pct", "0", "100", "%"),
    ("sl_market_floor_pct", "0", "100", "%"),
    ("rollback_timeout_ms", "0", "86400000", "ms"),
    ("placement_retries", "0", "20", ""),
    ("retry_base_delay_ms", "0", "3600000", "ms"),
    ("stream_resync_ms", "0", "86400000", "ms"),
    ("cancel_retries", "0", "20", ""),
    ("cancel_retry_base_ms", "0", "3600000", "ms"),
    ("close_thrash_limit", "0", "1000", ""),
];

/// One line per switch: (key, what it changes), in struct order.
#[rustfmt::skip]
pub const SWITCH_DOCS: &[(&str, &str)] = &[
    ("duplicate_ttl_ms", "duplicate-signal cache TTL (id = strategy_symbol_action_second)"),
    ("confidence_floor", "signals below this confidence are rejected"),
    ("opposite_signal_conflict", "reject if an active (1 h) signal with the other action has ≥ confidence"),
    ("max_signal_age_ms", "refuse signals older than this at dispatch (0 = off)"),
    ("accumulation_cooldown_ms", "reject adds to an open side within this time of the last add (0 = off)"),
    ("algo_slot_limit", "reject entries when the symbol has this many open algo orders (0 = off)"),
    ("close_action", "what a `close` signal does"),
    ("local_book_by_side", "local position book keyed by (symbol, side) instead of symbol"),
    ("entry_resp_result", "entries ask for RESULT and read executedQty (false: ACK, amount 0)"),
    ("protect_resting_entry", "a resting (NEW) entry gets its legs at once (W9)"),
    ("verify_position_after_entry", "read positionRisk after a fill; protect only an open position on that side"),
    ("one_way_reverse_closes_first", "one-way: an opposite signal closes the position and its pair first"),
    ("notional_check_ticker", "GET ticker/price for the MIN_NOTIONAL check, even for reduce-only legs"),
    ("broker_client_id", "orders without a client id carry python-binance's `x-Cb7ytekJ…` broker id"),
    ("risk_from_pct", "use stop_loss_pct / take_profit_pct when absolute prices are missing"),
    ("reanchor_to_live", "entry anchor outside the PERCENT_PRICE band → live price (#501)"),
    ("sl_min_distance_pct", "stop at least this % from the entry (0 = off)"),
    ("direction_guard", "clamp SL/TP to 20 % and rebuild wrong-side prices (#479/#502)"),
    ("sl_market_floor_pct", "stop at least this % beyond the live price (0 = off)"),
    ("percent_price_clamp", "algo stop clamped into the live PERCENT_PRICE band less 1 %"),
    ("limit_percent_price_check", "a LIMIT order's price is checked against the live PERCENT_PRICE band (ticker read)"),
    ("oco_quantity_source", "leg quantity: result amount (0 with ACK, W1) or that or the order amount"),
    ("legs_api", "legs on /fapi/v1/order (legacy), /fapi/v1/algoOrder, or auto (algo, else legacy)"),
    ("leg_close_position", "legs send closePosition=true instead of a quantity"),
    ("leg_tif_gte_gtc", "legs send timeInForce=GTE_GTC (expire with the position)"),
    ("leg_working_type_mark", "legs trigger on MARK_PRICE instead of the last price"),
    ("leg_price_protect", "legs send priceProtect=true"),
    ("leg_reduce_only", "one-way quantity legs send reduceOnly=true (false: a late survivor opens a reverse position)"),
    ("one_pair_per_side", "an active pair on (symbol, side) blocks a new one (duplicate_oco)"),
    ("exchange_truth_dedup", "skip when openAlgoOrders already shows a STOP and a TAKE_PROFIT (#550)"),
    ("direction_refusal", "refuse a pair with SL/TP on the wrong side of the entry"),
    ("partial_oco_cancels_survivor", "one leg posted, other failed: cancel the posted one (false: W2)"),
    ("individual_fallback", "after a failed OCO: none, unpaired SL+TP logged (W2), or raising (W12)"),
    ("oco_abort_after_failed_leg", "once a leg failed, the rest of the pair is not placed"),
    ("register_single_legs", "a lone SL or TP is watched (false: placed unpaired)"),
    ("minus_2021_ladder", "individual legs retry -2021 at ×0.99 / ×0.98 toward safety"),
    ("atomic_rollback", "close the position when protection fails"),
    ("retry_cleanup", "failed rollback closes, leg cancels and unknown outcomes are retried until settled"),
    ("rollback_timeout_ms", "risk placement budget before rollback (0 = none; W13)"),
    ("position_side_param", "positionSide always (one-way → -4061) or only in hedge mode"),
    ("send_reduce_only_with_position_side", "pre-v1.1.78 bug: reduceOnly with positionSide (-1106)"),
    ("wire_rounding", "decimal places of step/tick (W16) or floor-to-step / round-to-tick"),
    ("placement_retries", "attempts per placement or close request"),
    ("retry_base_delay_ms", "first retry delay, doubled per attempt"),
    ("retry_on", "retry all but listed codes (W18) or only transport faults and -1003/-1008"),
    ("no_retry_codes", "codes never retried with retry_on = all_but_listed"),
    ("client_ids", "no client ids (W13) or deterministic idempotent ones"),
    ("requery_unknown_outcome", "after a timeout, query by client id before re-posting"),
    ("poll_scope", "pass shape: openOrders per pair, both books per key, or per symbol"),
    ("monitor_fill_detection", "absent means filled (W7) or query the leg's status"),
    ("both_missing", "both legs absent: mark completed (W8) or reconcile"),
    ("monitor_restarts", "monitor restarts after the pair map drained (false: W3)"),
    ("poll_errors_as_empty", "a failed open-orders read counts as an empty list (W7)"),
    ("stream_monitor_supported", "react to user-stream events when monitor = stream"),
    ("stream_resync_ms", "with stream monitoring, safety re-read period"),
    ("cancel_retries", "attempts of a cancel-other"),
    ("cancel_retry_base_ms", "first cancel retry delay (doubles, cap 4 s)"),
    ("cancel_endpoint_for_algo", "algo legs cancelled on /fapi/v1/order (W5) or /fapi/v1/algoOrder"),
    ("cancel_unknown_is_success", "-2011/-2013 on cancel counts as done (externally_closed)"),
    ("exhausted_cancel_drops_pair", "an exhausted cancel still drops the pair (W10)"),
    ("completion_close_step", "PHEAD exit query + second cancel on /fapi/v1/order after a fill"),
    ("manual_close_finds_pair", "manual close / rollback find the side's pair (false: W6)"),
    ("cancel_pair_works", "cancel_oco_pair can cancel (false: missing client method, W4)"),
    ("manual_close_qty", "manual close quantity: local book (W17) or positionRisk"),
    ("manual_close_order", "cancel legs then close (W15) or close then cancel"),
    ("close_thrash_limit", "more closes per symbol in 10 min are skipped (0 = off)"),
    ("close_guard", "no MARKET close when the user-stream store shows no position on that side (#481 AC3)"),
    ("reconcile_on_restart", "restart rebuild: off (state lost, W11), PHEAD's createTime zip, or by client id"),
    ("reconcile_cancels_lone_legs", "a rebuilt lone leg is cancelled by the first pass (W11)"),
    ("startup_reconcile", "account-wide reconcile + store seed reads at session start and after a restart"),
];

/// The weak point of `tradeengine-oco.md` §7 each switch reproduces at a live value: (key, value or
/// `*` for any value other than `reference`'s, W). The one place the switch → W map lives; the
/// order is the order in which `sim explore` prefers to name a root cause when several switches
/// each explain it alone (the switch the weak point is about first, then its enablers).
#[rustfmt::skip]
pub const SWITCH_WEAK_POINTS: &[(&str, &str, &str)] = &[
    ("oco_quantity_source", "*", "W1"),
    ("partial_oco_cancels_survivor", "*", "W2"),
    ("individual_fallback", "any_failure_logged", "W2"),
    ("monitor_restarts", "*", "W3"),
    ("cancel_pair_works", "*", "W4"),
    ("cancel_endpoint_for_algo", "*", "W5"),
    ("completion_close_step", "*", "W5"),
    ("manual_close_finds_pair", "*", "W6"),
    // both legs absent in one poll is W8's own branch of the decision table; flipping W7's
    // detection skips the whole table, so it clears the same violations: W8 is named first
    ("both_missing", "*", "W8"),
    ("monitor_fill_detection", "*", "W7"),
    ("poll_errors_as_empty", "*", "W7"),
    ("protect_resting_entry", "*", "W9"),
    ("exhausted_cancel_drops_pair", "*", "W10"),
    ("reconcile_on_restart", "*", "W11"),
    ("reconcile_cancels_lone_legs", "*", "W11"),
    ("individual_fallback", "non_naked_failure_raises", "W12"),
    ("exchange_truth_dedup", "*", "W12"),
    ("direction_refusal", "*", "W12"),
    ("client_ids", "*", "W13"),
    ("requery_unknown_outcome", "*", "W13"),
    ("rollback_timeout_ms", "*", "W13"),
    ("one_pair_per_side", "*", "W14"),
    ("manual_close_order", "*", "W15"),
    ("wire_rounding", "*", "W16"),
    ("local_book_by_side", "*", "W17"),
    ("manual_close_qty", "*", "W17"),
    ("retry_on", "*", "W18"),
    ("no_retry_codes", "*", "W18"),
];

/// The titles of `tradeengine-oco.md` §7's weak points, as one line each.
#[rustfmt::skip]
pub const WEAK_POINTS: &[(&str, &str)] = &[
    ("W1", "the OCO quantity is 0, so the legs fail and the position is naked"),
    ("W2", "a partial OCO leaves an untracked leg and the fallback duplicates it"),
    ("W3", "the monitor dies when the pair map drains and never restarts"),
    ("W4", "cancel_oco_pair always fails, so a close leaves both legs resting"),
    ("W5", "algo legs are cancelled and queried on the wrong endpoint"),
    ("W6", "manual close and rollback do not find the pair, so its legs stay armed"),
    ("W7", "a leg missing from the open list is taken as filled"),
    ("W8", "both legs gone in one poll: the pair is silently marked completed"),
    ("W9", "a resting entry counts as filled and is protected at once"),
    ("W10", "an exhausted cancel still drops the pair"),
    ("W11", "a restart loses state (or PHEAD's reconcile cancels lone legs)"),
    ("W12", "fallback and dedup paths mis-route"),
    ("W13", "non-idempotent retries and timeouts"),
    ("W14", "quantity mismatch after adding to a position"),
    ("W15", "manual close races a trigger"),
    ("W16", "rounding to decimal places"),
    ("W17", "the local position book is never decremented by SL/TP fills"),
    ("W18", "wrong-side prices are retried"),
];

/// The weak point (W number) a switch at `value` reproduces, if §7 maps it.
pub fn weak_point(key: &str, value: &str) -> Option<&'static str> {
    SWITCH_WEAK_POINTS
        .iter()
        .find(|(k, v, _)| *k == key && (*v == "*" || *v == value))
        .map(|(_, _, w)| *w)
}

/// The one-line title of a weak point.
pub fn weak_point_title(w: &str) -> &'static str {
    WEAK_POINTS
        .iter()
        .find(|(k, _)| *k == w)
        .map_or("", |(_, t)| *t)
}

impl Default for Switches {
    /// The `reference` profile.
    fn default() -> Self {
        Switches {
            duplicate_ttl_ms: 60_000,
            confidence_floor: Decimal::new(6, 1),
            opposite_signal_conflict: false,
            max_signal_age_ms: 0,
            accumulation_cooldown_ms: 0,
            algo_slot_limit: 0,
            close_action: CloseAction::ClosePosition,
            local_book_by_side: true,
            entry_resp_result: true,
            protect_resting_entry: false,
            verify_position_after_entry: true,
            one_way_reverse_closes_first: true,
            notional_check_ticker: false,
            broker_client_id: false,
            risk_from_pct: true,
            reanchor_to_live: false,
            sl_min_distance_pct: Decimal::ZERO,
            direction_guard: false,
            sl_market_floor_pct: Decimal::ZERO,
            percent_price_clamp: false,
            limit_percent_price_check: false,
            oco_quantity_source: QuantitySource::ResultOrOrderAmount,
            legs_api: LegsApi::Auto,
            leg_close_position: true,
            leg_tif_gte_gtc: true,
            leg_working_type_mark: true,
            leg_price_protect: false,
            leg_reduce_only: true,
            one_pair_per_side: true,
            exchange_truth_dedup: false,
            direction_refusal: false,
            partial_oco_cancels_survivor: true,
            individual_fallback: Fallback::Never,
            oco_abort_after_failed_leg: true,
            register_single_legs: true,
            minus_2021_ladder: false,
            atomic_rollback: true,
            retry_cleanup: true,
            rollback_timeout_ms: 0,
            position_side_param: PositionSideParam::ByAccountMode,
            send_reduce_only_with_position_side: false,
            wire_rounding: WireRounding::FloorToStepTick,
            placement_retries: 3,
            retry_base_delay_ms: 1_000,
            retry_on: RetryOn::TransportAndThrottle,
            no_retry_codes: Vec::new(),
            client_ids: ClientIds::Idempotent,
            requery_unknown_outcome: true,
            poll_scope: PollScope::PerSymbol,
            monitor_fill_detection: FillDetection::QueryStatus,
            both_missing: BothMissing::Reconcile,
            monitor_restarts: true,
            poll_errors_as_empty: false,
            stream_monitor_supported: true,
            stream_resync_ms: 5_000,
            cancel_retries: 3,
            cancel_retry_base_ms: 500,
            cancel_endpoint_for_algo: CancelEndpoint::AlgoEndpoint,
            cancel_unknown_is_success: false,
            exhausted_cancel_drops_pair: false,
            completion_close_step: false,
            manual_close_finds_pair: true,
            cancel_pair_works: true,
            manual_close_qty: CloseQty::PositionRisk,
            manual_close_order: CloseOrder::CloseThenCancel,
            close_thrash_limit: 0,
            close_guard: false,
            reconcile_on_restart: Reconcile::ClientIdsAndPositions,
            reconcile_cancels_lone_legs: false,
            startup_reconcile: false,
        }
    }
}

impl Switches {
    /// The switch set of a named profile (see [`crate::engine::PROFILES`]).
    pub fn profile(name: &str) -> Option<Switches> {
        super::profiles::profile(name)
    }

    /// Every switch key, in struct order.
    pub fn keys() -> Vec<&'static str> {
        SWITCH_DOCS.iter().map(|(k, _)| *k).collect()
    }

    /// Overrides one switch by name from text ("true", "2000", "algo", "-2010,-2011", "0.5"); an
    /// unknown key or a bad value is an error naming the key and what it accepts.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let mut v = serde_json::to_value(&*self).map_err(|e| e.to_string())?;
        let obj = v
            .as_object_mut()
            .ok_or_else(|| "switches do not serialise to an object".to_string())?;
        let Some(cur) = obj.get(key) else {
            return Err(format!(
                "unknown switch `{key}`; valid switches: {}",
                Self::keys().join(", ")
            ));
        };
        let text = value.trim();
        let new = match cur {
            Value::Bool(_) => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(format!(
                        "switch `{key}`: expected true or false, got `{value}`"
                    ))
                }
            },
            Value::Number(_) => {
                let n: i64 = text
                    .parse()
                    .map_err(|_| format!("switch `{key}`: expected an integer, got `{value}`"))?;
                Value::from(n)
            }
            Value::Array(_) => {
                let inner = text.trim_start_matches('[').trim_end_matches(']');
                let mut items = Vec::new();
                for part in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let n: i64 = part.parse().map_err(|_| {
                        format!("switch `{key}`: expected a comma-separated list of integers, got `{value}`")
                    })?;
                    items.push(Value::from(n));
                }
                Value::Array(items)
            }
            _ => Value::String(text.to_string()),
        };
        if let Some((_, lo, hi, _)) = SWITCH_BOUNDS.iter().find(|b| b.0 == key) {
            let out = |shown: &str| {
                format!("switch `{key}`: {shown} is out of range (accepted range {lo}..={hi})")
            };
            let (lo_d, hi_d): (Decimal, Decimal) = (
                lo.parse().unwrap_or(Decimal::ZERO),
                hi.parse().unwrap_or(Decimal::ZERO),
            );
            match &new {
                Value::Number(n) => {
                    let x = n.as_i64().map(Decimal::from).unwrap_or(Decimal::MAX);
                    if x < lo_d || x > hi_d {
                        return Err(out(text));
                    }
                }
                Value::String(t) => match t.parse::<Decimal>() {
                    Ok(x) if x < lo_d || x > hi_d => return Err(out(text)),
                    Ok(_) => {}
                    Err(_) => {
                        return Err(format!(
                            "switch `{key}`: expected a number, got `{value}` (accepted range {lo}..={hi})"
                        ))
                    }
                },
                _ => {}
            }
        }
        obj.insert(key.to_string(), new);
        let parsed: Switches =
            serde_json::from_value(v).map_err(|e| format!("switch `{key}`: {e}"))?;
        *self = parsed;
        Ok(())
    }

    /// The switch values as (key, text) pairs in struct order, as `set` accepts them.
    pub fn values(&self) -> Vec<(String, String)> {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        Self::keys()
            .into_iter()
            .map(|k| {
                let text = match v.get(k) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(a)) if a.is_empty() => "-".to_string(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                (k.to_string(), text)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_numeric_switch_has_bounds_that_hold_every_profile() {
        let v = serde_json::to_value(Switches::default()).unwrap();
        for (k, x) in v.as_object().unwrap() {
            let numeric = x.is_number() || x.as_str().is_some_and(|t| t.parse::<Decimal>().is_ok());
            assert_eq!(
                numeric,
                SWITCH_BOUNDS.iter().any(|b| b.0 == k),
                "{k}: numeric switches and SWITCH_BOUNDS agree"
            );
        }
        for name in crate::engine::PROFILES {
            let p = Switches::profile(name).unwrap();
            for (k, val) in p.values() {
                if SWITCH_BOUNDS.iter().any(|b| b.0 == k) {
                    let mut q = p.clone();
                    q.set(&k, &val).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        }
        let mut s = Switches::default();
        assert!(s.set("placement_retries", "21").is_err());
        assert!(s.set("retry_base_delay_ms", "-1").is_err());
        assert!(s
            .set("confidence_floor", "79228162514264337593543950335")
            .unwrap_err()
            .contains("accepted range 0..=1"));
        assert!(s.set("placement_retries", "20").is_ok());
    }

    #[test]
    fn docs_cover_every_field_in_order() {
        let v = serde_json::to_value(Switches::default()).unwrap();
        let fields: Vec<&str> = v.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        let mut sorted_docs = Switches::keys();
        sorted_docs.sort_unstable();
        // serde_json's map is sorted; compare as sets
        assert_eq!(fields, sorted_docs);
    }

    #[test]
    fn set_parses_each_kind() {
        let mut s = Switches::default();
        s.set("monitor_restarts", "false").unwrap();
        assert!(!s.monitor_restarts);
        s.set("duplicate_ttl_ms", "10000").unwrap();
        assert_eq!(s.duplicate_ttl_ms, 10_000);
        s.set("legs_api", "legacy_order").unwrap();
        assert_eq!(s.legs_api, LegsApi::LegacyOrder);
        s.set("sl_market_floor_pct", "6").unwrap();
        assert_eq!(s.sl_market_floor_pct, Decimal::from(6));
        s.set("no_retry_codes", "-2010, -2011").unwrap();
        assert_eq!(s.no_retry_codes, vec![-2010, -2011]);
        let e = s.set("nope", "1").unwrap_err();
        assert!(e.contains("nope") && e.contains("legs_api"), "{e}");
        let e = s.set("legs_api", "batch").unwrap_err();
        assert!(e.contains("legs_api") && e.contains("algo"), "{e}");
        assert!(s.set("placement_retries", "-1").is_err());
    }

    #[test]
    fn weak_point_map_names_real_switches_and_titled_weak_points() {
        let keys = Switches::keys();
        for (k, v, w) in SWITCH_WEAK_POINTS {
            assert!(keys.contains(k), "{k}");
            assert!(!weak_point_title(w).is_empty(), "{w}");
            if *v != "*" {
                let mut s = Switches::default();
                s.set(k, v).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert_eq!(
            weak_point("individual_fallback", "any_failure_logged"),
            Some("W2")
        );
        assert_eq!(
            weak_point("individual_fallback", "non_naked_failure_raises"),
            Some("W12")
        );
        assert_eq!(weak_point("monitor_restarts", "false"), Some("W3"));
        assert_eq!(weak_point("duplicate_ttl_ms", "10000"), None);
    }
}
