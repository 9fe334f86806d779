//! Binance error codes and messages the mock emits, verbatim (`binance-usdm-futures.md` §3).

use crate::api::ApiError;

/// -1102 for a missing mandatory parameter.
pub fn mandatory(param: &str) -> ApiError {
    ApiError::new(
        -1102,
        format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
    )
}
/// -1106 for a parameter sent when not required (name lower-cased, as Binance prints it).
pub fn not_required(param: &str) -> ApiError {
    ApiError::new(
        -1106,
        format!(
            "Parameter '{}' sent when not required.",
            param.to_ascii_lowercase()
        ),
    )
}
/// -1111 BAD_PRECISION.
pub fn bad_precision() -> ApiError {
    ApiError::new(
        -1111,
        "Precision is over the maximum defined for this asset.",
    )
}
/// -1121 BAD_SYMBOL.
pub fn bad_symbol() -> ApiError {
    ApiError::new(-1121, "Invalid symbol.")
}
/// -1128 OPTIONAL_PARAMS_BAD_COMBO.
pub fn bad_combo() -> ApiError {
    ApiError::new(-1128, "Combination of optional parameters invalid.")
}
/// -2011 CANCEL_REJECTED.
pub fn unknown_order() -> ApiError {
    ApiError::new(-2011, "Unknown order sent.")
}
/// -2013 NO_SUCH_ORDER.
pub fn no_such_order() -> ApiError {
    ApiError::new(-2013, "Order does not exist.")
}
/// -2019 MARGIN_NOT_SUFFICIEN.
pub fn margin() -> ApiError {
    ApiError::new(-2019, "Margin is insufficient.")
}
/// -2021 ORDER_WOULD_IMMEDIATELY_TRIGGER.
pub fn would_trigger() -> ApiError {
    ApiError::new(-2021, "Order would immediately trigger.")
}
/// -2022 REDUCE_ONLY_REJECT.
pub fn reduce_only_reject() -> ApiError {
    ApiError::new(-2022, "ReduceOnly Order is rejected.")
}
/// -4061 position side does not match the account's mode.
pub fn position_side_mismatch() -> ApiError {
    ApiError::new(
        -4061,
        "Order's position side does not match user's setting.",
    )
}
/// -4509 TIF_GTE_CAN_ONLY_BE_USED_WITH_OPEN_POSITION: a `timeInForce=GTE_GTC` order with no
/// position on its side (Binance USDⓈ-M error codes, 4xxx; `binance-usdm-futures.md` §0, §2.5).
/// The algo endpoint checks the position only; the legacy endpoint also accepted an open order.
pub fn gte_without_position(algo: bool) -> ApiError {
    ApiError::new(
        -4509,
        if algo {
            "Time in Force (TIF) GTE can only be used with open positions. Please ensure that positions are available."
        } else {
            "Time in Force (TIF) GTE can only be used with open positions or open orders. Please ensure that positions are available."
        },
    )
}
/// -4116 DUPLICATED_CLIENT_ORDER_ID.
pub fn duplicate_client_id() -> ApiError {
    ApiError::new(-4116, "clientOrderId is duplicated")
}
/// -4120 STOP_ORDER_SWITCH_ALGO.
pub fn switch_algo() -> ApiError {
    ApiError::new(
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    )
}
/// -4137 QUANTITY_EXISTS_WITH_CLOSE_POSITION.
pub fn qty_with_close_position() -> ApiError {
    ApiError::new(
        -4137,
        "Quantity must be zero with closePosition equals true",
    )
}
/// -4164 MIN_NOTIONAL.
pub fn min_notional(notional: &str) -> ApiError {
    ApiError::new(
        -4164,
        format!(
            "Order's notional must be no smaller than {notional} (unless you choose reduce only)"
        ),
    )
}
/// -5021 FOK_ORDER_REJECT.
pub fn fok_reject() -> ApiError {
    ApiError::new(-5021, "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history")
}
/// -5022 GTX_ORDER_REJECT.
pub fn gtx_reject() -> ApiError {
    ApiError::new(-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
}
/// -1003 TOO_MANY_REQUESTS (HTTP 429).
pub fn rate_limited() -> ApiError {
    ApiError {
        http: 429,
        code: -1003,
        msg: "Too many requests; current limit is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.".into(),
    }
}
/// -4131 MARKET_ORDER_REJECT (PERCENT_PRICE on a market order).
pub fn market_percent_price() -> ApiError {
    ApiError::new(
        -4131,
        "The counterparty's best price does not meet the PERCENT_PRICE filter limit",
    )
}
/// -4016 limit price above the PERCENT_PRICE cap.
pub fn percent_cap() -> ApiError {
    ApiError::new(-4016, "Price is higher than mark price multiplier cap.")
}
/// -4024 limit price below the PERCENT_PRICE floor.
pub fn percent_floor() -> ApiError {
    ApiError::new(-4024, "Price is lower than mark price multiplier floor.")
}
/// The algo endpoint on an account replaying the pre-2025-12-09 API (HTTP 404).
pub fn no_algo_endpoint() -> ApiError {
    ApiError {
        http: 404,
        code: -1000,
        msg: "Not found: /fapi/v1/algoOrder does not exist before 2025-12-09 (api = \"legacy\")"
            .into(),
    }
}
