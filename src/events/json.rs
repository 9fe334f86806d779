//! A hand-rolled JSON writer for the hot event kinds of `events.jsonl`.
//!
//! Contract: [`write_record`] appends EXACTLY the bytes `serde_json::to_writer` produces for an
//! [`EventRecord`] (same key order, same escaping, `Decimal` as rust_decimal's `serde-str` string),
//! but writes keys as literal byte strings, scans strings once and escapes only when a byte needs it,
//! and writes integers and decimals without the formatting machinery. The hot kinds (requests,
//! responses, order/algo/account updates, equity samples, stream drop/duplicate marks and the
//! per-trade engine annotations) are hand-written; every other kind falls back to
//! `serde_json::to_writer` into the same buffer. Tests compare both byte for byte.

use super::*;
use crate::api::{ApiError, NewAlgoOrder, NewOrder, RespType, TransportError};
use std::cell::RefCell;

/// Appends the JSON of `r` (no newline) to `out`: the bytes `serde_json::to_writer(out, r)` writes.
pub fn write_record(r: &EventRecord, out: &mut Vec<u8>) {
    write_record_with(r, out, &mut Stamps::default());
}

/// The digits of the last `seq` and `time_ms` written by one writer: a log's records come with
/// consecutive seqs and often share their time, so [`write_record_with`] increments the seq's
/// digits in place and reuses the time's instead of dividing them out again.
#[derive(Debug, Clone)]
pub struct Stamps {
    /// The last seq and its digits, right-aligned in `seq_buf[..DIGITS]` from `seq_at` (the
    /// rest is the slack of the fixed-size append, see [`put_first`]).
    seq: Option<u64>,
    seq_buf: [u8; 2 * DIGITS],
    seq_at: usize,
    /// The last time and its text (sign included), right-aligned in `time_buf[..DIGITS]` from
    /// `time_at`.
    time: Option<i64>,
    time_buf: [u8; 2 * DIGITS],
    time_at: usize,
}

impl Default for Stamps {
    fn default() -> Stamps {
        Stamps {
            seq: None,
            seq_buf: [0; 2 * DIGITS],
            seq_at: DIGITS,
            time: None,
            time_buf: [0; 2 * DIGITS],
            time_at: DIGITS,
        }
    }
}

/// Room for the digits of any u64, or an i64 and its sign.
const DIGITS: usize = 20;

/// Appends `w[..n]` (`n <= N`) as one fixed-size copy and a truncation: the compiler turns a
/// copy of a known size into a few register moves, where a copy of a length known only at run
/// time is a call to `memcpy` (most of the cost of appending a number of a few digits).
#[inline(always)]
fn put_first<const N: usize>(out: &mut Vec<u8>, w: &[u8; N], n: usize) {
    debug_assert!(n <= N);
    let len = out.len();
    out.extend_from_slice(w);
    out.truncate(len + n);
}

/// Appends the `DIGITS - at` bytes of `buf` from `at` (`buf` has `DIGITS` bytes of slack).
#[inline(always)]
fn put_digits(out: &mut Vec<u8>, buf: &[u8; 2 * DIGITS], at: usize) {
    let w: &[u8; DIGITS] = buf[at..at + DIGITS]
        .try_into()
        .expect("a DIGITS-byte window");
    put_first(out, w, DIGITS - at);
}

impl Stamps {
    fn seq(&mut self, out: &mut Vec<u8>, v: u64) {
        match self.seq {
            Some(last) if Some(v) == last.checked_add(1) => {
                // add one to the decimal digits: trailing 9s become 0s, then a carry
                let mut i = DIGITS;
                loop {
                    i -= 1;
                    if self.seq_buf[i] == b'9' {
                        self.seq_buf[i] = b'0';
                        if i == self.seq_at {
                            self.seq_at -= 1;
                            self.seq_buf[self.seq_at] = b'1';
                            break;
                        }
                    } else {
                        self.seq_buf[i] += 1;
                        break;
                    }
                }
            }
            Some(last) if last == v => {}
            _ => self.seq_at = put_u64(&mut self.seq_buf[..DIGITS], v),
        }
        self.seq = Some(v);
        put_digits(out, &self.seq_buf, self.seq_at);
    }

    fn time(&mut self, out: &mut Vec<u8>, v: i64) {
        if self.time != Some(v) {
            let at = put_u64(&mut self.time_buf[..DIGITS], v.unsigned_abs());
            self.time_at = if v < 0 {
                self.time_buf[at - 1] = b'-';
                at - 1
            } else {
                at
            };
            self.time = Some(v);
        }
        put_digits(out, &self.time_buf, self.time_at);
    }
}

/// [`write_record`] with the digits of the previous record's seq and time at hand (see
/// [`Stamps`]); the same bytes.
pub fn write_record_with(r: &EventRecord, out: &mut Vec<u8>, stamps: &mut Stamps) {
    if !is_hot(&r.event) {
        // the cold kinds: serde_json itself (a Vec<u8> writer cannot fail)
        serde_json::to_writer(&mut *out, r).expect("serialising an event record cannot fail");
        return;
    }
    out.extend_from_slice(b"{\"seq\":");
    stamps.seq(out, r.seq.0);
    out.extend_from_slice(b",\"time_ms\":");
    stamps.time(out, r.time_ms.0);
    // one constant-size append per arm (a slice chosen first would be a `memcpy` call)
    match r.source {
        Source::Exchange => out.extend_from_slice(b",\"source\":\"exchange\",\"event\":{\"type\":"),
        Source::Engine => out.extend_from_slice(b",\"source\":\"engine\",\"event\":{\"type\":"),
        Source::Sim => out.extend_from_slice(b",\"source\":\"sim\",\"event\":{\"type\":"),
    }
    event(out, &r.event);
    out.extend_from_slice(b"}}");
}

/// Writes `r` and a newline into `w` through a reused per-thread buffer: one `write_all` per record.
pub fn write_line(w: &mut impl std::io::Write, r: &EventRecord) -> std::io::Result<()> {
    thread_local! {
        static BUF: RefCell<(Vec<u8>, Stamps)> =
            RefCell::new((Vec::with_capacity(1024), Stamps::default()));
    }
    BUF.with(|b| {
        let (buf, stamps) = &mut *b.borrow_mut();
        buf.clear();
        write_record_with(r, buf, stamps);
        buf.push(b'\n');
        w.write_all(buf)
    })
}

/// Whether `e` has a hand-written form (the rest go through serde_json).
fn is_hot(e: &Event) -> bool {
    match e {
        Event::Warning { .. } | Event::External { .. } => false,
        Event::Engine(en) => matches!(
            en,
            EngineEvent::Signal { .. }
                | EngineEvent::SignalResult { .. }
                | EngineEvent::EntryAccepted { .. }
                | EngineEvent::PairPlaced { .. }
                | EngineEvent::PairDropped { .. }
        ),
        _ => true,
    }
}

/// The body of `event` after `{"type":` (without the closing brace).
fn event(out: &mut Vec<u8>, e: &Event) {
    match e {
        Event::Request {
            call,
            endpoint,
            sent_ms,
            params,
        } => {
            out.extend_from_slice(b"\"request\",\"call\":");
            u64_(out, *call);
            out.extend_from_slice(b",\"endpoint\":");
            endpoint_(out, *endpoint);
            out.extend_from_slice(b",\"sent_ms\":");
            i64_(out, sent_ms.0);
            out.extend_from_slice(b",\"params\":");
            match params {
                RequestParams::Order(o) => {
                    out.extend_from_slice(b"{\"order\":");
                    new_order(out, o);
                    out.push(b'}');
                }
                RequestParams::Algo(a) => {
                    out.extend_from_slice(b"{\"algo\":");
                    new_algo(out, a);
                    out.push(b'}');
                }
                RequestParams::Other(s) => {
                    out.extend_from_slice(b"{\"other\":");
                    str_(out, s);
                    out.push(b'}');
                }
            }
        }
        Event::Response {
            call,
            endpoint,
            outcome,
        } => {
            out.extend_from_slice(b"\"response\",\"call\":");
            u64_(out, *call);
            out.extend_from_slice(b",\"endpoint\":");
            endpoint_(out, *endpoint);
            out.extend_from_slice(b",\"outcome\":");
            match outcome {
                CallOutcome::Ok(s) => {
                    out.extend_from_slice(b"{\"ok\":");
                    str_(out, s);
                    out.push(b'}');
                }
                CallOutcome::Rejected(e) => {
                    out.extend_from_slice(b"{\"rejected\":");
                    api_error(out, e);
                    out.push(b'}');
                }
                CallOutcome::Fault { error, reached } => {
                    out.extend_from_slice(b"{\"fault\":{\"error\":");
                    match error {
                        TransportError::Timeout => out.extend_from_slice(b"\"timeout\""),
                        TransportError::ServerError => out.extend_from_slice(b"\"server_error\""),
                        TransportError::ServerStatus(s) => {
                            out.extend_from_slice(b"{\"server_status\":");
                            u64_(out, u64::from(*s));
                            out.push(b'}');
                        }
                    }
                    out.extend_from_slice(b",\"reached\":");
                    bool_(out, *reached);
                    out.extend_from_slice(b"}}");
                }
            }
        }
        Event::OrderTradeUpdate(o) => {
            out.extend_from_slice(b"\"order_trade_update\",");
            order_update(out, o);
        }
        Event::AlgoUpdate(a) => {
            out.extend_from_slice(b"\"algo_update\",");
            algo_update(out, a);
        }
        Event::AccountUpdate(a) => {
            out.extend_from_slice(b"\"account_update\",");
            account_update(out, a);
        }
        Event::StreamDropped { of } => {
            out.extend_from_slice(b"\"stream_dropped\",\"of\":");
            u64_(out, of.0);
        }
        Event::StreamDuplicated { of } => {
            out.extend_from_slice(b"\"stream_duplicated\",\"of\":");
            u64_(out, of.0);
        }
        Event::Equity {
            wallet,
            unrealized,
            price,
        } => {
            out.extend_from_slice(b"\"equity\",\"wallet\":");
            dec(out, wallet);
            out.extend_from_slice(b",\"unrealized\":");
            dec(out, unrealized);
            out.extend_from_slice(b",\"price\":");
            dec(out, price);
        }
        Event::Engine(en) => {
            out.extend_from_slice(b"\"engine\",\"kind\":");
            engine(out, en);
        }
        // is_hot keeps these away
        Event::Warning { .. } | Event::External { .. } => {
            unreachable!("cold kind reached the hand-written writer")
        }
    }
}

/// The body of an engine event after `"kind":`.
fn engine(out: &mut Vec<u8>, e: &EngineEvent) {
    match e {
        EngineEvent::Signal {
            id,
            action,
            symbol,
            quantity,
            stop_loss,
            take_profit,
        } => {
            out.extend_from_slice(b"\"signal\",\"id\":");
            str_(out, id);
            out.extend_from_slice(b",\"action\":");
            str_(out, action);
            out.extend_from_slice(b",\"symbol\":");
            str_(out, symbol);
            out.extend_from_slice(b",\"quantity\":");
            dec(out, quantity);
            out.extend_from_slice(b",\"stop_loss\":");
            opt_dec(out, stop_loss);
            out.extend_from_slice(b",\"take_profit\":");
            opt_dec(out, take_profit);
        }
        EngineEvent::SignalResult { id, status, detail } => {
            out.extend_from_slice(b"\"signal_result\",\"id\":");
            str_(out, id);
            out.extend_from_slice(b",\"status\":");
            str_(out, status);
            out.extend_from_slice(b",\"detail\":");
            str_(out, detail);
        }
        EngineEvent::EntryAccepted {
            symbol,
            position_side,
            order_id,
            wants_stop,
        } => {
            out.extend_from_slice(b"\"entry_accepted\",\"symbol\":");
            str_(out, symbol);
            out.extend_from_slice(b",\"position_side\":");
            pos_side_(out, *position_side);
            out.extend_from_slice(b",\"order_id\":");
            u64_(out, order_id.0);
            out.extend_from_slice(b",\"wants_stop\":");
            bool_(out, *wants_stop);
        }
        EngineEvent::PairPlaced {
            pair,
            symbol,
            position_side,
            sl,
            tp,
        } => {
            out.extend_from_slice(b"\"pair_placed\",\"pair\":");
            u64_(out, pair.0);
            out.extend_from_slice(b",\"symbol\":");
            str_(out, symbol);
            out.extend_from_slice(b",\"position_side\":");
            pos_side_(out, *position_side);
            out.extend_from_slice(b",\"sl\":");
            leg(out, sl);
            out.extend_from_slice(b",\"tp\":");
            leg(out, tp);
        }
        EngineEvent::PairDropped {
            pair,
            status,
            reason,
        } => {
            out.extend_from_slice(b"\"pair_dropped\",\"pair\":");
            u64_(out, pair.0);
            out.extend_from_slice(b",\"status\":");
            str_(out, status);
            out.extend_from_slice(b",\"reason\":");
            str_(out, reason);
        }
        _ => unreachable!("cold engine kind reached the hand-written writer"),
    }
}

fn leg(out: &mut Vec<u8>, l: &LegId) {
    match l {
        LegId::Order(o) => {
            out.extend_from_slice(b"{\"order\":");
            u64_(out, o.0);
        }
        LegId::Algo(a) => {
            out.extend_from_slice(b"{\"algo\":");
            u64_(out, a.0);
        }
    }
    out.push(b'}');
}

fn order_update(out: &mut Vec<u8>, o: &OrderUpdate) {
    out.extend_from_slice(b"\"symbol\":");
    str_(out, &o.symbol);
    out.extend_from_slice(b",\"client_order_id\":");
    str_(out, &o.client_order_id);
    out.extend_from_slice(b",\"side\":");
    side_(out, o.side);
    out.extend_from_slice(b",\"order_type\":");
    order_type_(out, o.order_type);
    out.extend_from_slice(b",\"orig_type\":");
    order_type_(out, o.orig_type);
    out.extend_from_slice(b",\"time_in_force\":");
    tif_(out, o.time_in_force);
    out.extend_from_slice(b",\"orig_qty\":");
    dec(out, &o.orig_qty);
    out.extend_from_slice(b",\"price\":");
    dec(out, &o.price);
    out.extend_from_slice(b",\"avg_price\":");
    dec(out, &o.avg_price);
    out.extend_from_slice(b",\"stop_price\":");
    dec(out, &o.stop_price);
    out.extend_from_slice(b",\"exec_type\":");
    exec_type_(out, o.exec_type);
    out.extend_from_slice(b",\"status\":");
    order_status_(out, o.status);
    out.extend_from_slice(b",\"order_id\":");
    u64_(out, o.order_id.0);
    out.extend_from_slice(b",\"last_qty\":");
    dec(out, &o.last_qty);
    out.extend_from_slice(b",\"cum_qty\":");
    dec(out, &o.cum_qty);
    out.extend_from_slice(b",\"last_price\":");
    dec(out, &o.last_price);
    out.extend_from_slice(b",\"commission\":");
    dec(out, &o.commission);
    out.extend_from_slice(b",\"is_maker\":");
    bool_(out, o.is_maker);
    out.extend_from_slice(b",\"reduce_only\":");
    bool_(out, o.reduce_only);
    out.extend_from_slice(b",\"position_side\":");
    pos_side_(out, o.position_side);
    out.extend_from_slice(b",\"close_position\":");
    bool_(out, o.close_position);
    out.extend_from_slice(b",\"realized_pnl\":");
    dec(out, &o.realized_pnl);
    out.extend_from_slice(b",\"expiry_reason\":");
    expiry_(out, o.expiry_reason);
    if let Some(a) = o.from_algo {
        out.extend_from_slice(b",\"from_algo\":");
        u64_(out, a.0);
    }
}

fn algo_update(out: &mut Vec<u8>, a: &AlgoUpdate) {
    out.extend_from_slice(b"\"symbol\":");
    str_(out, &a.symbol);
    out.extend_from_slice(b",\"client_algo_id\":");
    str_(out, &a.client_algo_id);
    out.extend_from_slice(b",\"algo_id\":");
    u64_(out, a.algo_id.0);
    out.extend_from_slice(b",\"order_type\":");
    order_type_(out, a.order_type);
    out.extend_from_slice(b",\"side\":");
    side_(out, a.side);
    out.extend_from_slice(b",\"position_side\":");
    pos_side_(out, a.position_side);
    out.extend_from_slice(b",\"time_in_force\":");
    tif_(out, a.time_in_force);
    out.extend_from_slice(b",\"quantity\":");
    dec(out, &a.quantity);
    out.extend_from_slice(b",\"status\":");
    algo_status_(out, a.status);
    out.extend_from_slice(b",\"actual_order_id\":");
    match a.actual_order_id {
        Some(o) => u64_(out, o.0),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"trigger_price\":");
    dec(out, &a.trigger_price);
    out.extend_from_slice(b",\"price\":");
    dec(out, &a.price);
    out.extend_from_slice(b",\"close_position\":");
    bool_(out, a.close_position);
    out.extend_from_slice(b",\"reduce_only\":");
    bool_(out, a.reduce_only);
    out.extend_from_slice(b",\"working_type\":");
    working(out, a.working_type);
    out.extend_from_slice(b",\"reject_reason\":");
    str_(out, &a.reject_reason);
}

fn account_update(out: &mut Vec<u8>, a: &AccountUpdate) {
    out.extend_from_slice(match a.reason {
        AccountReason::Order => b"\"reason\":\"ORDER\",\"wallet_balance\":" as &[u8],
        AccountReason::FundingFee => b"\"reason\":\"FUNDING_FEE\",\"wallet_balance\":",
        AccountReason::Liquidation => b"\"reason\":\"LIQUIDATION\",\"wallet_balance\":",
    });
    dec(out, &a.wallet_balance);
    out.extend_from_slice(b",\"balance_change\":");
    dec(out, &a.balance_change);
    out.extend_from_slice(b",\"realized_pnl\":");
    dec(out, &a.realized_pnl);
    out.extend_from_slice(b",\"fee\":");
    dec(out, &a.fee);
    out.extend_from_slice(b",\"positions\":[");
    for (i, p) in a.positions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"symbol\":");
        str_(out, &p.symbol);
        out.extend_from_slice(b",\"position_side\":");
        pos_side_(out, p.position_side);
        out.extend_from_slice(b",\"amount\":");
        dec(out, &p.amount);
        out.extend_from_slice(b",\"entry_price\":");
        dec(out, &p.entry_price);
        out.extend_from_slice(b",\"accumulated_realized\":");
        dec(out, &p.accumulated_realized);
        if let Some(l) = &p.liquidation_price {
            out.extend_from_slice(b",\"liquidation_price\":");
            dec(out, l);
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Writes `,"key":` (or `"key":` for the first field) into an object being built.
fn key(out: &mut Vec<u8>, first: &mut bool, k: &[u8]) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(k);
    out.extend_from_slice(b"\":");
}

/// The optional fields shared by both order requests, in their declaration order after `order_type`.
fn new_order(out: &mut Vec<u8>, o: &NewOrder) {
    out.extend_from_slice(b"{\"symbol\":");
    str_(out, &o.symbol);
    out.extend_from_slice(b",\"side\":");
    side_(out, o.side);
    out.extend_from_slice(b",\"order_type\":");
    order_type_(out, o.order_type);
    let f = &mut false;
    if let Some(v) = o.position_side {
        key(out, f, b"position_side");
        pos_side_(out, v);
    }
    opt_dec_field(out, f, b"quantity", &o.quantity);
    opt_dec_field(out, f, b"price", &o.price);
    opt_dec_field(out, f, b"stop_price", &o.stop_price);
    if let Some(v) = o.time_in_force {
        key(out, f, b"time_in_force");
        tif_(out, v);
    }
    opt_bool_field(out, f, b"reduce_only", o.reduce_only);
    opt_bool_field(out, f, b"close_position", o.close_position);
    if let Some(v) = o.working_type {
        key(out, f, b"working_type");
        working(out, v);
    }
    opt_bool_field(out, f, b"price_protect", o.price_protect);
    opt_dec_field(out, f, b"activation_price", &o.activation_price);
    opt_dec_field(out, f, b"callback_rate", &o.callback_rate);
    if let Some(v) = &o.client_order_id {
        key(out, f, b"client_order_id");
        str_(out, v);
    }
    if let Some(v) = o.resp_type {
        key(out, f, b"resp_type");
        quoted(
            out,
            match v {
                RespType::Ack => "ACK",
                RespType::Result => "RESULT",
            },
        );
    }
    out.push(b'}');
}

fn new_algo(out: &mut Vec<u8>, o: &NewAlgoOrder) {
    out.extend_from_slice(b"{\"symbol\":");
    str_(out, &o.symbol);
    out.extend_from_slice(b",\"side\":");
    side_(out, o.side);
    out.extend_from_slice(b",\"order_type\":");
    order_type_(out, o.order_type);
    let f = &mut false;
    if let Some(v) = o.position_side {
        key(out, f, b"position_side");
        pos_side_(out, v);
    }
    opt_dec_field(out, f, b"quantity", &o.quantity);
    opt_dec_field(out, f, b"price", &o.price);
    opt_dec_field(out, f, b"trigger_price", &o.trigger_price);
    if let Some(v) = o.time_in_force {
        key(out, f, b"time_in_force");
        tif_(out, v);
    }
    opt_bool_field(out, f, b"reduce_only", o.reduce_only);
    opt_bool_field(out, f, b"close_position", o.close_position);
    if let Some(v) = o.working_type {
        key(out, f, b"working_type");
        working(out, v);
    }
    opt_bool_field(out, f, b"price_protect", o.price_protect);
    opt_dec_field(out, f, b"activate_price", &o.activate_price);
    opt_dec_field(out, f, b"callback_rate", &o.callback_rate);
    if let Some(v) = &o.client_algo_id {
        key(out, f, b"client_algo_id");
        str_(out, v);
    }
    out.push(b'}');
}

fn opt_dec_field(out: &mut Vec<u8>, f: &mut bool, k: &[u8], v: &Option<Decimal>) {
    if let Some(v) = v {
        key(out, f, k);
        dec(out, v);
    }
}

fn opt_bool_field(out: &mut Vec<u8>, f: &mut bool, k: &[u8], v: Option<bool>) {
    if let Some(v) = v {
        key(out, f, k);
        bool_(out, v);
    }
}

fn api_error(out: &mut Vec<u8>, e: &ApiError) {
    out.extend_from_slice(b"{\"http\":");
    u64_(out, u64::from(e.http));
    out.extend_from_slice(b",\"code\":");
    i64_(out, i64::from(e.code));
    out.extend_from_slice(b",\"msg\":");
    str_(out, &e.msg);
    out.push(b'}');
}

/// Room for a quoted enum spelling (the longest, `"TRAILING_STOP_MARKET"`, has 22 bytes).
const Q: usize = 24;

/// `"s"` zero-padded to [`Q`] bytes, and its length (quotes included), at compile time.
const fn padded(s: &str) -> ([u8; Q], usize) {
    let b = s.as_bytes();
    assert!(b.len() + 2 <= Q, "spelling too long");
    let mut w = [0u8; Q];
    w[0] = b'"';
    let mut i = 0;
    while i < b.len() {
        w[i + 1] = b[i];
        i += 1;
    }
    w[b.len() + 1] = b'"';
    (w, b.len() + 2)
}

/// `fn $name(out, v)`: appends the quoted spelling of `v` as one fixed-size copy of a padded
/// constant (see [`put_first`]) instead of quote, `memcpy`, quote; and `$all`, every variant
/// (the match is exhaustive), for the test that checks each spelling against serde_json. The
/// `as_str` arm takes the spelling from the type's own (const) `as_str`, so it is written once.
macro_rules! spelled {
    ($name:ident, $all:ident, $t:ty, { $($v:path => $s:expr),+ $(,)? }) => {
        fn $name(out: &mut Vec<u8>, v: $t) {
            let (w, n): &([u8; Q], usize) = match v {
                $($v => {
                    const W: ([u8; Q], usize) = padded($s);
                    &W
                })+
            };
            put_first(out, w, *n);
        }
        #[cfg(test)]
        const $all: &[$t] = &[$($v),+];
    };
    // the spelling is the type's own `as_str` (a const fn), evaluated at compile time
    ($name:ident, $all:ident, $t:ty, as_str [ $($v:path),+ $(,)? ]) => {
        spelled!($name, $all, $t, { $($v => ($v.as_str())),+ });
    };
}

spelled!(side_, ALL_SIDES, Side, as_str [
    Side::Buy,
    Side::Sell,
]);
spelled!(pos_side_, ALL_POS_SIDES, PositionSide, as_str [
    PositionSide::Both,
    PositionSide::Long,
    PositionSide::Short,
]);
spelled!(order_type_, ALL_ORDER_TYPES, OrderType, as_str [
    OrderType::Limit,
    OrderType::Market,
    OrderType::Stop,
    OrderType::StopMarket,
    OrderType::TakeProfit,
    OrderType::TakeProfitMarket,
    OrderType::TrailingStopMarket,
    OrderType::Liquidation,
]);
spelled!(tif_, ALL_TIFS, TimeInForce, as_str [
    TimeInForce::Gtc,
    TimeInForce::Ioc,
    TimeInForce::Fok,
    TimeInForce::Gtx,
    TimeInForce::GteGtc,
]);
spelled!(order_status_, ALL_ORDER_STATUSES, OrderStatus, as_str [
    OrderStatus::New,
    OrderStatus::PartiallyFilled,
    OrderStatus::Filled,
    OrderStatus::Canceled,
    OrderStatus::Expired,
    OrderStatus::Rejected,
]);
spelled!(algo_status_, ALL_ALGO_STATUSES, AlgoStatus, as_str [
    AlgoStatus::New,
    AlgoStatus::Triggering,
    AlgoStatus::Triggered,
    AlgoStatus::Finished,
    AlgoStatus::Canceled,
    AlgoStatus::Rejected,
    AlgoStatus::Expired,
]);
spelled!(exec_type_, ALL_EXEC_TYPES, ExecType, {
    ExecType::New => "NEW",
    ExecType::Trade => "TRADE",
    ExecType::Canceled => "CANCELED",
    ExecType::Expired => "EXPIRED",
    ExecType::Calculated => "CALCULATED",
});
spelled!(expiry_, ALL_EXPIRY_REASONS, ExpiryReason, {
    ExpiryReason::None => "None",
    ExpiryReason::IocRemainder => "IocRemainder",
    ExpiryReason::ReduceOnly => "ReduceOnly",
    ExpiryReason::Liquidation => "Liquidation",
    ExpiryReason::GteUnsatisfied => "GteUnsatisfied",
    ExpiryReason::LegacyTriggered => "LegacyTriggered",
    ExpiryReason::MarketRemainder => "MarketRemainder",
});
spelled!(working, ALL_WORKING_TYPES, WorkingType, {
    WorkingType::ContractPrice => "CONTRACT_PRICE",
    WorkingType::MarkPrice => "MARK_PRICE",
});
spelled!(endpoint_, ALL_ENDPOINTS, Endpoint, {
    Endpoint::NewOrder => "NewOrder",
    Endpoint::NewAlgoOrder => "NewAlgoOrder",
    Endpoint::CancelOrder => "CancelOrder",
    Endpoint::CancelAlgoOrder => "CancelAlgoOrder",
    Endpoint::QueryOrder => "QueryOrder",
    Endpoint::QueryAlgoOrder => "QueryAlgoOrder",
    Endpoint::OpenOrders => "OpenOrders",
    Endpoint::OpenAlgoOrders => "OpenAlgoOrders",
    Endpoint::CancelAll => "CancelAll",
    Endpoint::CancelAllAlgo => "CancelAllAlgo",
    Endpoint::PositionRisk => "PositionRisk",
    Endpoint::TickerPrice => "TickerPrice",
});

fn bool_(out: &mut Vec<u8>, b: bool) {
    // one constant-size append per arm (a slice chosen first would be a `memcpy` call)
    if b {
        out.extend_from_slice(b"true");
    } else {
        out.extend_from_slice(b"false");
    }
}

/// A string known to need no escaping (enum spellings), quoted.
fn quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// A JSON string with serde_json's escaping: `"` `\\` and control bytes; `\b \t \n \f \r` short,
/// the other control bytes as `\u00xx` (lower-case hex); everything else (0x7f, non-ASCII) as is.
fn str_(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n == 0 {
        // unset texts (a reject reason, a detail)
        out.extend_from_slice(b"\"\"");
        return;
    }
    if (4..=SHORT).contains(&n) {
        // the common case (symbols, ids, statuses): words of the string checked and copied into
        // a quoted window in one pass (8 bytes a step, the last step overlapping; 4 for under
        // 8 bytes), then one fixed-size append; a string that needs escaping goes on below
        let mut w = [0u8; SHORT + 8];
        w[0] = b'"';
        let dirty = if n < 8 {
            let lo: [u8; 4] = bytes[..4].try_into().expect("4 bytes");
            let hi: [u8; 4] = bytes[n - 4..].try_into().expect("4 bytes");
            w[1..5].copy_from_slice(&lo);
            w[n - 3..n + 1].copy_from_slice(&hi);
            needs_escape(
                u64::from(u32::from_le_bytes(hi)) << 32 | u64::from(u32::from_le_bytes(lo)),
            )
        } else {
            let mut dirty = false;
            let mut at = 0;
            while at + 8 < n {
                let c: [u8; 8] = bytes[at..at + 8].try_into().expect("8 bytes");
                dirty |= needs_escape(u64::from_le_bytes(c));
                w[at + 1..at + 9].copy_from_slice(&c);
                at += 8;
            }
            let c: [u8; 8] = bytes[n - 8..].try_into().expect("8 bytes");
            w[n - 7..n + 1].copy_from_slice(&c);
            dirty | needs_escape(u64::from_le_bytes(c))
        };
        if !dirty {
            w[n + 1] = b'"';
            put_first(out, &w, n + 2);
            return;
        }
    }
    out.push(b'"');
    if clean(bytes) {
        // the common case (ids, symbols, messages): no byte needs escaping
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Strings up to this length take [`str_`]'s one-pass path.
const SHORT: usize = 40;

/// Whether some byte of the word `x` needs escaping in a JSON string (`"`, `\\` or below 0x20).
#[inline(always)]
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // non-zero exactly when some byte of `x` is below `n` (n <= 0x80): the classic has-less test
    let has_less = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    has_less(x, 0x20) | has_less(x ^ (ONES * 0x22), 1) | has_less(x ^ (ONES * 0x5c), 1) != 0
}

/// Whether no byte of `s` needs escaping in a JSON string (no `"`, `\\` or byte below 0x20):
/// eight bytes a step (SWAR), the tail byte by byte.
fn clean(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // non-zero exactly when some byte of `x` is below `n` (n <= 0x80): the classic has-less test
    let has_less = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let bad = |c: &[u8]| {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        has_less(x, 0x20) | has_less(x ^ (ONES * 0x22), 1) | has_less(x ^ (ONES * 0x5c), 1) != 0
    };
    if s.len() < 8 {
        if s.len() < 4 {
            return s.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\');
        }
        // 4..=7 bytes (symbols): the first four and the last four (overlapping) in one word
        let n = s.len();
        let lo = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let hi = u32::from_le_bytes([s[n - 4], s[n - 3], s[n - 2], s[n - 1]]);
        let w = (u64::from(hi) << 32) | u64::from(lo);
        return !bad(&w.to_le_bytes());
    }
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        if bad(c) {
            return false;
        }
    }
    // the tail: the last eight bytes (overlapping bytes already seen, which passed)
    chunks.remainder().is_empty() || !bad(&s[s.len() - 8..])
}

/// "00" to "99": two digits per division.
pub(crate) const DIGITS2: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// 10^0 to 10^19.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// An unsigned integer in decimal, as `Display` writes it (no formatting machinery).
pub(crate) fn u64_(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 2 * DIGITS];
    let i = put_u64(&mut buf[..DIGITS], v);
    put_digits(out, &buf, i);
}

/// Writes the digits of `v` right-aligned at the end of `buf` (`0` as one digit), two digits
/// per division; returns where they start. `buf` holds at least 20 bytes.
#[inline]
fn put_u64(buf: &mut [u8], mut v: u64) -> usize {
    let mut i = buf.len();
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[r..r + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

/// A signed integer in decimal, as `Display` writes it.
pub(crate) fn i64_(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    u64_(out, v.unsigned_abs());
}

fn opt_dec(out: &mut Vec<u8>, d: &Option<Decimal>) {
    match d {
        Some(d) => dec(out, d),
        None => out.extend_from_slice(b"null"),
    }
}

/// A Decimal as rust_decimal's serde (`serde-str`) writes it: a JSON string of the plain decimal
/// form with all `scale` fractional digits, `-` when the sign bit is set (also on a zero).
fn dec(out: &mut Vec<u8>, d: &Decimal) {
    out.push(b'"');
    dec_plain(out, d);
    out.push(b'"');
}

/// A Decimal in its plain form without quotes: the bytes of its `Display` (`to_string`), all
/// `scale` fractional digits, `-` when the sign bit is set (also on a zero). The mantissa's
/// digits go right-aligned into a buffer of `0`s (two a division), so the zeros a small
/// mantissa needs after the point are already there; then two or three appends.
pub(crate) fn dec_plain(out: &mut Vec<u8>, d: &Decimal) {
    let m = d.mantissa().unsigned_abs();
    let scale = d.scale() as usize;
    if m < 10 && scale == 0 && !d.is_sign_negative() {
        // a one-digit integer (most often the zeros of unset fields): one byte
        out.push(b'0' + m as u8);
        return;
    }
    if let (Ok(v), true) = (u64::try_from(m), scale < POW10_U64.len()) {
        // the common case: integer and fraction apart, written right-aligned into one buffer
        // pre-filled with `0`s (the fraction's leading zeros), then one fixed-size append of
        // `DEC` bytes (at most 22 are the number's: sign, 20 digits and the point, or sign,
        // `0.` and 19 decimals)
        const END: usize = 48;
        const DEC: usize = 32;
        let mut buf = [b'0'; END + DEC];
        let end = END;
        let mut start = if scale == 0 {
            put_u64(&mut buf[..end], v)
        } else {
            let p = POW10_U64[scale];
            put_u64(&mut buf[..end], v % p);
            let dot = end - scale - 1;
            buf[dot] = b'.';
            put_u64(&mut buf[..dot], v / p)
        };
        if d.is_sign_negative() {
            start -= 1;
            buf[start] = b'-';
        }
        let w: &[u8; DEC] = buf[start..start + DEC]
            .try_into()
            .expect("a DEC-byte window");
        put_first(out, w, end - start);
        return;
    }
    // 29 digits at most (96-bit mantissa), scale 28 at most
    let mut buf = [b'0'; 32];
    let end = buf.len();
    let start = match u64::try_from(m) {
        Ok(v) => put_u64(&mut buf, v),
        Err(_) => {
            let mut v = m;
            let mut i = end;
            while v != 0 {
                i -= 1;
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            i
        }
    };
    if d.is_sign_negative() {
        out.push(b'-');
    }
    let n = end - start;
    if scale == 0 {
        out.extend_from_slice(&buf[start..]);
    } else if n > scale {
        out.extend_from_slice(&buf[start..end - scale]);
        out.push(b'.');
        out.extend_from_slice(&buf[end - scale..]);
    } else {
        out.extend_from_slice(b"0.");
        out.extend_from_slice(&buf[end - scale..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dec_plain`, `u64_` and `i64_` write exactly what `Display` writes (the report tables
    /// rely on it), including signed zeros, every scale and the widest mantissas.
    #[test]
    fn plain_numbers_match_display() {
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut out = Vec::new();
        let mut cases = vec![
            Decimal::ZERO,
            -Decimal::ZERO,
            Decimal::new(-0, 3).set_sign_negative_ret(),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
        ];
        for _ in 0..20_000 {
            let hi = next();
            let lo = next();
            let m = (i128::from(hi as i64) << 32 | i128::from(lo as u32)) >> (hi % 64);
            let m = m.clamp(-(1i128 << 95), (1i128 << 95) - 1);
            cases.push(Decimal::from_i128_with_scale(m, (lo % 29) as u32));
        }
        for d in cases {
            out.clear();
            dec_plain(&mut out, &d);
            assert_eq!(std::str::from_utf8(&out).unwrap(), d.to_string(), "{d:?}");
        }
        for _ in 0..20_000 {
            let v = next() >> (next() % 64);
            out.clear();
            u64_(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
            let s = v as i64;
            out.clear();
            i64_(&mut out, s);
            assert_eq!(std::str::from_utf8(&out).unwrap(), s.to_string());
        }
        for v in [0, u64::MAX] {
            out.clear();
            u64_(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
        for v in [0, i64::MIN, i64::MAX, -1] {
            out.clear();
            i64_(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
    }

    /// `str_` writes what serde_json writes for any string: every escaped byte at every
    /// position of the 8-byte steps and the tail, non-ASCII and 0x7f untouched.
    #[test]
    fn strings_match_serde_json() {
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€',
            ' ', ',',
        ];
        let mut out = Vec::new();
        for len in 0..50 {
            for at in 0..len {
                for c in specials {
                    let s: String = (0..len)
                        .map(|i| {
                            if i == at {
                                c
                            } else {
                                (b'a' + (i % 26) as u8) as char
                            }
                        })
                        .collect();
                    out.clear();
                    str_(&mut out, &s);
                    assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
                }
            }
        }
        for s in [
            "",
            "ocoE-lfx7k3o22-4dh-4er",
            "orderId=8389765000 status=Filled",
            "a\"b\\c\u{0}",
        ] {
            out.clear();
            str_(&mut out, s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

    /// `Stamps` write exactly `u64_`/`i64_`'s digits whatever comes: consecutive seqs across
    /// every carry (9 → 10, 99 → 100, …, up to u64::MAX), repeats, jumps back and forth, and
    /// times equal to the last, new, negative or extreme.
    #[test]
    fn stamps_match_plain_digits() {
        let mut st = Stamps::default();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        let mut check_seq = |st: &mut Stamps, v: u64| {
            got.clear();
            want.clear();
            st.seq(&mut got, v);
            u64_(&mut want, v);
            assert_eq!(got, want, "seq {v}");
        };
        for v in 0..2_000 {
            check_seq(&mut st, v);
        }
        for start in [9_998, 99_990, 999_999_990, u64::MAX - 20, 7, 0, 12_345] {
            for v in start..start.saturating_add(20) {
                check_seq(&mut st, v);
                check_seq(&mut st, v);
            }
        }
        check_seq(&mut st, u64::MAX);
        check_seq(&mut st, 3);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for v in [
            1_680_307_260_075,
            1_680_307_260_075,
            1_680_307_260_100,
            -1,
            -1,
            0,
            i64::MIN,
            i64::MAX,
            i64::MIN,
            42,
        ] {
            got.clear();
            want.clear();
            st.time(&mut got, v);
            i64_(&mut want, v);
            assert_eq!(got, want, "time {v}");
        }
    }

    /// Every spelled enum writes what serde_json writes for each of its variants (the lists
    /// come from the exhaustive matches themselves).
    #[test]
    fn spellings_match_serde_json() {
        fn check<T: serde::Serialize + Copy + std::fmt::Debug>(all: &[T], f: fn(&mut Vec<u8>, T)) {
            for &v in all {
                let mut out = b"x".to_vec();
                f(&mut out, v);
                let mut want = b"x".to_vec();
                want.extend(serde_json::to_vec(&v).unwrap());
                assert_eq!(out, want, "{v:?}");
            }
        }
        check(ALL_SIDES, side_);
        check(ALL_POS_SIDES, pos_side_);
        check(ALL_ORDER_TYPES, order_type_);
        check(ALL_TIFS, tif_);
        check(ALL_ORDER_STATUSES, order_status_);
        check(ALL_ALGO_STATUSES, algo_status_);
        check(ALL_EXEC_TYPES, exec_type_);
        check(ALL_EXPIRY_REASONS, expiry_);
        check(ALL_WORKING_TYPES, working);
        check(ALL_ENDPOINTS, endpoint_);
    }

    trait SignNeg {
        fn set_sign_negative_ret(self) -> Self;
    }
    impl SignNeg for Decimal {
        fn set_sign_negative_ret(mut self) -> Self {
            self.set_sign_negative(true);
            self
        }
    }
}
