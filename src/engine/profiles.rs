//! Named switch sets: the live engine's releases (`tradeengine-oco.md` §0) and ocosim's
//! `reference` OCO manager.
//!
//! Contract: a profile is data only; [`profiles_table`] renders all of them side by side from the
//! same [`Switches::values`] that `set` parses, so the table can never drift from the code.

use super::switches::*;
use rust_decimal::Decimal;

/// The shipped profile names, in release order, `reference` last.
pub const PROFILES: &[&str] = &[
    "tradeengine-v1.1.78",
    "tradeengine-v1.1.80",
    "tradeengine-2026-08",
    "reference",
];

/// v1.1.78 (`21be1f1`) as released: legacy legs sized by the entry result's amount (0, W1).
fn v1_1_78() -> Switches {
    Switches {
        duplicate_ttl_ms: 60_000,
        confidence_floor: Decimal::new(6, 1),
        opposite_signal_conflict: true,
        max_signal_age_ms: 0,
        accumulation_cooldown_ms: 0,
        algo_slot_limit: 0,
        close_action: CloseAction::InvalidSide,
        local_book_by_side: false,
        entry_resp_result: false,
        protect_resting_entry: true,
        verify_position_after_entry: false,
        one_way_reverse_closes_first: false,
        notional_check_ticker: true,
        broker_client_id: false,
        risk_from_pct: false,
        reanchor_to_live: false,
        sl_min_distance_pct: Decimal::ZERO,
        direction_guard: false,
        sl_market_floor_pct: Decimal::ZERO,
        percent_price_clamp: false,
        limit_percent_price_check: false,
        oco_quantity_source: QuantitySource::ResultAmount,
        legs_api: LegsApi::LegacyOrder,
        leg_close_position: false,
        leg_tif_gte_gtc: false,
        leg_working_type_mark: false,
        leg_price_protect: false,
        leg_reduce_only: true,
        one_pair_per_side: false,
        exchange_truth_dedup: false,
        direction_refusal: false,
        partial_oco_cancels_survivor: false,
        individual_fallback: Fallback::AnyFailureLogged,
        oco_abort_after_failed_leg: false,
        register_single_legs: false,
        minus_2021_ladder: false,
        atomic_rollback: false,
        retry_cleanup: false,
        rollback_timeout_ms: 0,
        position_side_param: PositionSideParam::Always,
        send_reduce_only_with_position_side: false,
        wire_rounding: WireRounding::DecimalPlaces,
        placement_retries: 3,
        retry_base_delay_ms: 1_000,
        retry_on: RetryOn::AllButListed,
        no_retry_codes: vec![-2010, -2011, -2013, -2014, -2015, -4164],
        client_ids: ClientIds::None,
        requery_unknown_outcome: false,
        poll_scope: PollScope::PerPair,
        monitor_fill_detection: FillDetection::MissingMeansFilled,
        both_missing: BothMissing::MarkCompleted,
        monitor_restarts: false,
        poll_errors_as_empty: false,
        stream_monitor_supported: false,
        stream_resync_ms: 30_000,
        cancel_retries: 1,
        cancel_retry_base_ms: 500,
        cancel_endpoint_for_algo: CancelEndpoint::OrderEndpoint,
        cancel_unknown_is_success: false,
        exhausted_cancel_drops_pair: false,
        completion_close_step: false,
        manual_close_finds_pair: true,
        cancel_pair_works: false,
        manual_close_qty: CloseQty::LocalBook,
        manual_close_order: CloseOrder::CancelThenClose,
        close_thrash_limit: 0,
        close_guard: false,
        reconcile_on_restart: Reconcile::Off,
        reconcile_cancels_lone_legs: false,
        startup_reconcile: false,
    }
}

/// v1.1.80 (`68e47f0`): v1.1.78 with the leg quantity fix.
fn v1_1_80() -> Switches {
    Switches {
        oco_quantity_source: QuantitySource::ResultOrOrderAmount,
        ..v1_1_78()
    }
}

/// The 2026-08 snapshot (`9adbfe9`, PHEAD): algo closePosition GTE_GTC legs, one pair per side.
fn tradeengine_2026_08() -> Switches {
    Switches {
        duplicate_ttl_ms: 10_000,
        opposite_signal_conflict: false,
        max_signal_age_ms: 300_000,
        accumulation_cooldown_ms: 300_000,
        algo_slot_limit: 9,
        broker_client_id: true,
        local_book_by_side: true,
        risk_from_pct: true,
        reanchor_to_live: true,
        sl_min_distance_pct: Decimal::new(5, 1),
        direction_guard: true,
        sl_market_floor_pct: Decimal::from(6),
        percent_price_clamp: true,
        limit_percent_price_check: true,
        oco_quantity_source: QuantitySource::ResultOrOrderAmount,
        legs_api: LegsApi::Algo,
        leg_close_position: true,
        leg_tif_gte_gtc: true,
        leg_working_type_mark: true,
        leg_price_protect: true,
        leg_reduce_only: true,
        one_pair_per_side: true,
        exchange_truth_dedup: true,
        direction_refusal: true,
        partial_oco_cancels_survivor: true,
        individual_fallback: Fallback::NonNakedFailureRaises,
        minus_2021_ladder: true,
        atomic_rollback: true,
        rollback_timeout_ms: 10_000,
        no_retry_codes: vec![-2010, -2011, -2013, -2014, -2015, -4164, -4131, -1102],
        poll_scope: PollScope::PerKeyBothBooks,
        poll_errors_as_empty: true,
        cancel_retries: 3,
        cancel_unknown_is_success: true,
        exhausted_cancel_drops_pair: true,
        completion_close_step: true,
        manual_close_finds_pair: false,
        cancel_pair_works: true,
        close_thrash_limit: 2,
        close_guard: true,
        reconcile_on_restart: Reconcile::ZipByCreateTime,
        reconcile_cancels_lone_legs: true,
        startup_reconcile: true,
        ..v1_1_80()
    }
}

/// The weak points `tradeengine-oco.md` §7 says each live release has (P78: v1.1.78 and v1.1.80,
/// W1 fixed in v1.1.80; PHEAD: the 2026-08 snapshot); `reference` has none.
pub fn weak_points_of(name: &str) -> Option<&'static [&'static str]> {
    const P78: &[&str] = &[
        "W2", "W3", "W4", "W7", "W8", "W9", "W11", "W13", "W14", "W15", "W16", "W17", "W18",
    ];
    const P78_W1: &[&str] = &[
        "W1", "W2", "W3", "W4", "W7", "W8", "W9", "W11", "W13", "W14", "W15", "W16", "W17", "W18",
    ];
    const PHEAD: &[&str] = &[
        "W3", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "W13", "W14", "W15", "W16", "W17",
    ];
    match name {
        "tradeengine-v1.1.78" => Some(P78_W1),
        "tradeengine-v1.1.80" => Some(P78),
        "tradeengine-2026-08" => Some(PHEAD),
        "reference" => Some(&[]),
        _ => None,
    }
}

/// The switch set of a profile name, or None.
pub(crate) fn profile(name: &str) -> Option<Switches> {
    match name {
        "tradeengine-v1.1.78" => Some(v1_1_78()),
        "tradeengine-v1.1.80" => Some(v1_1_80()),
        "tradeengine-2026-08" => Some(tradeengine_2026_08()),
        "reference" => Some(Switches::default()),
        _ => None,
    }
}

/// Markdown table: one row per switch, one column per profile (a release's value in bold where it
/// differs from `reference`), and what the switch changes.
pub fn profiles_table() -> String {
    let sets: Vec<Vec<(String, String)>> = PROFILES
        .iter()
        .map(|p| profile(p).unwrap_or_default().values())
        .collect();
    let mut out = String::from("| switch |");
    for p in PROFILES {
        out.push_str(&format!(" {p} |"));
    }
    out.push_str(" what it changes |\n|---|");
    for _ in PROFILES {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    let reference = PROFILES
        .iter()
        .position(|p| *p == "reference")
        .unwrap_or(sets.len() - 1);
    for (i, (key, doc)) in SWITCH_DOCS.iter().enumerate() {
        out.push_str(&format!("| `{key}` |"));
        for (j, s) in sets.iter().enumerate() {
            let v = &s[i].1;
            // a live release's value is bold where it differs from the reference engine's
            if j != reference && v != &sets[reference][i].1 {
                out.push_str(&format!(" **{v}** |"));
            } else {
                out.push_str(&format!(" {v} |"));
            }
        }
        out.push_str(&format!(" {doc} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_resolves_and_round_trips() {
        for p in PROFILES {
            let s = profile(p).unwrap();
            let json = serde_json::to_string(&s).unwrap();
            let back: Switches = serde_json::from_str(&json).unwrap();
            assert_eq!(s, back, "{p}");
            // every value prints back into `set`
            let mut t = Switches::default();
            for (k, v) in s.values() {
                let v = if v == "-" { String::new() } else { v };
                t.set(&k, &v).unwrap();
            }
            assert_eq!(t, s, "{p}");
        }
        assert!(profile("nope").is_none());
        assert_eq!(
            profiles_table().lines().count(),
            SWITCH_DOCS.len() + 2,
            "one row per switch"
        );
    }
}
