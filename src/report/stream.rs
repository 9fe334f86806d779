//! The reports of a run gathered as it goes: [`Recorder`] observes each record as the log
//! appends it and streams `events.jsonl` (at its level), `orders.csv` and `fills.csv` into the
//! report folder, while it keeps only compact accumulators for the rest (the summary's sums and
//! counts, the equity curve, the legs and fills of the price charts). With the checker's trail
//! records ([`crate::invariants::Trails`]) it writes the same files as
//! [`super::write_files_with`] over the whole log, byte for byte, without the log.

use super::price::{BookBuilder, PriceBars};
use super::tables::{FillsTable, OrdersTable};
use super::{EventsLevel, History, RunInfo, Summary, Tally};
use crate::events::{json, EventLog, EventRecord, Observer};
use crate::invariants::{Trails, Violation};
use rust_decimal::Decimal;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

fn out(dir: &Path, name: &str) -> std::io::Result<File> {
    File::create(dir.join(name))
}

/// Bytes of `events.jsonl` held before one `write_all`.
const CHUNK: usize = 1 << 16;

/// `events.jsonl`: records rendered straight into one reused buffer, written in chunks.
struct Lines {
    file: File,
    buf: Vec<u8>,
}

impl Lines {
    fn push(&mut self, r: &EventRecord) -> std::io::Result<()> {
        json::write_record(r, &mut self.buf);
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
    fn finish(mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.file.flush()
    }
}

/// The report files of one run, written while it runs (see the module doc).
pub struct Recorder {
    dir: PathBuf,
    level: EventsLevel,
    events: Lines,
    orders: OrdersTable<File>,
    fills: FillsTable<File>,
    tally: Tally,
    book: BookBuilder,
    /// The first write error (the run goes on; [`Recorder::finish`] reports it).
    err: Option<std::io::Error>,
}

impl Recorder {
    /// A recorder writing into the existing folder `dir`, `events.jsonl` at `level`, for a run
    /// starting with `initial` in the wallet.
    pub fn create(dir: &Path, level: EventsLevel, initial: Decimal) -> std::io::Result<Recorder> {
        let events = Lines {
            file: out(dir, "events.jsonl")?,
            buf: Vec::with_capacity(CHUNK + 4096),
        };
        Ok(Recorder {
            dir: dir.to_path_buf(),
            level,
            events,
            orders: OrdersTable::new(out(dir, "orders.csv")?)?,
            fills: FillsTable::new(out(dir, "fills.csv")?)?,
            tally: Tally::new(initial),
            book: BookBuilder::default(),
            err: None,
        })
    }

    fn step(&mut self, r: &EventRecord) -> std::io::Result<()> {
        self.tally.observe(r);
        self.book.observe(r);
        self.orders.observe(r)?;
        self.fills.observe(r)?;
        let keep = match self.level {
            EventsLevel::All => true,
            EventsLevel::Trades => super::is_trade_record(r),
            EventsLevel::Violations => false,
        };
        if keep {
            self.events.push(r)?;
        }
        Ok(())
    }

    /// The run's summary (see [`super::summarize`]).
    pub fn summarize(&self, info: &RunInfo, violations: &[Violation]) -> Summary {
        super::summarize_tally(info, &self.tally, violations)
    }

    /// Finishes the files: the rest of `orders.csv`, `events.jsonl` at level `violations` (the
    /// records `trails` holds), `summary.json`, `report.md` and `report.html`.
    pub fn finish(
        self,
        s: &Summary,
        violations: &[Violation],
        trails: &Trails,
        scenario_toml: &str,
        bars: Option<&PriceBars>,
    ) -> std::io::Result<()> {
        if let Some(e) = self.err {
            return Err(e);
        }
        self.orders.finish()?.flush()?;
        self.fills.finish()?.flush()?;
        let mut w = self.events;
        if self.level == EventsLevel::Violations {
            let seqs: std::collections::BTreeSet<_> = violations
                .iter()
                .flat_map(|v| v.trail.iter().copied().chain([v.seq]))
                .collect();
            for r in trails.values().filter(|r| seqs.contains(&r.seq)) {
                w.push(r)?;
            }
        }
        w.finish()?;
        super::write_summary(&self.dir, s)?;
        let book = self.book.finish();
        let h = History {
            log: None,
            trails: Some(trails),
            book: &book,
            curve: self.tally.curve(),
        };
        super::write_pages(&self.dir, s, &h, violations, scenario_toml, bars)
    }
}

impl Observer for Recorder {
    fn observe(&mut self, r: &EventRecord, _log: &EventLog) {
        if self.err.is_none() {
            if let Err(e) = self.step(r) {
                self.err = Some(e);
            }
        }
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
