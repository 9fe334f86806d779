//! `orders.csv` (one row per distinct order or algo order, last status wins) and `fills.csv`
//! (one row per TRADE/CALCULATED execution), built from the event log only.

use super::describe::sname;
use crate::events::{Event, EventLog, ExecType};
use crate::types::{fmt_time_ms, AlgoId, OrderId, TimeMs};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Columns of `orders.csv`.
pub const ORDER_COLUMNS: [&str; 22] = [
    "id",
    "kind",
    "symbol",
    "client_id",
    "type",
    "orig_type",
    "side",
    "position_side",
    "qty",
    "price",
    "trigger_price",
    "reduce_only",
    "close_position",
    "time_in_force",
    "created",
    "created_ms",
    "updated",
    "status",
    "filled_qty",
    "avg_price",
    "from_algo",
    "child_order",
];

/// Columns of `fills.csv`.
pub const FILL_COLUMNS: [&str; 15] = [
    "time",
    "time_ms",
    "seq",
    "order_id",
    "symbol",
    "side",
    "position_side",
    "type",
    "orig_type",
    "exec",
    "qty",
    "price",
    "fee",
    "realized_pnl",
    "maker",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Order(OrderId),
    Algo(AlgoId),
}

#[derive(Debug, Clone, Default)]
struct Row {
    first_seq: u64,
    symbol: String,
    client_id: String,
    otype: String,
    orig_type: String,
    side: String,
    position_side: String,
    qty: Decimal,
    price: Decimal,
    trigger: Decimal,
    reduce_only: bool,
    close_position: bool,
    tif: String,
    created: TimeMs,
    updated: TimeMs,
    status: String,
    filled: Option<Decimal>,
    avg: Option<Decimal>,
    from_algo: Option<AlgoId>,
    child: Option<OrderId>,
}

impl Row {
    fn new(first_seq: u64, created: TimeMs) -> Row {
        Row {
            first_seq,
            created,
            updated: created,
            ..Row::default()
        }
    }
}

fn to_io(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
}

fn finish(w: csv::Writer<Vec<u8>>) -> std::io::Result<String> {
    let bytes = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

/// Money or an average price as Binance prints it: at most 8 decimals, rounded half away from
/// zero, the scale otherwise kept (`13.04000000`, not `13.039999999980`).
fn b8(d: Decimal) -> String {
    d.round_dp_with_strategy(
        super::BINANCE_DP,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
    .to_string()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// `orders.csv`: one row per distinct order (orderId) or algo order (algoId), in the order they
/// first appear in the log; the last ORDER_TRADE_UPDATE / ALGO_UPDATE gives the final state. An
/// algo row's filled quantity and average price are its child order's.
pub fn orders_csv(log: &EventLog) -> std::io::Result<String> {
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    for r in log.records() {
        match &r.event {
            Event::OrderTradeUpdate(o) => {
                let row = rows
                    .entry(Key::Order(o.order_id))
                    .or_insert_with(|| Row::new(r.seq.0, r.time_ms));
                row.symbol = o.symbol.clone();
                row.client_id = o.client_order_id.clone();
                row.otype = o.order_type.as_str().to_string();
                row.orig_type = o.orig_type.as_str().to_string();
                row.side = o.side.as_str().to_string();
                row.position_side = o.position_side.as_str().to_string();
                row.qty = o.orig_qty;
                row.price = o.price;
                row.trigger = o.stop_price;
                row.reduce_only = o.reduce_only;
                row.close_position = o.close_position;
                row.tif = o.time_in_force.as_str().to_string();
                row.updated = r.time_ms;
                row.status = sname(&o.status);
                row.filled = Some(o.cum_qty);
                row.avg = Some(o.avg_price);
                if o.from_algo.is_some() {
                    row.from_algo = o.from_algo;
                }
            }
            Event::AlgoUpdate(a) => {
                let row = rows
                    .entry(Key::Algo(a.algo_id))
                    .or_insert_with(|| Row::new(r.seq.0, r.time_ms));
                row.symbol = a.symbol.clone();
                row.client_id = a.client_algo_id.clone();
                row.otype = a.order_type.as_str().to_string();
                row.orig_type = a.order_type.as_str().to_string();
                row.side = a.side.as_str().to_string();
                row.position_side = a.position_side.as_str().to_string();
                row.qty = a.quantity;
                row.price = a.price;
                row.trigger = a.trigger_price;
                row.reduce_only = a.reduce_only;
                row.close_position = a.close_position;
                row.tif = a.time_in_force.as_str().to_string();
                row.updated = r.time_ms;
                row.status = sname(&a.status);
                if a.actual_order_id.is_some() {
                    row.child = a.actual_order_id;
                }
            }
            _ => {}
        }
    }
    // Children named only by their order's from_algo still link back to the algo row.
    let links: Vec<(AlgoId, OrderId)> = rows
        .iter()
        .filter_map(|(k, r)| match (k, r.from_algo) {
            (Key::Order(id), Some(a)) => Some((a, *id)),
            _ => None,
        })
        .collect();
    for (a, o) in links {
        if let Some(row) = rows.get_mut(&Key::Algo(a)) {
            row.child.get_or_insert(o);
        }
    }
    let fills: BTreeMap<OrderId, (Option<Decimal>, Option<Decimal>)> = rows
        .iter()
        .filter_map(|(k, r)| match k {
            Key::Order(id) => Some((*id, (r.filled, r.avg))),
            Key::Algo(_) => None,
        })
        .collect();
    let mut ordered: Vec<(&Key, &Row)> = rows.iter().collect();
    ordered.sort_by_key(|(k, r)| (r.first_seq, **k));

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(ORDER_COLUMNS).map_err(to_io)?;
    for (k, r) in ordered {
        let (id, kind, filled, avg) = match k {
            Key::Order(id) => (id.0, "order", r.filled, r.avg),
            Key::Algo(id) => {
                let (f, a) = r
                    .child
                    .and_then(|c| fills.get(&c).copied())
                    .unwrap_or((None, None));
                (id.0, "algo", f, a)
            }
        };
        w.write_record([
            id.to_string(),
            kind.to_string(),
            r.symbol.clone(),
            r.client_id.clone(),
            r.otype.clone(),
            r.orig_type.clone(),
            r.side.clone(),
            r.position_side.clone(),
            r.qty.to_string(),
            r.price.to_string(),
            r.trigger.to_string(),
            r.reduce_only.to_string(),
            r.close_position.to_string(),
            r.tif.clone(),
            fmt_time_ms(r.created.0),
            r.created.0.to_string(),
            fmt_time_ms(r.updated.0),
            r.status.clone(),
            opt(filled),
            opt(avg.map(b8)),
            opt(r.from_algo),
            opt(r.child),
        ])
        .map_err(to_io)?;
    }
    finish(w)
}

/// `fills.csv`: one row per TRADE or CALCULATED (liquidation) ORDER_TRADE_UPDATE, in log order.
pub fn fills_csv(log: &EventLog) -> std::io::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(FILL_COLUMNS).map_err(to_io)?;
    for r in log.records() {
        let Event::OrderTradeUpdate(o) = &r.event else {
            continue;
        };
        if !matches!(o.exec_type, ExecType::Trade | ExecType::Calculated) {
            continue;
        }
        w.write_record([
            fmt_time_ms(r.time_ms.0),
            r.time_ms.0.to_string(),
            r.seq.0.to_string(),
            o.order_id.to_string(),
            o.symbol.clone(),
            o.side.as_str().to_string(),
            o.position_side.as_str().to_string(),
            o.order_type.as_str().to_string(),
            o.orig_type.as_str().to_string(),
            sname(&o.exec_type),
            o.last_qty.to_string(),
            o.last_price.to_string(),
            b8(o.commission),
            b8(o.realized_pnl),
            o.is_maker.to_string(),
        ])
        .map_err(to_io)?;
    }
    finish(w)
}
