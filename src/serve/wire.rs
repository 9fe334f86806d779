//! Binance's wire JSON: request parameters → the venue's request types, and the venue's answers
//! and events → Binance's field names and shapes (prices and quantities as strings, ids as JSON
//! integers, times in ms). Pure functions; no I/O.

use crate::api::*;
use crate::events::{AccountUpdate, AlgoUpdate, OrderUpdate};
use crate::types::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Request parameters, merged from the query string and the form body (first value wins).
pub type Params = BTreeMap<String, String>;

/// `{"code":N,"msg":"…"}` with its HTTP status.
pub fn err(http: u16, code: i32, msg: impl Into<String>) -> ApiError {
    ApiError {
        http,
        code,
        msg: msg.into(),
    }
}

/// -1102 for a missing mandatory parameter.
pub fn mandatory(name: &str) -> ApiError {
    err(
        400,
        -1102,
        format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

/// -1102 when neither of two alternative parameters was sent.
pub fn one_of(a: &str, b: &str) -> ApiError {
    err(
        400,
        -1102,
        format!("Param '{a}' or '{b}' must be sent, but both were empty/null!"),
    )
}

fn invalid(name: &str) -> ApiError {
    err(
        400,
        -1130,
        format!("Data sent for parameter '{name}' is not valid."),
    )
}

/// The value of `name`, if sent and not empty.
pub fn get<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|s| !s.is_empty())
}

/// A mandatory parameter.
pub fn req<'a>(p: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    get(p, name).ok_or_else(|| mandatory(name))
}

fn enum_of<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(Value::String(s.to_string())).ok()
}

fn side(p: &Params) -> Result<Side, ApiError> {
    enum_of(req(p, "side")?).ok_or_else(|| err(400, -1117, "Invalid side."))
}

fn order_type(p: &Params) -> Result<OrderType, ApiError> {
    enum_of(req(p, "type")?).ok_or_else(|| err(400, -1116, "Invalid orderType."))
}

fn opt_enum<T: serde::de::DeserializeOwned>(
    p: &Params,
    name: &str,
    bad: impl Fn() -> ApiError,
) -> Result<Option<T>, ApiError> {
    match get(p, name) {
        None => Ok(None),
        Some(s) => enum_of(s).map(Some).ok_or_else(bad),
    }
}

/// A decimal parameter (`48000.0`, `0.010`, also python's `1e-05`).
pub fn dec(p: &Params, name: &str) -> Result<Option<Decimal>, ApiError> {
    match get(p, name) {
        None => Ok(None),
        // kept as sent (scale included): the venue's precision checks see what the client sent
        Some(s) => Decimal::from_str(s)
            .or_else(|_| Decimal::from_scientific(s).map(|d| d.normalize()))
            .map(Some)
            .map_err(|_| {
                err(
                    400,
                    -1100,
                    format!(
                        "Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
                    ),
                )
            }),
    }
}

/// A boolean parameter: `true`/`True`/`TRUE` or `false`/`False`/`FALSE`.
pub fn boolean(p: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match get(p, name) {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(name)),
    }
}

/// An integer parameter.
pub fn int(p: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match get(p, name) {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| mandatory(name)),
    }
}

fn tif(p: &Params) -> Result<Option<TimeInForce>, ApiError> {
    opt_enum(p, "timeInForce", || err(400, -1115, "Invalid timeInForce."))
}

fn pos_side(p: &Params) -> Result<Option<PositionSide>, ApiError> {
    opt_enum(p, "positionSide", || invalid("positionSide"))
}

fn working(p: &Params) -> Result<Option<WorkingType>, ApiError> {
    opt_enum(p, "workingType", || invalid("workingType"))
}

/// POST /fapi/v1/order parameters → [`NewOrder`].
pub fn new_order(p: &Params) -> Result<NewOrder, ApiError> {
    let symbol = req(p, "symbol")?;
    let mut o = NewOrder::new(symbol, side(p)?, order_type(p)?);
    o.position_side = pos_side(p)?;
    o.quantity = dec(p, "quantity")?;
    o.price = dec(p, "price")?;
    o.stop_price = dec(p, "stopPrice")?;
    o.time_in_force = tif(p)?;
    o.reduce_only = boolean(p, "reduceOnly")?;
    o.close_position = boolean(p, "closePosition")?;
    o.working_type = working(p)?;
    o.price_protect = boolean(p, "priceProtect")?;
    o.activation_price = dec(p, "activationPrice")?;
    o.callback_rate = dec(p, "callbackRate")?;
    o.client_order_id = get(p, "newClientOrderId").map(Ident::from);
    o.resp_type = match get(p, "newOrderRespType") {
        None => None,
        Some("ACK") => Some(RespType::Ack),
        // futures has no FULL: it answers like RESULT
        Some("RESULT") | Some("FULL") => Some(RespType::Result),
        Some(_) => return Err(invalid("newOrderRespType")),
    };
    Ok(o)
}

/// POST /fapi/v1/algoOrder parameters → [`NewAlgoOrder`].
pub fn new_algo_order(p: &Params) -> Result<NewAlgoOrder, ApiError> {
    match req(p, "algoType")? {
        "CONDITIONAL" => {}
        _ => return Err(invalid("algoType")),
    }
    let symbol = req(p, "symbol")?;
    let mut o = NewAlgoOrder::new(symbol, side(p)?, order_type(p)?);
    o.position_side = pos_side(p)?;
    o.quantity = dec(p, "quantity")?;
    o.price = dec(p, "price")?;
    o.trigger_price = dec(p, "triggerPrice")?;
    o.time_in_force = tif(p)?;
    o.reduce_only = boolean(p, "reduceOnly")?;
    o.close_position = boolean(p, "closePosition")?;
    o.working_type = working(p)?;
    o.price_protect = boolean(p, "priceProtect")?;
    o.activate_price = dec(p, "activatePrice")?;
    o.callback_rate = dec(p, "callbackRate")?;
    o.client_algo_id = get(p, "clientAlgoId").map(Ident::from);
    Ok(o)
}

/// `orderId` or `origClientOrderId`.
pub fn order_ref(p: &Params) -> Result<OrderRef, ApiError> {
    if let Some(id) = get(p, "orderId") {
        return id
            .parse::<u64>()
            .map(OrderRef::Id)
            .map_err(|_| mandatory("orderId"));
    }
    match get(p, "origClientOrderId") {
        Some(c) => Ok(OrderRef::Client(c.into())),
        None => Err(one_of("orderId", "origClientOrderId")),
    }
}

/// `algoId` or `clientAlgoId`.
pub fn algo_ref(p: &Params) -> Result<AlgoRef, ApiError> {
    if let Some(id) = get(p, "algoId") {
        return id
            .parse::<u64>()
            .map(AlgoRef::Id)
            .map_err(|_| mandatory("algoId"));
    }
    match get(p, "clientAlgoId") {
        Some(c) => Ok(AlgoRef::Client(c.into())),
        None => Err(one_of("algoId", "clientAlgoId")),
    }
}

/// A decimal as Binance writes it: a string.
pub fn s(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

fn e<T: serde::Serialize>(x: T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

/// An order as POST/GET/DELETE /fapi/v1/order answer it.
pub fn order(o: &OrderInfo) -> Value {
    json!({
        "orderId": o.order_id.0,
        "symbol": o.symbol,
        "status": e(o.status),
        "clientOrderId": o.client_order_id,
        "price": s(o.price),
        "avgPrice": s(o.avg_price),
        "origQty": s(o.orig_qty),
        "executedQty": s(o.executed_qty),
        "cumQty": s(o.executed_qty),
        "cumQuote": s(o.cum_quote),
        "timeInForce": e(o.time_in_force),
        "type": e(o.order_type),
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": e(o.side),
        "positionSide": e(o.position_side),
        "stopPrice": s(o.stop_price),
        "workingType": e(o.working_type),
        "priceProtect": false,
        "origType": e(o.orig_type),
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time.0,
        "updateTime": o.update_time.0,
    })
}

/// An algo order as POST/GET /fapi/v1/algoOrder answer it.
pub fn algo(a: &AlgoInfo) -> Value {
    json!({
        "algoId": a.algo_id.0,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": e(a.order_type),
        "symbol": a.symbol,
        "side": e(a.side),
        "positionSide": e(a.position_side),
        "timeInForce": e(a.time_in_force),
        "quantity": s(a.quantity),
        "algoStatus": e(a.algo_status),
        "actualOrderId": a.actual_order_id.map(|i| i.0.to_string()).unwrap_or_default(),
        "actualPrice": s(a.actual_price),
        "triggerPrice": s(a.trigger_price),
        "price": s(a.price),
        "icebergQuantity": Value::Null,
        "tpTriggerPrice": "0",
        "tpPrice": "0",
        "slTriggerPrice": "0",
        "slPrice": "0",
        "tpOrderType": "",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": e(a.working_type),
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": false,
        "reduceOnly": a.reduce_only,
        "createTime": a.create_time.0,
        "updateTime": a.update_time.0,
        "triggerTime": a.trigger_time.0,
        "goodTillDate": 0,
    })
}

/// DELETE /fapi/v1/algoOrder's answer.
pub fn algo_cancelled(a: &AlgoInfo) -> Value {
    json!({"algoId": a.algo_id.0, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"})
}

/// ORDER_TRADE_UPDATE.
pub fn order_update(u: &OrderUpdate, t: TimeMs, trade_id: u64) -> Value {
    json!({
        "e": "ORDER_TRADE_UPDATE", "E": t.0, "T": t.0,
        "o": {
            "s": u.symbol, "c": u.client_order_id, "S": e(u.side), "o": e(u.order_type),
            "f": e(u.time_in_force), "q": s(u.orig_qty), "p": s(u.price), "ap": s(u.avg_price),
            "sp": s(u.stop_price), "x": e(u.exec_type), "X": e(u.status), "i": u.order_id.0,
            "l": s(u.last_qty), "z": s(u.cum_qty), "L": s(u.last_price), "N": "USDT",
            "n": s(u.commission), "T": t.0, "t": trade_id, "b": "0", "a": "0", "m": u.is_maker,
            "R": u.reduce_only, "wt": "CONTRACT_PRICE", "ot": e(u.orig_type),
            "ps": e(u.position_side), "cp": u.close_position, "rp": s(u.realized_pnl),
            "pP": false, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
            "er": (u.expiry_reason as u8).to_string(),
        }
    })
}

/// ALGO_UPDATE.
pub fn algo_update(u: &AlgoUpdate, t: TimeMs) -> Value {
    json!({
        "e": "ALGO_UPDATE", "T": t.0, "E": t.0,
        "o": {
            "caid": u.client_algo_id, "aid": u.algo_id.0, "at": "CONDITIONAL",
            "o": e(u.order_type), "s": u.symbol, "S": e(u.side), "ps": e(u.position_side),
            "f": e(u.time_in_force), "q": s(u.quantity), "X": e(u.status),
            "ai": u.actual_order_id.map(|i| i.0.to_string()).unwrap_or_default(),
            "ap": "0", "aq": "0", "act": "0", "tp": s(u.trigger_price), "p": s(u.price),
            "V": "EXPIRE_MAKER", "wt": e(u.working_type), "pm": "NONE", "cp": u.close_position,
            "pP": false, "R": u.reduce_only, "tt": 0, "gtd": 0, "rm": u.reject_reason,
        }
    })
}

/// ACCOUNT_UPDATE (`up` computed at `mark`).
pub fn account_update(u: &AccountUpdate, t: TimeMs, mark: Decimal) -> Value {
    let pos: Vec<Value> = u
        .positions
        .iter()
        .map(|p| {
            let up = if p.amount.is_zero() {
                Decimal::ZERO
            } else {
                (mark - p.entry_price) * p.amount
            };
            json!({
                "s": p.symbol, "pa": s(p.amount), "ep": s(p.entry_price), "bep": s(p.entry_price),
                "cr": s(p.accumulated_realized), "up": s(up.round_dp(8)), "mt": "cross", "iw": "0",
                "ps": e(p.position_side),
            })
        })
        .collect();
    json!({
        "e": "ACCOUNT_UPDATE", "E": t.0, "T": t.0,
        "a": {
            "m": e(u.reason),
            "B": [{"a": "USDT", "wb": s(u.wallet_balance), "cw": s(u.wallet_balance), "bc": s(u.balance_change)}],
            "P": pos,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn order_params_decode_like_binance() {
        let o = new_order(&p(&[
            ("symbol", "AVAXUSDT"),
            ("side", "SELL"),
            ("type", "STOP_MARKET"),
            ("stopPrice", "48000.0"),
            ("closePosition", "True"),
            ("positionSide", "LONG"),
            ("quantity", "1e-05"),
        ]))
        .unwrap();
        assert_eq!(o.order_type, OrderType::StopMarket);
        assert_eq!(o.stop_price, Some(Decimal::from(48000)));
        assert_eq!(o.close_position, Some(true));
        assert_eq!(o.quantity, Some(Decimal::new(1, 5)));
        assert_eq!(new_order(&p(&[("side", "BUY")])).unwrap_err().code, -1102);
        let bad = new_order(&p(&[("symbol", "X"), ("side", "UP"), ("type", "MARKET")]));
        assert_eq!(bad.unwrap_err().code, -1117);
        let bad = new_order(&p(&[("symbol", "X"), ("side", "BUY"), ("type", "OCO")]));
        assert_eq!(bad.unwrap_err().code, -1116);
        let bad = new_order(&p(&[
            ("symbol", "X"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("reduceOnly", "yes"),
        ]));
        assert_eq!(bad.unwrap_err().code, -1130);
    }

    #[test]
    fn refs_need_one_of_two() {
        assert_eq!(order_ref(&p(&[("orderId", "7")])).unwrap(), OrderRef::Id(7));
        assert_eq!(order_ref(&p(&[])).unwrap_err().code, -1102);
        assert_eq!(
            algo_ref(&p(&[("clientAlgoId", "x")])).unwrap(),
            AlgoRef::Client("x".into())
        );
        let a = new_algo_order(&p(&[("symbol", "X"), ("side", "BUY"), ("type", "STOP")]));
        assert_eq!(a.unwrap_err().msg, mandatory("algoType").msg);
    }
}
