//! The reports of a run gathered as it goes: [`Recorder`] observes each record as the log
//! appends it and streams `events.jsonl` (at its level), `orders.csv` and `fills.csv` into the
//! report folder, while it keeps only compact accumulators for the rest (the summary's sums and
//! counts, the equity curve, the legs and fills of the price charts). With the checker's trail
//! records ([`crate::invariants::Trails`]) it writes the same files as
//! [`super::write_files_with`] over the whole log, byte for byte, without the log.
//!
//! [`Recorder::on_own_thread`] moves that work off the run's thread: the recorder then only
//! copies each record into a batch ([`RecordBatch`]) and hands full batches, in order, to one
//! report thread that does exactly what the inline recorder does, record by record; so the
//! files are the same bytes either way. [`Recorder::summarize`] and [`Recorder::finish`] wait
//! for that thread first.

use super::price::{BookBuilder, PriceBars};
use super::tables::{FillsTable, OrdersTable};
use super::{EventsLevel, History, RunInfo, Summary, Tally};
use crate::events::{json, EngineEvent, Event, EventLog, EventRecord, Observer, RecordBatch};
use crate::invariants::{Trails, Violation};
use rust_decimal::Decimal;
use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};

fn out(dir: &Path, name: &str) -> std::io::Result<File> {
    File::create(dir.join(name))
}

/// Bytes of `events.jsonl` held before one `write_all`: 1 MiB (see [`super::tables`]'s
/// `CHUNK`: the same size, for the same reason).
const CHUNK: usize = 1 << 20;

/// `events.jsonl`: records rendered straight into one reused buffer, written in chunks. The
/// buffer is a plain array with room for a chunk and one window after it (see
/// [`json::write_window`]): most records are written in place, the rest ([`json::Stamps`] kept
/// across both paths) through `spill`.
struct Lines {
    file: File,
    /// `CHUNK + json::WIN` bytes; `buf[..len]` are the lines not written yet (`len < CHUNK`
    /// between records, so a window always fits after them).
    buf: Box<[u8]>,
    len: usize,
    /// The lines of records a window does not take.
    spill: Vec<u8>,
    stamps: json::Stamps,
}

impl Lines {
    fn new(file: File) -> Lines {
        Lines {
            file,
            buf: vec![0; CHUNK + json::WIN].into_boxed_slice(),
            len: 0,
            spill: Vec::with_capacity(4096),
            stamps: json::Stamps::default(),
        }
    }

    /// Appends the line of `r` (inlined into the recorder's step: its cold paths are apart).
    #[inline]
    fn push(&mut self, r: &EventRecord) -> std::io::Result<()> {
        let at = self.len;
        let win: &mut [u8; json::WIN] = (&mut self.buf[at..at + json::WIN])
            .try_into()
            .expect("a window after the held lines");
        match json::write_window(r, win, &mut self.stamps) {
            // the newline in the window's last byte at most: a record never fills it
            Some(n) => {
                win[n] = b'\n';
                self.len = at + n + 1;
            }
            None => self.push_spilled(r)?,
        }
        if self.len >= CHUNK {
            self.write_held()?;
        }
        Ok(())
    }

    /// [`Self::push`] for a record a window does not take (apart, so the common path keeps
    /// few registers to save and restore per record).
    #[cold]
    #[inline(never)]
    fn push_spilled(&mut self, r: &EventRecord) -> std::io::Result<()> {
        let at = self.len;
        self.spill.clear();
        json::write_record_with(r, &mut self.spill, &mut self.stamps);
        self.spill.push(b'\n');
        if self.spill.len() > self.buf.len() - at {
            self.file.write_all(&self.buf[..at])?;
            self.len = 0;
        }
        if self.spill.len() > self.buf.len() {
            self.file.write_all(&self.spill)?;
        } else {
            let at = self.len;
            self.buf[at..at + self.spill.len()].copy_from_slice(&self.spill);
            self.len = at + self.spill.len();
        }
        Ok(())
    }

    /// Hands the lines held to the file.
    #[inline(never)]
    fn write_held(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf[..self.len])?;
        self.len = 0;
        Ok(())
    }
    fn finish(mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf[..self.len])?;
        self.file.flush()
    }
}

/// The report files of one run, written while it runs (see the module doc).
pub struct Recorder {
    mode: RefCell<Mode>,
}

/// Records handed to the report thread at once.
const BATCH: usize = 1024;

/// Batches on their way to the report thread before the run waits for it: as many as fit in
/// [`IN_FLIGHT_BYTES`] (each batch also keeps a few hundred short strings for reuse). A deep
/// queue is what keeps the hand-over from losing under load: when other processes hold the
/// cores, the report thread is descheduled for whole time slices, and with a shallow queue (4
/// batches, before) the run then stalled on a full queue and waited for the report thread's
/// next slice, so the two threads ran one after the other (the dense year 0.92 s on one thread
/// against 1.02 s with 4 batches in flight, with both cores busy with other work); with this
/// queue the run goes on and the report thread catches up in its slices (0.75 s). Idle, the
/// report thread keeps up and the queue stays short.
const IN_FLIGHT: usize = IN_FLIGHT_BYTES / (BATCH * std::mem::size_of::<EventRecord>());

/// The most record bytes queued for the report thread (the records' own heap parts, a few
/// strings and short vectors, besides): the bound on what the hand-over adds to peak memory.
const IN_FLIGHT_BYTES: usize = 16 << 20;

// deep enough to ride out a time slice of the report thread's absence (≈ 64 batches at
// today's record size); a record grown past twice its size should make this fail, not
// quietly bring the stalls back
const _: () = assert!(IN_FLIGHT >= 32);

enum Mode {
    /// The files rendered on the run's thread, record by record.
    Inline(Box<Core>),
    /// Records batched for the report thread.
    Thread(Worker),
    /// Only while switching from the thread back to `Inline`.
    Gone,
}

/// The run's side of the report thread.
struct Worker {
    batch: RecordBatch,
    tx: SyncSender<RecordBatch>,
    /// Rendered batches coming back (still holding their records) for reuse.
    spare: Receiver<RecordBatch>,
    handle: std::thread::JoinHandle<Box<Core>>,
}

impl Worker {
    fn send(&mut self) {
        let next = match self.spare.try_recv() {
            Ok(mut used) => {
                used.clear();
                used
            }
            Err(_) => RecordBatch::with_capacity(BATCH),
        };
        let full = std::mem::replace(&mut self.batch, next);
        // fails only when the thread is gone (it panicked): `join` reports that
        let _ = self.tx.send(full);
    }

    /// Hands over the last batch, waits for the thread and takes its state back.
    fn join(mut self) -> Box<Core> {
        if !self.batch.is_empty() {
            self.send();
        }
        drop(self.tx);
        match self.handle.join() {
            Ok(core) => core,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

/// What the recorder keeps and writes (on whichever thread renders).
struct Core {
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
    /// starting with `initial` in the wallet; it renders on the run's thread.
    pub fn create(dir: &Path, level: EventsLevel, initial: Decimal) -> std::io::Result<Recorder> {
        Ok(Recorder {
            mode: RefCell::new(Mode::Inline(Box::new(Core::create(dir, level, initial)?))),
        })
    }

    /// The same recorder rendering on a report thread of its own (see the module doc): worth it
    /// when the process has a spare core; the files are the same bytes.
    pub fn on_own_thread(self) -> std::io::Result<Recorder> {
        let mut core = match self.mode.into_inner() {
            Mode::Inline(core) => core,
            other => {
                return Ok(Recorder {
                    mode: RefCell::new(other),
                })
            }
        };
        let (tx, rx) = sync_channel::<RecordBatch>(IN_FLIGHT);
        let (back, spare) = channel();
        let handle = std::thread::Builder::new()
            .name("ocosim-reports".into())
            .spawn(move || {
                // the batch goes back full: its records are dropped on the run's thread,
                // which allocated their strings (a free from another thread takes the
                // allocator's slow path, under a lock)
                for batch in rx {
                    for r in batch.records() {
                        core.observe(r);
                    }
                    let _ = back.send(batch);
                }
                core
            })?;
        Ok(Recorder {
            mode: RefCell::new(Mode::Thread(Worker {
                batch: RecordBatch::with_capacity(BATCH),
                tx,
                spare,
                handle,
            })),
        })
    }

    /// Waits for the report thread, if any, and renders inline from then on.
    fn settle(&self) {
        let mut m = self.mode.borrow_mut();
        if let Mode::Thread(_) = *m {
            if let Mode::Thread(w) = std::mem::replace(&mut *m, Mode::Gone) {
                *m = Mode::Inline(w.join());
            }
        }
    }

    /// The run's summary (see [`super::summarize`]); waits for the report thread.
    pub fn summarize(&self, info: &RunInfo, violations: &[Violation]) -> Summary {
        self.settle();
        match &*self.mode.borrow() {
            Mode::Inline(core) => core.summarize(info, violations),
            _ => unreachable!("settled"),
        }
    }

    /// Finishes the files (see `Core::finish`); waits for the report thread.
    pub fn finish(
        self,
        s: &Summary,
        violations: &[Violation],
        trails: &Trails,
        scenario_toml: &str,
        bars: Option<&PriceBars>,
    ) -> std::io::Result<()> {
        self.settle();
        match self.mode.into_inner() {
            Mode::Inline(core) => core.finish(s, violations, trails, scenario_toml, bars),
            _ => unreachable!("settled"),
        }
    }
}

impl Core {
    fn create(dir: &Path, level: EventsLevel, initial: Decimal) -> std::io::Result<Core> {
        let events = Lines::new(out(dir, "events.jsonl")?);
        Ok(Core {
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
        // the line first: the tables then find the record's prices and fees in the memo of
        // the decimals it wrote (the files are apart, so the order they are written in does
        // not change their bytes)
        let keep = match self.level {
            EventsLevel::All => true,
            EventsLevel::Trades => super::is_trade_record(r),
            EventsLevel::Violations => false,
        };
        if keep {
            self.events.push(r)?;
        }
        let memo = self.events.stamps.memo();
        // the tables and the price chart's book read only order and algo updates (fills only
        // the former; the book also the engine's pair placements): the other records (half of
        // them) skip those calls
        match &r.event {
            Event::OrderTradeUpdate(_) => {
                self.book.observe(r);
                self.orders.observe(r, memo)?;
                self.fills.observe(r, memo)?;
            }
            Event::AlgoUpdate(_) => {
                self.book.observe(r);
                self.orders.observe(r, memo)?;
            }
            Event::Engine(EngineEvent::PairPlaced { .. }) => self.book.observe(r),
            _ => {}
        }
        Ok(())
    }

    fn summarize(&self, info: &RunInfo, violations: &[Violation]) -> Summary {
        super::summarize_tally(info, &self.tally, violations)
    }

    /// Finishes the files: the rest of `orders.csv`, `events.jsonl` at level `violations` (the
    /// records `trails` holds), `summary.json`, `report.md` and `report.html`.
    fn finish(
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

    /// Feeds one record (a write error is kept for `finish`; the run goes on). Inlined into
    /// [`Recorder`]'s `observe`: one call less per record.
    #[inline(always)]
    fn observe(&mut self, r: &EventRecord) {
        if self.err.is_none() {
            if let Err(e) = self.step(r) {
                self.err = Some(e);
            }
        }
    }
}

impl Observer for Recorder {
    fn observe(&mut self, r: &EventRecord, _log: &EventLog) {
        match self.mode.get_mut() {
            Mode::Inline(core) => core.observe(r),
            Mode::Thread(w) => {
                w.batch.push(r);
                if w.batch.len() >= BATCH {
                    w.send();
                }
            }
            Mode::Gone => {}
        }
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
