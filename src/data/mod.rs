//! Market data in: Binance USD-M futures klines, mark-price klines and funding rates from CSV files,
//! zip archives or folders, validated into fixed-point column series.
//!
//! This module owns reading (`load_klines`, the fast hand-written parser; `load_klines_polars`, the same
//! through polars-io), validation (one-line `FILE:LINE: field `NAME`: what (hint)` errors), gap
//! reporting, resampling, a text/ASCII inspection report and downloading from data.binance.vision.
//!
//! Inputs are regular files only, each read capped in size (see [`files`]); prices must be
//! positive and volumes non-negative; funding rates lie within ±[`MAX_FUNDING_RATE`].
//!
//! Limits: prices and quantities are exact only up to 8 decimals (stored as i64/i128 mantissas at 1e-8);
//! missing bars are reported in `gaps`, never filled; one symbol and one interval per load; weekly
//! resampling aligns to the epoch (a Thursday), not to Binance's Monday weeks; no `1mo` interval.

mod coverage;
mod download;
mod error;
pub mod files;
mod funding;
mod input;
mod inspect;
mod kline;
mod parse;
mod pieces;
mod polars_loader;
mod resample;
mod validate;

pub use coverage::{gap_warnings, GAPS_LISTED};
pub use download::{download, DownloadArgs, Timeouts, DEFAULT_BASE_URL};
pub use error::DataError;
pub use funding::{load_funding, FundingSeries, MAX_FUNDING_RATE};
pub(crate) use input::expand_paths;
pub use inspect::{
    civil_from_days, days_from_civil, format_utc_minute, format_utc_ms, inspect, CHART_HEIGHT,
    CHART_WIDTH,
};
pub use kline::{
    decimal_to_e8, e8_to_decimal, interval_name, parse_interval, Gap, Kline, KlineSeries,
    PRICE_DECIMALS, PRICE_SCALE,
};
pub use parse::{fmt_e8, load_klines, load_mark_klines, LoadOptions, KLINE_COLUMNS, MARK6_COLUMNS};
pub use polars_loader::load_klines_polars;
