//! The polars loader: polars-io's `CsvReader` splits the CSV, our fixed-point parser converts the fields.
//!
//! Every column is read as polars `String` (never `Float64`, which would round prices); each field then goes
//! through the same parser and the same row validation as [`load_klines`](super::load_klines), so both
//! loaders return identical series and identical errors. When polars rejects a file's structure (ragged
//! rows, blank lines, ...), the file is re-read by the hand parser only to name the offending line.

use std::io::Cursor;
use std::path::PathBuf;

use polars_core::prelude::{DataFrame, DataType, PlSmallStr, Schema, StringChunked};
use polars_io::prelude::{CsvReadOptions, SerReader};

use super::error::DataError;
use super::input::{data_start, expand_paths, only_line_breaks, read_input};
use super::kline::KlineSeries;
use super::parse::{
    parse_kline_bytes, prepare_file, row_from_fields, Layout, LoadOptions, KLINE_COLUMNS,
};
use super::validate::Builder;

/// Loads kline CSVs (files, zips or directories) through polars-io's `CsvReader`; same result as `load_klines`.
pub fn load_klines_polars(paths: &[PathBuf], opts: &LoadOptions) -> Result<KlineSeries, DataError> {
    let files = expand_paths(paths)?;
    let mut b = Builder::new(String::new(), 0, 0);
    for path in &files {
        let input = read_input(path)?;
        prepare_file(&mut b, &input, opts, Layout::Full)?;
        match read_frame(&input.bytes) {
            Ok(Some((df, first_line))) => push_frame(&df, first_line, &input.name, &mut b)?,
            Ok(None) => {}
            Err(polars_msg) => {
                // Let the hand parser name the line; if it finds nothing, report what polars said.
                parse_kline_bytes(&input.bytes, &input.name, Layout::Full, &mut b)?;
                return Err(DataError::parse(
                    &input.name,
                    0,
                    "csv",
                    format!("polars could not read the file: {polars_msg} (the hand parser accepts it; use load_klines)"),
                ));
            }
        }
    }
    Ok(b.finish())
}

/// Reads the data rows as a frame of 12 `String` columns; `Ok(None)` for a file without rows,
/// `Err` (polars' message or a structural complaint) when the hand parser must locate the problem.
fn read_frame(bytes: &[u8]) -> Result<Option<(DataFrame, usize)>, String> {
    let (start, first_line, _) = data_start(bytes);
    if only_line_breaks(bytes, start) {
        return Ok(None);
    }
    // Blank lines inside the data would shift polars' row numbers against file lines: the hand parser rejects them.
    let body = &bytes[start..];
    let trimmed_len = body.len()
        - body
            .iter()
            .rev()
            .take_while(|&&c| c == b'\n' || c == b'\r')
            .count();
    let core = &body[..trimmed_len];
    if core.windows(2).any(|w| w == b"\n\n" || w == b"\n\r") || core.first() == Some(&b'\r') {
        return Err("blank line inside the data".into());
    }
    let schema: Schema = KLINE_COLUMNS
        .iter()
        .map(|n| (PlSmallStr::from_static(n), DataType::String))
        .collect();
    let df = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.into()))
        .with_raise_if_empty(false)
        .with_rechunk(true)
        .map_parse_options(|p| p.with_quote_char(None).with_truncate_ragged_lines(false))
        .into_reader_with_file_handle(Cursor::new(core))
        .finish()
        .map_err(|e| e.to_string())?;
    for c in df.columns() {
        if c.null_count() > 0 {
            return Err(format!("column `{}` has missing values", c.name()));
        }
    }
    Ok(Some((df, first_line)))
}

/// Parses and validates the rows of a frame, in row order, into `b`.
fn push_frame(
    df: &DataFrame,
    first_line: usize,
    file: &str,
    b: &mut Builder,
) -> Result<(), DataError> {
    let mut cols: Vec<&StringChunked> = Vec::with_capacity(12);
    for name in KLINE_COLUMNS {
        let c = df
            .column(name)
            .and_then(|c| c.str())
            .map_err(|e| DataError::parse(file, 0, name, format!("polars: {e}")))?;
        cols.push(c);
    }
    let mut iters: Vec<_> = cols.iter().map(|c| c.iter()).collect();
    let interval = b.interval_ms();
    b.reserve(df.height());
    let mut fields: [&[u8]; 12] = [&[]; 12];
    for r in 0..df.height() {
        let line = first_line + r;
        for (k, it) in iters.iter_mut().enumerate() {
            fields[k] = match it.next() {
                Some(Some(s)) => s.as_bytes(),
                _ => {
                    return Err(DataError::parse(
                        file,
                        line,
                        KLINE_COLUMNS[k],
                        "is missing (polars returned no value)",
                    ))
                }
            };
        }
        // The last column may keep the `\r` of a CRLF file; it is `ignore`, so it does not matter.
        let row = row_from_fields(&fields, Layout::Full, interval)
            .map_err(|(f, m)| DataError::parse(file, line, f, m))?;
        b.push(&row, file, line)?;
    }
    Ok(())
}
