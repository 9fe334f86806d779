//! ocosim: deterministic simulation and backtesting harness for OCO logic on Binance USD-M futures.
pub mod data;
