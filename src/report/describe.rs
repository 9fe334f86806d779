//! One-line descriptions of events, for violation trails.

use super::{bdec, dec, transport_name};
use crate::api::{NewAlgoOrder, NewOrder};
use crate::events::{
    AccountUpdate, AlgoUpdate, CallOutcome, EngineEvent, Event, LegId, OrderUpdate, RequestParams,
};
use crate::types::{ExpiryReason, PositionSide};
use rust_decimal::Decimal;
use serde::Serialize;

/// The serde spelling of a unit enum value (`FILLED`, `TRADE`, `FUNDING_FEE`, …).
pub(crate) fn sname<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn leg(l: &LegId) -> String {
    match l {
        LegId::Order(id) => format!("order {id}"),
        LegId::Algo(id) => format!("algo {id}"),
    }
}

fn ps(p: PositionSide) -> &'static str {
    p.as_str()
}

fn opt_dec(out: &mut Vec<String>, key: &str, v: Option<Decimal>) {
    if let Some(v) = v {
        out.push(format!("{key}={}", dec(v)));
    }
}

fn opt_bool(out: &mut Vec<String>, key: &str, v: Option<bool>) {
    if let Some(v) = v {
        out.push(format!("{key}={v}"));
    }
}

fn new_order(o: &NewOrder) -> String {
    let mut p = vec![
        o.symbol.to_string(),
        o.side.as_str().into(),
        o.order_type.as_str().to_string(),
    ];
    if let Some(x) = o.position_side {
        p.push(format!("ps={}", x.as_str()));
    }
    opt_dec(&mut p, "qty", o.quantity);
    opt_dec(&mut p, "price", o.price);
    opt_dec(&mut p, "stop", o.stop_price);
    if let Some(t) = o.time_in_force {
        p.push(format!("tif={}", t.as_str()));
    }
    opt_bool(&mut p, "reduceOnly", o.reduce_only);
    opt_bool(&mut p, "closePosition", o.close_position);
    if let Some(w) = o.working_type {
        p.push(format!("wt={}", sname(&w)));
    }
    opt_dec(&mut p, "activation", o.activation_price);
    opt_dec(&mut p, "callback", o.callback_rate);
    if let Some(c) = &o.client_order_id {
        p.push(format!("cid={c}"));
    }
    p.join(" ")
}

fn new_algo(o: &NewAlgoOrder) -> String {
    let mut p = vec![
        o.symbol.to_string(),
        o.side.as_str().into(),
        o.order_type.as_str().to_string(),
    ];
    if let Some(x) = o.position_side {
        p.push(format!("ps={}", x.as_str()));
    }
    opt_dec(&mut p, "qty", o.quantity);
    opt_dec(&mut p, "price", o.price);
    opt_dec(&mut p, "trigger", o.trigger_price);
    if let Some(t) = o.time_in_force {
        p.push(format!("tif={}", t.as_str()));
    }
    opt_bool(&mut p, "reduceOnly", o.reduce_only);
    opt_bool(&mut p, "closePosition", o.close_position);
    if let Some(w) = o.working_type {
        p.push(format!("wt={}", sname(&w)));
    }
    opt_dec(&mut p, "activate", o.activate_price);
    opt_dec(&mut p, "callback", o.callback_rate);
    if let Some(c) = &o.client_algo_id {
        p.push(format!("caid={c}"));
    }
    p.join(" ")
}

fn order_update(o: &OrderUpdate) -> String {
    let ty = if o.order_type == o.orig_type {
        o.order_type.as_str().to_string()
    } else {
        format!("{} (ot {})", o.order_type.as_str(), o.orig_type.as_str())
    };
    let mut s = format!(
        "ORDER_TRADE_UPDATE order {} {} {} {} ps={} x={} X={}",
        o.order_id,
        o.symbol,
        o.side.as_str(),
        ty,
        ps(o.position_side),
        sname(&o.exec_type),
        sname(&o.status),
    );
    if !o.last_qty.is_zero() {
        s.push_str(&format!(
            " last {}@{} fee={} rp={}",
            dec(o.last_qty),
            dec(o.last_price),
            bdec(o.commission),
            bdec(o.realized_pnl)
        ));
    }
    s.push_str(&format!(" filled {}/{}", dec(o.cum_qty), dec(o.orig_qty)));
    if !o.stop_price.is_zero() {
        s.push_str(&format!(" stop={}", dec(o.stop_price)));
    }
    if o.reduce_only {
        s.push_str(" reduceOnly");
    }
    if o.close_position {
        s.push_str(" closePosition");
    }
    if o.expiry_reason != ExpiryReason::None {
        s.push_str(&format!(" er={}", o.expiry_reason as u8));
    }
    if let Some(a) = o.from_algo {
        s.push_str(&format!(" from algo {a}"));
    }
    s
}

fn algo_update(a: &AlgoUpdate) -> String {
    let mut s = format!(
        "ALGO_UPDATE algo {} {} {} {} ps={} X={} qty={} trigger={}",
        a.algo_id,
        a.symbol,
        a.side.as_str(),
        a.order_type.as_str(),
        ps(a.position_side),
        sname(&a.status),
        dec(a.quantity),
        dec(a.trigger_price),
    );
    if !a.price.is_zero() {
        s.push_str(&format!(" price={}", dec(a.price)));
    }
    if a.reduce_only {
        s.push_str(" reduceOnly");
    }
    if a.close_position {
        s.push_str(" closePosition");
    }
    if let Some(o) = a.actual_order_id {
        s.push_str(&format!(" → order {o}"));
    }
    if !a.reject_reason.is_empty() {
        s.push_str(&format!(" rm=\"{}\"", a.reject_reason));
    }
    s
}

fn account_update(u: &AccountUpdate) -> String {
    let mut s = format!(
        "ACCOUNT_UPDATE {} wallet={}",
        sname(&u.reason),
        bdec(u.wallet_balance)
    );
    if !u.realized_pnl.is_zero() {
        s.push_str(&format!(" realized={}", bdec(u.realized_pnl)));
    }
    if !u.fee.is_zero() {
        s.push_str(&format!(" fee={}", bdec(u.fee)));
    }
    if !u.balance_change.is_zero() {
        s.push_str(&format!(" funding={}", bdec(u.balance_change)));
    }
    for p in &u.positions {
        s.push_str(&format!(
            "; {} {} {}@{}",
            p.symbol,
            ps(p.position_side),
            dec(p.amount),
            bdec(p.entry_price)
        ));
        if let Some(liq) = p.liquidation_price {
            s.push_str(&format!(" liq {}", dec(liq)));
        }
    }
    s
}

fn engine(e: &EngineEvent) -> String {
    match e {
        EngineEvent::Signal {
            id,
            action,
            symbol,
            quantity,
            stop_loss,
            take_profit,
        } => {
            let mut s = format!("signal {id}: {action} {} {symbol}", dec(*quantity));
            if let Some(sl) = stop_loss {
                s.push_str(&format!(" sl={}", dec(*sl)));
            }
            if let Some(tp) = take_profit {
                s.push_str(&format!(" tp={}", dec(*tp)));
            }
            s
        }
        EngineEvent::SignalResult { id, status, detail } => {
            if detail.is_empty() {
                format!("signal {id} → {status}")
            } else {
                format!("signal {id} → {status}: {detail}")
            }
        }
        EngineEvent::EntryAccepted {
            symbol,
            position_side,
            order_id,
            wants_stop,
        } => format!(
            "entry accepted: order {order_id} {symbol} {}{}",
            ps(*position_side),
            if *wants_stop { " (wants stop)" } else { "" }
        ),
        EngineEvent::PairPlaced {
            pair,
            symbol,
            position_side,
            sl,
            tp,
        } => format!(
            "pair {pair} placed: {symbol} {} SL {} / TP {}",
            ps(*position_side),
            leg(sl),
            leg(tp)
        ),
        EngineEvent::PairDropped {
            pair,
            status,
            reason,
        } => format!("pair {pair} dropped: {status} ({reason})"),
        EngineEvent::CancelOther {
            pair,
            filled,
            cancel,
        } => format!(
            "pair {pair}: {} filled, cancelling {}",
            leg(filled),
            leg(cancel)
        ),
        EngineEvent::MonitorStopped { reason } => format!("monitor stopped: {reason}"),
        EngineEvent::Restart => "engine restarted (state lost)".to_string(),
        EngineEvent::Note { text } => format!("note: {text}"),
    }
}

/// One line describing an event, for violation trails and other compact listings.
pub fn describe_event(ev: &Event) -> String {
    let s = match ev {
        Event::Request {
            call,
            endpoint,
            sent_ms: _,
            params,
        } => {
            let p = match params {
                RequestParams::Order(o) => new_order(o),
                RequestParams::Algo(a) => new_algo(a),
                RequestParams::Other(q) => q.clone(),
            };
            if p.is_empty() {
                format!("call {call}: {}", endpoint.path())
            } else {
                format!("call {call}: {} {p}", endpoint.path())
            }
        }
        Event::Response {
            call,
            endpoint,
            outcome,
        } => match outcome {
            CallOutcome::Ok(s) => format!("call {call} {} → ok {s}", endpoint.path()),
            CallOutcome::Rejected(e) => format!(
                "call {call} {} → rejected {} {}",
                endpoint.path(),
                e.code,
                e.msg
            ),
            CallOutcome::Fault { error, reached } => format!(
                "call {call} {} → {} ({})",
                endpoint.path(),
                transport_name(*error),
                if *reached {
                    "reached the exchange"
                } else {
                    "lost before the exchange"
                }
            ),
        },
        Event::OrderTradeUpdate(o) => order_update(o),
        Event::AlgoUpdate(a) => algo_update(a),
        Event::AccountUpdate(u) => account_update(u),
        Event::StreamDropped { of } => format!("stream event {of} dropped"),
        Event::StreamDuplicated { of } => format!("stream event {of} delivered twice"),
        Event::Equity {
            wallet,
            unrealized,
            price,
        } => format!(
            "equity wallet={} unrealized={} price={}",
            dec(*wallet),
            dec(*unrealized),
            dec(*price)
        ),
        Event::Warning { code, text } => format!("warning {code}: {text}"),
        Event::External {
            index,
            act,
            target,
            outcome,
            acted,
        } => {
            let noop = if *acted { "" } else { " (no-op)" };
            format!("behind the engine's back: external[{index}] {act} {target}: {outcome}{noop}")
        }
        Event::Engine(e) => engine(e),
    };
    // one line, whatever the free-text fields held
    if s.contains(['\n', '\r']) {
        s.replace(['\n', '\r'], " ")
    } else {
        s
    }
}
