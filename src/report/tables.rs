//! `orders.csv` (one row per distinct order or algo order, last status wins) and `fills.csv`
//! (one row per TRADE/CALCULATED execution), built from the event log only, record by record:
//! rows are written as soon as they are final, so a run need not keep its log for them.

use super::price::IdMap;
use crate::events::json::{self, Out, Spelled, Then, Word, WORD};
use crate::events::{AlgoUpdate, Event, EventLog, EventRecord, ExecType, OrderUpdate};
use crate::types::{write_time_ms, AlgoId, AlgoStatus, ExpiryReason, Ident, OrderId, TimeMs};
use rust_decimal::Decimal;
use std::collections::VecDeque;
use std::io::Write;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Order(OrderId),
    Algo(AlgoId),
}

impl Default for Key {
    /// Only for [`Row`]'s default: every row is made with its own key.
    fn default() -> Key {
        Key::Order(OrderId(0))
    }
}

/// The text after each cell of a row (the last one's becomes the newline).
struct Comma;

impl Then for Comma {
    const TEXT: &'static str = ",";
}

/// A cell of a fixed spelling (an enum's) and its comma, padded: written as one fixed-size copy
/// of a constant (see [`Word`]) where a `&'static str` of its own length is a `memcpy` call.
#[derive(Debug, Clone, Copy)]
struct Cell(&'static Word);

impl Default for Cell {
    /// An empty cell.
    fn default() -> Cell {
        Cell(&const { json::cat::<WORD>("", ",") })
    }
}

impl Cell {
    /// The cell of `v`'s spelling (its `as_str`).
    fn of(v: impl Spelled) -> Cell {
        Cell(v.bare::<Comma>())
    }
}

#[derive(Debug, Clone, Default)]
struct Row {
    /// Whose row it is.
    key: Key,
    /// Not written yet (its slot is in `OrdersTable::pending`).
    pending: bool,
    /// Inline ids (as the records hold them): an update copies them over as a few words, with
    /// no comparison and no allocation (see [`set_id`]).
    symbol: Ident,
    client_id: Ident,
    otype: Cell,
    orig_type: Cell,
    side: Cell,
    position_side: Cell,
    qty: Decimal,
    price: Decimal,
    trigger: Decimal,
    reduce_only: bool,
    close_position: bool,
    tif: Cell,
    created: TimeMs,
    updated: TimeMs,
    status: Cell,
    filled: Option<Decimal>,
    avg: Option<Decimal>,
    from_algo: Option<AlgoId>,
    child: Option<OrderId>,
    /// The lowest child order naming this algo order in its from_algo.
    linked: Option<OrderId>,
    /// No later update can change it.
    done: bool,
    /// Held by the table (its slot in `OrdersTable::ids`), not a free slot.
    held: bool,
    /// An algo row's guess at its child's slot (the last child naming it in its from_algo):
    /// taken only when that slot holds the child's row, so any value is safe.
    child_slot: u32,
}

impl Row {
    fn new(key: Key, created: TimeMs) -> Row {
        Row {
            key,
            pending: true,
            held: true,
            created,
            updated: created,
            ..Row::default()
        }
    }

    /// Takes an order update's fields (the table and its test's reference table share this, so
    /// they differ only in how rows are stored and written). Returns whether the row is final.
    #[inline(always)]
    fn apply_order(&mut self, o: &OrderUpdate, time_ms: TimeMs) -> bool {
        set_id(&mut self.symbol, &o.symbol);
        set_id(&mut self.client_id, &o.client_order_id);
        self.otype = Cell::of(o.order_type);
        self.orig_type = Cell::of(o.orig_type);
        self.side = Cell::of(o.side);
        self.position_side = Cell::of(o.position_side);
        self.qty = o.orig_qty;
        self.price = o.price;
        self.trigger = o.stop_price;
        self.reduce_only = o.reduce_only;
        self.close_position = o.close_position;
        self.tif = Cell::of(o.time_in_force);
        self.updated = time_ms;
        self.status = Cell::of(o.status);
        self.filled = Some(o.cum_qty);
        self.avg = Some(o.avg_price);
        // a legacy stop's trigger expires it and it goes on as a MARKET/LIMIT order
        self.done = o.status.is_terminal()
            && !(o.exec_type == ExecType::Expired
                && o.expiry_reason == ExpiryReason::LegacyTriggered);
        if o.from_algo.is_some() {
            self.from_algo = o.from_algo;
        }
        self.done
    }

    /// Takes an algo update's fields (shared as [`Row::apply_order`]). Returns whether the row
    /// is final.
    #[inline(always)]
    fn apply_algo(&mut self, a: &AlgoUpdate, time_ms: TimeMs) -> bool {
        set_id(&mut self.symbol, &a.symbol);
        set_id(&mut self.client_id, &a.client_algo_id);
        self.otype = Cell::of(a.order_type);
        self.orig_type = self.otype;
        self.side = Cell::of(a.side);
        self.position_side = Cell::of(a.position_side);
        self.qty = a.quantity;
        self.price = a.price;
        self.trigger = a.trigger_price;
        self.reduce_only = a.reduce_only;
        self.close_position = a.close_position;
        self.tif = Cell::of(a.time_in_force);
        self.updated = time_ms;
        self.status = Cell::of(a.status);
        self.done = matches!(
            a.status,
            AlgoStatus::Finished
                | AlgoStatus::Canceled
                | AlgoStatus::Expired
                | AlgoStatus::Rejected
        );
        if a.actual_order_id.is_some() {
            self.child = a.actual_order_id;
        }
        self.done
    }
}

/// Money or an average price as Binance prints it: at most 8 decimals, rounded half away from
/// zero, the scale otherwise kept (`13.04000000`, not `13.039999999980`). A value with 8
/// decimals or fewer (nearly every fee and PnL) is returned as is without the call, as
/// `round_dp_with_strategy` itself returns it.
#[inline(always)]
fn b8(d: Decimal) -> Decimal {
    if d.scale() <= super::BINANCE_DP {
        return d;
    }
    d.round_dp_with_strategy(
        super::BINANCE_DP,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
}

/// Bytes held before they go to the writer (one `write_all` per chunk): 1 MiB. The kernel's
/// write path costs less per byte in larger writes (the page cache takes them in larger
/// folios): the dense generated year's reports (≈ 330 MB) spent 0.19–0.25 s a run in the
/// kernel with 64 KiB chunks and 0.12–0.13 s with 1 MiB (this machine, Linux 6.18, ext4);
/// 512 KiB and 2 MiB were in between, 4 MiB worse than 64 KiB.
const CHUNK: usize = 1 << 20;

/// A CSV file written row by row into a reused buffer, handed to `w` in chunks of about
/// [`CHUNK`] bytes. The bytes are the `csv` crate's with its default settings: `,` between
/// fields, `\n` after a row, a field quoted only when it holds `,` `"` `\r` or `\n` (quotes
/// doubled inside), an empty field as nothing (every row here has several fields).
///
/// The buffer is a plain array with room for a chunk and one row window after it: a row whose
/// strings are short (see [`ROW_TEXT`]) is written in place through a [`json::Window`] (no
/// `Vec` length and capacity to load, check and store per cell), any other through `spill`
/// (see [`put_row!`]).
pub(crate) struct CsvOut<W: Write> {
    w: W,
    /// `CHUNK + ROW` bytes; `buf[..len]` are the rows not handed to `w` yet (`len < CHUNK`
    /// between rows, so a row's window always fits after them).
    buf: Box<[u8]>,
    len: usize,
    /// The row being written when it may not fit a window.
    spill: Vec<u8>,
    days: DayText,
    /// The digits of the last number of a kind (see [`json::Digits`]): ids, seqs and times
    /// move on by little from row to row.
    nums: [json::Digits; NUMS],
}

/// Room for a row written in place: its cells other than strings take at most about 40 bytes
/// each (a decimal 31, a time 23, with its comma), 22 cells at most, with the slack of a last
/// fixed-size copy (48 bytes); its strings at most [`ROW_TEXT`] bytes, twice that and quotes
/// when quoted. Under 1,400 bytes in all.
const ROW: usize = 2048;

/// A row's strings (symbol, client id) hold at most this many bytes for it to be written in
/// place (see [`CsvOut`]); ids and symbols hold about 30.
const ROW_TEXT: usize = 256;

/// Writes one row into `$out` (a [`CsvOut`]) by `$body`, `$f` its [`RowWriter`]: in place,
/// through a window after the rows held, when the row's strings hold at most [`ROW_TEXT`]
/// bytes in all (`$text`), else into the spill buffer and then copied; either way the bytes
/// are the same (the body is expanded for each writer: a closure cannot be generic over it).
/// Its decimals go through `$memo` (a `&mut json::DecMemo`, see [`RowWriter`]). Evaluates to
/// the `io::Result` of handing a full chunk on.
macro_rules! put_row {
    ($out:expr, $memo:expr, $text:expr, |$f:ident| $body:block) => {{
        let out = $out;
        if $text <= ROW_TEXT {
            let at = out.len;
            let win: &mut [u8; ROW] = (&mut out.buf[at..at + ROW])
                .try_into()
                .expect("a row window after the rows held");
            let mut $f = RowWriter {
                out: json::Window::new(win),
                days: &mut out.days,
                nums: &mut out.nums,
                memo: $memo,
            };
            $body
            $f.out.set_last(b'\n');
            // the row's strings are bounded, so it fits: a panic, never a wrong byte
            assert!(!$f.out.overflowed(), "a row overflowed its window");
            out.len = at + $f.out.len();
            out.maybe_flush()
        } else {
            let mut spill = std::mem::take(&mut out.spill);
            spill.clear();
            let mut $f = RowWriter {
                out: &mut spill,
                days: &mut out.days,
                nums: &mut out.nums,
                memo: $memo,
            };
            $body
            $f.out.set_last(b'\n');
            let done = out.append(&spill);
            out.spill = spill;
            done
        }
    }};
}

/// The kinds of numbers a table keeps the digits of ([`RowWriter::num`]).
const NUMS: usize = 3;
/// Order ids.
const ORDER_IDS: usize = 0;
/// Algo ids, and fills' seqs.
const ALGO_IDS: usize = 1;
/// Times in ms.
const TIMES: usize = 2;

/// `YYYY-MM-DD ` of the last day written (rows come in time order, so most rows of a file share
/// their day with the row before): the calendar is worked out once per day, the time of day digit
/// pairs from a table. The bytes are [`write_time_ms`]'s.
#[derive(Default)]
struct DayText {
    /// First ms of the day held, or `None` before the first row.
    day_start: Option<i64>,
    text: [u8; 11],
    /// First ms of the second of the last text, and the text and a comma: a time in the same
    /// second (half the times of `orders.csv`) changes only its last three digits.
    sec_start: Option<i64>,
    last: [u8; 24],
}

impl DayText {
    /// Appends `ms` as [`write_time_ms`] does.
    #[cfg(test)]
    fn write(&mut self, ms: i64, out: &mut Vec<u8>) {
        match self.text(ms) {
            Some(t) => out.extend_from_slice(&t[..23]),
            None => write_time_ms(ms, out),
        }
    }

    /// The 23 bytes [`write_time_ms`] writes for `ms` and a comma (a CSV cell, appended as
    /// one fixed-size copy), or `None` outside the years 0 to 9999 (where it writes other
    /// lengths).
    #[inline(always)]
    fn text(&mut self, ms: i64) -> Option<&[u8; 24]> {
        const DAY_MS: i64 = 86_400_000;
        // 0000-01-01 and 10000-01-01: outside, the formatter's path
        const FIRST: i64 = -62_167_219_200_000;
        const END: i64 = 253_402_300_800_000;
        if !(FIRST..END).contains(&ms) {
            return None;
        }
        // the parts of a day in u32 (a day has 86,400,000 ms): its divisions by constants are
        // cheaper than an i64's
        let two = |v: u32| {
            let i = v as usize * 2;
            [crate::types::DIGITS2[i], crate::types::DIGITS2[i + 1]]
        };
        if let Some(s) = self.sec_start {
            if (s..s + 1000).contains(&ms) {
                let milli = (ms - s) as u32;
                let ms3 = two(milli % 100);
                self.last[20..23].copy_from_slice(&[b'0' + (milli / 100) as u8, ms3[0], ms3[1]]);
                return Some(&self.last);
            }
        }
        let in_day = match self.day_start {
            Some(d) if (d..d + DAY_MS).contains(&ms) => (ms - d) as u32,
            _ => {
                let start = ms.div_euclid(DAY_MS) * DAY_MS;
                let mut t = Vec::with_capacity(24);
                write_time_ms(start, &mut t);
                self.text.copy_from_slice(&t[..11]);
                self.day_start = Some(start);
                (ms - start) as u32
            }
        };
        let (secs, milli) = (in_day / 1000, in_day % 1000);
        let (h, m, sec) = (two(secs / 3600), two(secs / 60 % 60), two(secs % 60));
        let ms3 = two(milli % 100);
        let t = &mut self.last;
        t[..11].copy_from_slice(&self.text);
        t[11..].copy_from_slice(&[
            h[0],
            h[1],
            b':',
            m[0],
            m[1],
            b':',
            sec[0],
            sec[1],
            b'.',
            b'0' + (milli / 100) as u8,
            ms3[0],
            ms3[1],
            b',',
        ]);
        self.sec_start = Some(ms - i64::from(milli));
        Some(&self.last)
    }
}

impl<W: Write> CsvOut<W> {
    /// A file writing to `w`, its header row first.
    fn new(w: W, header: &[&str]) -> std::io::Result<CsvOut<W>> {
        let mut o = CsvOut {
            w,
            buf: vec![0; CHUNK + ROW].into_boxed_slice(),
            len: 0,
            spill: Vec::new(),
            days: DayText::default(),
            nums: Default::default(),
        };
        // the header's strings are not bounded: always the spill's way
        put_row!(&mut o, &mut json::DecMemo::default(), usize::MAX, |f| {
            for h in header {
                f.str(h);
            }
        })?;
        Ok(o)
    }

    /// Appends a row written apart (see [`put_row!`]).
    fn append(&mut self, row: &[u8]) -> std::io::Result<()> {
        if row.len() > self.buf.len() - self.len {
            self.w.write_all(&self.buf[..self.len])?;
            self.len = 0;
        }
        if row.len() > self.buf.len() {
            self.w.write_all(row)?;
        } else {
            self.buf[self.len..self.len + row.len()].copy_from_slice(row);
            self.len += row.len();
        }
        self.maybe_flush()
    }

    /// Hands the buffer to the writer once it holds a chunk.
    #[inline]
    fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.len >= CHUNK {
            self.w.write_all(&self.buf[..self.len])?;
            self.len = 0;
        }
        Ok(())
    }

    /// Writes what is left and returns the writer.
    fn into_inner(mut self) -> std::io::Result<W> {
        self.w.write_all(&self.buf[..self.len])?;
        self.len = 0;
        Ok(self.w)
    }
}

/// One CSV row written field by field straight into the file's buffer (each field followed by
/// `,`, the last one's replaced by `\n`, see [`put_row!`]): numbers and decimals as their
/// `Display` bytes without the formatting machinery (they never need quotes), strings checked
/// for quoting.
struct RowWriter<'a, O: Out> {
    out: O,
    days: &'a mut DayText,
    nums: &'a mut [json::Digits; NUMS],
    /// The text of the decimals written lately (see [`json::DecMemo`]): the recorder hands
    /// its events' memo, so a row's prices and fees are mostly those its records just wrote.
    memo: &'a mut json::DecMemo,
}

impl<O: Out> RowWriter<'_, O> {
    /// Inlined, as every cell: a row is a straight run of appends.
    #[inline(always)]
    fn str(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len();
        if (4..=json::SHORT).contains(&n) {
            // the common case (symbols, client ids): checked and copied by words in one pass
            // straight into the row's room (see [`Out::room`]), the comma after it; a field
            // that needs quotes writes nothing there and goes on below
            const R: usize = json::SHORT + 10;
            let Some(w) = self.out.room::<R>() else {
                return;
            };
            if !json::copy_short::<0, _, Quoted>(w, b) {
                w[n] = b',';
                self.out.commit::<R>(n + 1);
                return;
            }
            self.out.commit::<R>(0);
        }
        csv_field(&mut self.out, b);
        self.out.push(b',');
    }
    /// A fixed spelling (an enum's, a column kind): never needs quotes.
    #[inline(always)]
    fn cell(&mut self, c: Cell) {
        json::put_word(&mut self.out, c.0);
    }
    #[cfg(test)]
    fn u64(&mut self, v: u64) {
        json::u64_then(&mut self.out, v, Comma);
    }
    /// A number of kind `k` (see [`NUMS`]): the bytes of `u64`'s `Display`.
    #[inline(always)]
    fn num(&mut self, k: usize, v: u64) {
        self.nums[k].put(&mut self.out, v, Comma);
    }
    /// A signed number of kind `k`: the bytes of `i64`'s `Display`.
    #[inline(always)]
    fn num_i64(&mut self, k: usize, v: i64) {
        self.nums[k].put_i64(&mut self.out, v, Comma);
    }
    #[inline(always)]
    fn opt_num(&mut self, k: usize, v: Option<u64>) {
        match v {
            Some(v) => self.num(k, v),
            None => self.out.push(b','),
        }
    }
    #[inline(always)]
    fn dec(&mut self, d: Decimal) {
        json::dec_m(&mut self.out, &d, self.memo, Comma);
    }
    #[inline(always)]
    fn opt_dec(&mut self, d: Option<Decimal>) {
        match d {
            Some(d) => self.dec(d),
            None => self.out.push(b','),
        }
    }
    #[inline(always)]
    fn bool(&mut self, b: bool) {
        json::bool_then(&mut self.out, b, Comma);
    }
    #[inline(always)]
    fn time(&mut self, ms: i64) {
        match self.days.text(ms) {
            // the text and its comma in one fixed-size append (no memcpy call)
            Some(t) => json::put_first(&mut self.out, t, 24),
            None => time_far(&mut self.out, ms),
        }
    }
}

/// A time cell outside the years 0 to 9999 (see [`DayText::text`]): its text is made apart,
/// then appended (a call given the writer would keep a row's [`json::Window`] out of registers).
#[inline(always)]
fn time_far(out: &mut impl Out, ms: i64) {
    let (t, n) = time_far_text(ms);
    out.put_first(&t, n);
}

/// The bytes of [`time_far`] (at most 31: `write_time_ms` writes a year of up to 11 characters
/// and 19 more, then the comma), and how many.
#[cold]
#[inline(never)]
fn time_far_text(ms: i64) -> ([u8; 48], usize) {
    let mut t = Vec::with_capacity(48);
    write_time_ms(ms, &mut t);
    t.push(b',');
    let mut w = [0u8; 48];
    w[..t.len()].copy_from_slice(&t);
    (w, t.len())
}

/// `dst = src`: an inline id (nearly all, at most 24 bytes) is copied over as three words,
/// with no comparison (comparing as strings was a `memcmp` call per field) and no allocation.
#[inline(always)]
fn set_id(dst: &mut Ident, src: &Ident) {
    dst.clone_from(src);
}

/// The bytes a CSV field is quoted for: `,` `"` `\r` `\n` (see [`json::Special`]).
struct Quoted;

impl json::Special for Quoted {
    #[inline(always)]
    fn word(x: u64) -> bool {
        quote_hit(x)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn lanes(x: std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline (these instructions always exist), and
        // they compute on values only, touching no memory
        unsafe {
            let is = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
            _mm_or_si128(
                _mm_or_si128(is(b','), is(b'"')),
                _mm_or_si128(is(b'\r'), is(b'\n')),
            )
        }
    }
}

/// Whether some byte of the word `x` is `,` `"` `\r` or `\n` (SWAR zero-byte test on `x ^ c`
/// for each of the four).
#[inline(always)]
fn quote_hit(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero(x ^ (ONES * u64::from(b',')))
        | zero(x ^ (ONES * u64::from(b'"')))
        | zero(x ^ (ONES * u64::from(b'\r')))
        | zero(x ^ (ONES * u64::from(b'\n')))
        != 0
}

/// Whether some byte of `s` is `,` `"` `\r` or `\n` (a CSV field that needs quotes): eight
/// bytes a step ([`quote_hit`]), the tail byte by byte.
fn needs_quotes(s: &[u8]) -> bool {
    let hit = quote_hit;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        if hit(u64::from_le_bytes([
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
        ])) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// One CSV field as the `csv` crate writes it by default: as is, or in double quotes (inner
/// quotes doubled) when it holds `,` `"` `\r` or `\n`. (The short clean strings of most cells
/// take [`RowWriter::str`]'s own path.) Inlined, though rare: a call given the writer would keep
/// a row's [`json::Window`] out of registers.
#[inline(always)]
fn csv_field(out: &mut impl Out, s: &[u8]) {
    if !needs_quotes(s) {
        out.extend_from_slice(s);
        return;
    }
    out.push(b'"');
    for &b in s {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Builds `orders.csv` as records come: one row per distinct order (orderId) or algo order
/// (algoId), in the order they first appear; the last ORDER_TRADE_UPDATE / ALGO_UPDATE gives the
/// final state; an algo row's filled quantity and average price are its child order's. A row is
/// written as soon as it is final (an order in a terminal status, unless a legacy stop's trigger
/// expired it; an algo order finished,
/// cancelled, expired or rejected whose child, if any, is final) and every row before it is
/// written, so only rows still open (and those behind them) are held.
///
/// The rows held live in a slab (`slots`, freed slots reused): the id map gives a row's slot
/// once per record, `pending` names slots, and a row dropped is only forgotten (its slot put
/// back), never moved out: a row is about 280 bytes, and the hash map holding rows by value
/// hashed each key two or three times more per row and copied every row out on removal.
pub(crate) struct OrdersTable<W: Write> {
    w: CsvOut<W>,
    /// The slot of each row held (those not written yet, and written children their algo row
    /// still needs), by id: looked up only, never iterated.
    ids: IdMap<Key, u32>,
    /// The rows, by slot; a slot not in `ids` is free (and listed in `free`).
    slots: Vec<Row>,
    /// Free slots, reused last freed first.
    free: Vec<u32>,
    /// Rows not written yet, by first appearance (`(first seq, slot)`, ascending seq).
    pending: VecDeque<(u64, u32)>,
    /// A guess at the slot of each id, by its low bits (see [`OrdersTable::find`]): the ids of
    /// the rows held at once are few and nearly consecutive, so most lookups find their row
    /// here without hashing. Any value is safe: a guess is taken only when its slot holds the
    /// row of that very key.
    guess: [u32; GUESS],
}

/// Entries of [`OrdersTable::guess`] (a power of two).
const GUESS: usize = 64;

/// Writes `r`'s orders.csv row (`k` says whether an order or an algo order; an algo row shows
/// its child's fill). Shared by [`OrdersTable`] and its test's reference table.
#[inline(always)]
fn put_order_row<W: Write>(
    w: &mut CsvOut<W>,
    memo: &mut json::DecMemo,
    k: Key,
    r: &Row,
    filled: Option<Decimal>,
    avg: Option<Decimal>,
    child: Option<OrderId>,
) -> std::io::Result<()> {
    let (id, kind, ids) = match k {
        Key::Order(id) => (
            id.0,
            Cell(&const { json::cat::<WORD>("order", ",") }),
            ORDER_IDS,
        ),
        Key::Algo(id) => (
            id.0,
            Cell(&const { json::cat::<WORD>("algo", ",") }),
            ALGO_IDS,
        ),
    };
    put_row!(w, memo, r.symbol.len() + r.client_id.len(), |f| {
        f.num(ids, id);
        f.cell(kind);
        f.str(&r.symbol);
        f.str(&r.client_id);
        f.cell(r.otype);
        f.cell(r.orig_type);
        f.cell(r.side);
        f.cell(r.position_side);
        f.dec(r.qty);
        f.dec(r.price);
        f.dec(r.trigger);
        f.bool(r.reduce_only);
        f.bool(r.close_position);
        f.cell(r.tif);
        f.time(r.created.0);
        f.num_i64(TIMES, r.created.0);
        f.time(r.updated.0);
        f.cell(r.status);
        f.opt_dec(filled);
        f.opt_dec(avg.map(b8));
        f.opt_num(ALGO_IDS, r.from_algo.map(|a| a.0));
        f.opt_num(ORDER_IDS, child.map(|c| c.0));
    })
}

impl<W: Write> OrdersTable<W> {
    /// A table writing to `w` (the header first).
    pub(crate) fn new(w: W) -> std::io::Result<Self> {
        Ok(OrdersTable {
            w: CsvOut::new(w, &ORDER_COLUMNS)?,
            ids: IdMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            pending: VecDeque::new(),
            guess: [u32::MAX; GUESS],
        })
    }

    /// The entry of [`Self::guess`] for `k` (orders and algo orders share them).
    #[inline(always)]
    fn guess_at(k: Key) -> usize {
        let (Key::Order(OrderId(id)) | Key::Algo(AlgoId(id))) = k;
        id as usize & (GUESS - 1)
    }

    /// The slot held for `k`, if any: the guess when its slot holds `k`'s row (the row held for
    /// an id is the one the map gives: a slot is held exactly while the map names it, under its
    /// row's key), else the map's answer. (Guesses are made by [`Self::row`], which every row
    /// goes through first.)
    #[inline(always)]
    fn find(&self, k: Key) -> Option<u32> {
        let g = self.guess[Self::guess_at(k)];
        if self
            .slots
            .get(g as usize)
            .is_some_and(|r| r.held && r.key == k)
        {
            return Some(g);
        }
        self.ids.get(&k).copied()
    }

    /// The slot of `k`'s row, a new row (first seen at `r`) if none is held.
    #[inline]
    fn row(&mut self, k: Key, r: &EventRecord) -> usize {
        use std::collections::hash_map::Entry;
        let g = Self::guess_at(k);
        if self
            .slots
            .get(self.guess[g] as usize)
            .is_some_and(|row| row.held && row.key == k)
        {
            return self.guess[g] as usize;
        }
        match self.ids.entry(k) {
            Entry::Occupied(e) => {
                let s = *e.get();
                self.guess[g] = s;
                s as usize
            }
            Entry::Vacant(e) => {
                let seq = r.seq.0;
                let slot = match self.free.pop() {
                    Some(s) => {
                        // a reused slot is reset in place, not overwritten by a whole new row
                        // (a 280-byte copy): only the fields an update may leave as they are;
                        // the caller, `observe`, sets every other one
                        let row = &mut self.slots[s as usize];
                        row.key = k;
                        row.pending = true;
                        row.held = true;
                        row.created = r.time_ms;
                        row.updated = r.time_ms;
                        row.filled = None;
                        row.avg = None;
                        row.from_algo = None;
                        row.child = None;
                        row.linked = None;
                        s
                    }
                    None => {
                        self.slots.push(Row::new(k, r.time_ms));
                        u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 rows held")
                    }
                };
                e.insert(slot);
                self.guess[g] = slot;
                // records come in seq order: almost always a push at the back
                match self.pending.back() {
                    Some(&(last, _)) if last >= seq => {
                        let at = self.pending.partition_point(|&(s, _)| s < seq);
                        self.pending.insert(at, (seq, slot));
                    }
                    _ => self.pending.push_back((seq, slot)),
                }
                slot as usize
            }
        }
    }

    /// Drops the row of `k`, held in `slot`.
    #[inline]
    fn remove(&mut self, k: &Key, slot: u32) {
        self.ids.remove(k);
        self.slots[slot as usize].held = false;
        self.free.push(slot);
    }

    /// Feeds one record; writes the rows that became final (their decimals through `memo`).
    pub(crate) fn observe(
        &mut self,
        r: &EventRecord,
        memo: &mut json::DecMemo,
    ) -> std::io::Result<()> {
        let done = match &r.event {
            Event::OrderTradeUpdate(o) => {
                let slot = self.row(Key::Order(o.order_id), r);
                let done = self.slots[slot].apply_order(o, r.time_ms);
                // a child named only by its from_algo links back to its algo row (lowest id)
                if let Some(a) = o.from_algo {
                    if let Some(s) = self.find(Key::Algo(a)) {
                        let ar = &mut self.slots[s as usize];
                        ar.linked = Some(ar.linked.map_or(o.order_id, |l| l.min(o.order_id)));
                        ar.child_slot = slot as u32;
                    }
                }
                done
            }
            Event::AlgoUpdate(a) => {
                let slot = self.row(Key::Algo(a.algo_id), r);
                self.slots[slot].apply_algo(a, r.time_ms)
            }
            _ => return Ok(()),
        };
        // The front row waits for itself and, an algo row, for its child: after an update
        // leaving its row open, the front is no more final than before (and it was not, or the
        // last flush would have written it), so only an update that closes its row can let
        // rows out.
        if done {
            self.flush(false, memo)
        } else {
            Ok(())
        }
    }

    /// The child an algo row reports: the one its updates named, else one naming it.
    fn child_of(r: &Row) -> Option<OrderId> {
        r.child.or(r.linked)
    }

    /// Writes the rows at the front that are final (every row when `all`).
    fn flush(&mut self, all: bool, memo: &mut json::DecMemo) -> std::io::Result<()> {
        while let Some(&(_, slot)) = self.pending.front() {
            let r = &self.slots[slot as usize];
            let k = r.key;
            // an algo row's child row found already written (and so to drop with it): decided
            // here, on the one lookup of the child; writing the algo row takes only its own
            // `pending` entry, so the child's stays as it is
            let mut drop_child = None;
            let (filled, avg, child) = match k {
                Key::Order(_) => (r.filled, r.avg, None),
                Key::Algo(_) => {
                    let child = Self::child_of(r);
                    let c = child.and_then(|c| {
                        // the child's slot without hashing when the guess holds it (the held
                        // row of an id is the one the map gives)
                        let h = self.slots.get(r.child_slot as usize);
                        let s = if h.is_some_and(|h| h.held && h.key == Key::Order(c)) {
                            r.child_slot
                        } else {
                            self.find(Key::Order(c))?
                        };
                        Some((c, s, &self.slots[s as usize]))
                    });
                    if !all && (!r.done || c.is_some_and(|(_, _, c)| !c.done)) {
                        break;
                    }
                    match c {
                        Some((c, s, cr)) => {
                            if !cr.pending {
                                drop_child = Some((c, s));
                            }
                            (cr.filled, cr.avg, child)
                        }
                        None => (None, None, child),
                    }
                }
            };
            if !all && !r.done {
                break;
            }
            put_order_row(&mut self.w, memo, k, r, filled, avg, child)?;
            let from_algo = r.from_algo;
            self.pending.pop_front();
            // a written child row is still needed by its algo row until that one is written
            let keep = matches!(k, Key::Order(_))
                && from_algo.is_some_and(|a| {
                    self.find(Key::Algo(a))
                        .is_some_and(|s| self.slots[s as usize].pending)
                });
            if keep {
                self.slots[slot as usize].pending = false;
            } else {
                self.remove(&k, slot);
            }
            // an algo row's child row, if already written, is no longer needed
            if let Some((c, s)) = drop_child {
                self.remove(&Key::Order(c), s);
            }
        }
        Ok(())
    }

    /// Writes every row left and returns the writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        self.flush(true, &mut json::DecMemo::default())?;
        self.w.into_inner()
    }
}

/// `orders.csv`: one row per distinct order (orderId) or algo order (algoId), in the order they
/// first appear in the log; the last ORDER_TRADE_UPDATE / ALGO_UPDATE gives the final state. An
/// algo row's filled quantity and average price are its child order's.
pub fn orders_csv(log: &EventLog) -> std::io::Result<String> {
    let mut t = OrdersTable::new(Vec::new())?;
    let mut memo = json::DecMemo::default();
    for r in log.records() {
        t.observe(r, &mut memo)?;
    }
    String::from_utf8(t.finish()?).map_err(std::io::Error::other)
}

/// Builds `fills.csv` as records come: one row per TRADE or CALCULATED (liquidation)
/// ORDER_TRADE_UPDATE, in log order.
pub(crate) struct FillsTable<W: Write> {
    w: CsvOut<W>,
}

impl<W: Write> FillsTable<W> {
    /// A table writing to `w` (the header first).
    pub(crate) fn new(w: W) -> std::io::Result<Self> {
        Ok(FillsTable {
            w: CsvOut::new(w, &FILL_COLUMNS)?,
        })
    }

    /// Feeds one record; writes its row when it is a fill (its decimals through `memo`).
    pub(crate) fn observe(
        &mut self,
        r: &EventRecord,
        memo: &mut json::DecMemo,
    ) -> std::io::Result<()> {
        let Event::OrderTradeUpdate(o) = &r.event else {
            return Ok(());
        };
        if !matches!(o.exec_type, ExecType::Trade | ExecType::Calculated) {
            return Ok(());
        }
        put_row!(&mut self.w, memo, o.symbol.len(), |f| {
            f.time(r.time_ms.0);
            f.num_i64(TIMES, r.time_ms.0);
            f.num(ALGO_IDS, r.seq.0);
            f.num(ORDER_IDS, o.order_id.0);
            f.str(&o.symbol);
            f.cell(Cell::of(o.side));
            f.cell(Cell::of(o.position_side));
            f.cell(Cell::of(o.order_type));
            f.cell(Cell::of(o.orig_type));
            f.cell(Cell::of(o.exec_type));
            f.dec(o.last_qty);
            f.dec(o.last_price);
            f.dec(b8(o.commission));
            f.dec(b8(o.realized_pnl));
            f.bool(o.is_maker);
        })
    }

    /// Writes what is left and returns the writer.
    pub(crate) fn finish(self) -> std::io::Result<W> {
        self.w.into_inner()
    }
}

/// `fills.csv`: one row per TRADE or CALCULATED (liquidation) ORDER_TRADE_UPDATE, in log order.
pub fn fills_csv(log: &EventLog) -> std::io::Result<String> {
    let mut t = FillsTable::new(Vec::new())?;
    let mut memo = json::DecMemo::default();
    for r in log.records() {
        t.observe(r, &mut memo)?;
    }
    String::from_utf8(t.finish()?).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached day prefix writes exactly [`write_time_ms`]'s bytes: times in order, jumps
    /// back and forth across days, day edges, negative times and years outside 0..=9999.
    #[test]
    fn day_text_matches_write_time_ms() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut times = vec![
            0,
            -1,
            86_399_999,
            86_400_000,
            -86_400_000,
            -62_167_219_200_001,
            -62_167_219_200_000,
            253_402_300_799_999,
            253_402_300_800_000,
            i64::MIN,
            i64::MAX,
            1_680_307_199_999,
        ];
        let mut t = 1_680_307_199_000i64;
        for _ in 0..50_000 {
            t += (next() % 200_000) as i64;
            times.push(t);
        }
        // runs in one second, across seconds and back
        for _ in 0..50_000 {
            t += (next() % 1_500) as i64 - 300;
            times.push(t);
        }
        for _ in 0..20_000 {
            let v = next() as i64;
            times.push(v >> (next() % 64));
        }
        let mut cache = DayText::default();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for ms in times {
            got.clear();
            want.clear();
            cache.write(ms, &mut got);
            write_time_ms(ms, &mut want);
            assert_eq!(got, want, "{ms}");
        }
    }

    /// `b8`'s shortcut is `round_dp_with_strategy`'s own answer: the same value, the same
    /// scale and sign (a negative zero too), at every scale on both sides of 8.
    #[test]
    fn b8_matches_rounding() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut cases = vec![
            Decimal::ZERO,
            Decimal::new(-0, 9),
            Decimal::MAX,
            Decimal::MIN,
        ];
        for _ in 0..20_000 {
            let m = (next() as i64) >> (next() % 64);
            cases.push(Decimal::new(m, (next() % 29) as u32));
        }
        for d in cases {
            let want = d.round_dp_with_strategy(
                super::super::BINANCE_DP,
                rust_decimal::RoundingStrategy::MidpointAwayFromZero,
            );
            let got = b8(d);
            assert_eq!(got.serialize(), want.serialize(), "{d:?}");
        }
    }

    /// A cell is its type's `as_str` and a comma, for every variant of every column type.
    #[test]
    fn cells_are_as_str() {
        use crate::types::{OrderStatus, OrderType, PositionSide, Side, TimeInForce};
        fn check<V: Spelled>(all: &[V], as_str: fn(V) -> &'static str) {
            for &v in all {
                let mut out = Vec::new();
                json::put_word(&mut out, Cell::of(v).0);
                assert_eq!(out, format!("{},", as_str(v)).into_bytes());
            }
        }
        // every variant, from the writer's own lists (which name each variant once)
        check(json::ALL_SIDES, Side::as_str);
        check(json::ALL_POS_SIDES, PositionSide::as_str);
        check(json::ALL_ORDER_TYPES, OrderType::as_str);
        check(json::ALL_TIFS, TimeInForce::as_str);
        check(json::ALL_ORDER_STATUSES, OrderStatus::as_str);
        check(json::ALL_ALGO_STATUSES, AlgoStatus::as_str);
        check(json::ALL_EXEC_TYPES, ExecType::as_str);
        let mut out = Vec::new();
        json::put_word(&mut out, Cell::default().0);
        assert_eq!(out, b",");
    }

    /// The eight-bytes-a-step quoting test agrees with the byte-by-byte one on strings of every
    /// length up to 40 with a special byte (or a near miss: `+`, `!`, `\x0b`, `\x0c`, 0x80+) at
    /// every position, and on random bytes.
    #[test]
    fn needs_quotes_matches_the_byte_test() {
        let slow = |s: &[u8]| s.iter().any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
        let probes = [
            b',', b'"', b'\r', b'\n', b'+', b'!', 0x0b, 0x0c, 0x8a, 0xac, 0xff, 0,
        ];
        for len in 0..=40usize {
            let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(!needs_quotes(&base));
            for at in 0..len {
                for &p in &probes {
                    let mut s = base.clone();
                    s[at] = p;
                    assert_eq!(needs_quotes(&s), slow(&s), "{s:?}");
                }
            }
        }
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = (next() % 48) as usize;
            let s: Vec<u8> = (0..len).map(|_| (next() % 64) as u8).collect();
            assert_eq!(needs_quotes(&s), slow(&s), "{s:?}");
        }
    }

    /// A string cell is the `csv` crate's field for strings of every length up to past
    /// [`json::SHORT`] with a byte to quote (or a near miss) at every position: the word and
    /// vector scans of [`json::copy_short`] at each of their steps and overlaps.
    #[test]
    fn string_cells_match_the_csv_crate() {
        let probes = [
            b',', b'"', b'\r', b'\n', b'+', b'!', 0x0b, 0x0c, b'-', b'#', 0x2d, 0x7f,
        ];
        let mut cases = Vec::new();
        for len in 0..=json::SHORT + 8 {
            let base: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            cases.push(base.clone());
            for at in 0..len {
                for &p in &probes {
                    let mut b = base.clone().into_bytes();
                    b[at] = p;
                    cases.push(String::from_utf8(b).unwrap());
                }
            }
        }
        let mut want = csv::Writer::from_writer(Vec::new());
        let mut got = CsvOut::new(Vec::new(), &["s", "t"]).unwrap();
        want.write_record(["s", "t"]).unwrap();
        for s in &cases {
            want.write_record([s.as_str(), "x"]).unwrap();
            put_row!(&mut got, &mut json::DecMemo::default(), s.len(), |f| {
                f.str(s);
                f.str("x");
            })
            .unwrap();
        }
        let got = String::from_utf8(got.into_inner().unwrap()).unwrap();
        let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
        for (g, w) in got.lines().zip(want.lines()) {
            assert_eq!(g, w);
        }
        assert_eq!(got, want);
    }

    /// The hand-written rows are the `csv` crate's bytes (default writer): quoting of `,` `"`
    /// `\r` `\n` anywhere in a field, doubled quotes, empty fields, chunk boundaries.
    #[test]
    fn rows_match_the_csv_crate() {
        use crate::types::Side;
        let long = "x".repeat(300);
        let long_quoted = format!("{},\"{}", "y".repeat(200), "z".repeat(100));
        let specials = [
            "",
            "a",
            "a,b",
            "\"q\"",
            "x\ny",
            "x\rz",
            " lead",
            "é,€",
            "\"",
            ",",
            "#c",
            "FILUSDT",
            "ocoE-lfx7k3o22-4dh-4er",
            &long,
            &long_quoted,
        ];
        let mut want = csv::Writer::from_writer(Vec::new());
        let header = ["s", "t", "n", "m", "d", "b", "c", "w"];
        // rows written in place whenever they may be, and every row through the spill buffer:
        // the same bytes, the csv crate's
        let mut got = CsvOut::new(Vec::new(), &header).unwrap();
        let mut spilled = CsvOut::new(Vec::new(), &header).unwrap();
        want.write_record(header).unwrap();
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut i: u64 = 0;
        let mut ms = 1_680_307_199_000i64;
        for _ in 0..2_000 {
            for s in specials {
                i += 1;
                let t = specials[(i % specials.len() as u64) as usize];
                let d = Decimal::new(i as i64 * 7 - 5_000, (i % 5) as u32);
                let n = i * 1_000_003;
                let m = next() >> (next() % 64);
                ms += (next() % 3_000) as i64;
                let time = if i % 97 == 0 { i64::MIN / 3 } else { ms };
                let mut time_text = Vec::new();
                write_time_ms(time, &mut time_text);
                want.write_record([
                    s.to_string(),
                    t.to_string(),
                    n.to_string(),
                    m.to_string(),
                    d.to_string(),
                    (i % 2 == 0).to_string(),
                    String::from_utf8(time_text).unwrap(),
                    Side::Sell.as_str().to_string(),
                ])
                .unwrap();
                for (out, text) in [(&mut got, s.len() + t.len()), (&mut spilled, usize::MAX)] {
                    put_row!(out, &mut json::DecMemo::default(), text, |f| {
                        f.str(s);
                        f.str(t);
                        f.u64(n);
                        f.num(TIMES, m);
                        f.dec(d);
                        f.bool(i % 2 == 0);
                        f.time(time);
                        f.cell(Cell::of(Side::Sell));
                    })
                    .unwrap();
                }
            }
        }
        let got = got.into_inner().unwrap();
        let spilled = spilled.into_inner().unwrap();
        assert!(got.len() > 2 * CHUNK, "several chunks");
        let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want);
        assert_eq!(String::from_utf8(spilled).unwrap(), want);
    }

    /// The table before its rows went into a slab (rows held by value in a hash map by id,
    /// `pending` by key and first seq), kept as the reference for [`OrdersTable`].
    struct MapTable {
        w: CsvOut<Vec<u8>>,
        rows: IdMap<Key, (u64, Row)>,
        pending: VecDeque<(u64, Key)>,
    }

    impl MapTable {
        fn row(&mut self, k: Key, r: &EventRecord) -> &mut Row {
            let pending = &mut self.pending;
            &mut self
                .rows
                .entry(k)
                .or_insert_with(|| {
                    let seq = r.seq.0;
                    match pending.back() {
                        Some(&(last, _)) if last >= seq => {
                            let at = pending.partition_point(|&(s, _)| s < seq);
                            pending.insert(at, (seq, k));
                        }
                        _ => pending.push_back((seq, k)),
                    }
                    (seq, Row::new(k, r.time_ms))
                })
                .1
        }

        fn is_pending(pending: &VecDeque<(u64, Key)>, seq: u64) -> bool {
            pending.binary_search_by_key(&seq, |&(s, _)| s).is_ok()
        }

        fn observe(&mut self, r: &EventRecord) {
            let done = match &r.event {
                Event::OrderTradeUpdate(o) => {
                    let done = self
                        .row(Key::Order(o.order_id), r)
                        .apply_order(o, r.time_ms);
                    if let Some(a) = o.from_algo {
                        if let Some((_, ar)) = self.rows.get_mut(&Key::Algo(a)) {
                            ar.linked = Some(ar.linked.map_or(o.order_id, |l| l.min(o.order_id)));
                        }
                    }
                    done
                }
                Event::AlgoUpdate(a) => self.row(Key::Algo(a.algo_id), r).apply_algo(a, r.time_ms),
                _ => return,
            };
            if done {
                self.flush(false);
            }
        }

        fn flush(&mut self, all: bool) {
            while let Some(&(_, k)) = self.pending.front() {
                let r = &self.rows[&k].1;
                let mut drop_child = None;
                let (filled, avg, child) = match k {
                    Key::Order(_) => (r.filled, r.avg, None),
                    Key::Algo(_) => {
                        let child = r.child.or(r.linked);
                        let c = child.and_then(|c| self.rows.get(&Key::Order(c)));
                        if !all && (!r.done || c.is_some_and(|(_, c)| !c.done)) {
                            break;
                        }
                        match c {
                            Some((seq, cr)) => {
                                if !Self::is_pending(&self.pending, *seq) {
                                    drop_child = child;
                                }
                                (cr.filled, cr.avg, child)
                            }
                            None => (None, None, child),
                        }
                    }
                };
                if !all && !r.done {
                    break;
                }
                // a memo of its own per row: the reference writes every decimal's digits
                let memo = &mut json::DecMemo::default();
                put_order_row(&mut self.w, memo, k, r, filled, avg, child).unwrap();
                self.pending.pop_front();
                let keep = matches!(k, Key::Order(_))
                    && r.from_algo.is_some_and(|a| {
                        self.rows
                            .get(&Key::Algo(a))
                            .is_some_and(|(seq, _)| Self::is_pending(&self.pending, *seq))
                    });
                if !keep {
                    self.rows.remove(&k);
                }
                if let Some(c) = drop_child {
                    self.rows.remove(&Key::Order(c));
                }
            }
        }
    }

    /// The slab table writes what the hash-map table wrote, at the same records (the bytes out
    /// after each one), and holds the same rows, over random runs of order and algo updates:
    /// few ids (so rows are dropped and made again, slots reused), children named by the algo
    /// row, by their from_algo, both or neither, before or after their algo row, final or not
    /// (a legacy stop's trigger expiry too), and every field changing, so that a reused slot
    /// keeping anything of its last row shows.
    #[test]
    fn slab_rows_match_the_map_table() {
        use crate::api::AlgoUpdate;
        use crate::events::{OrderUpdate, Source};
        use crate::types::{OrderStatus, PositionSide, Seq, Side, TimeInForce, WorkingType};
        let mut next = crate::types::xorshift(0xD1B5_4A32_D192_ED03);
        let mut rows_written = 0usize;
        let mut max_slots = 0usize;
        for run in 0..400u64 {
            let mut new = OrdersTable::new(Vec::new()).unwrap();
            let mut memo = json::DecMemo::default();
            let mut old = MapTable {
                w: CsvOut::new(Vec::new(), &ORDER_COLUMNS).unwrap(),
                rows: IdMap::default(),
                pending: VecDeque::new(),
            };
            let orders = 1 + next() % 12;
            let algos = 1 + next() % 8;
            let len = next() % 600;
            let mut ms = 1_680_307_199_000i64;
            let pick = |n: u64, next: &mut dyn FnMut() -> u64| (next() % n) as usize;
            for seq in 0..len {
                ms += (next() % 5_000) as i64;
                // half of them from a few values (the same mantissas at other scales and
                // signs among them), so the decimals' memo finds some and not others
                let dec = |next: &mut dyn FnMut() -> u64| {
                    if next() % 2 == 0 {
                        let m = [1_000, 1_007, 123_456, -123_456][(next() % 4) as usize];
                        Decimal::new(m, (next() % 4) as u32)
                    } else {
                        Decimal::new((next() % 2_000_000) as i64 - 1_000, (next() % 10) as u32)
                    }
                };
                let names = ["FILUSDT", "BTCUSDT", "x,y", "", "ocoE-lfx7k3o22-4dh-4er"];
                let event = match next() % 9 {
                    0..=4 => {
                        let id = 1 + next() % orders;
                        let mut o = OrderUpdate::accepted_for_test(
                            names[pick(5, &mut next)],
                            names[pick(5, &mut next)].to_string(),
                            id,
                            json::ALL_SIDES[pick(json::ALL_SIDES.len() as u64, &mut next)],
                            json::ALL_ORDER_TYPES
                                [pick(json::ALL_ORDER_TYPES.len() as u64, &mut next)],
                            dec(&mut next),
                        );
                        o.orig_type = json::ALL_ORDER_TYPES
                            [pick(json::ALL_ORDER_TYPES.len() as u64, &mut next)];
                        o.time_in_force =
                            json::ALL_TIFS[pick(json::ALL_TIFS.len() as u64, &mut next)];
                        o.position_side =
                            json::ALL_POS_SIDES[pick(json::ALL_POS_SIDES.len() as u64, &mut next)];
                        o.price = dec(&mut next);
                        o.stop_price = dec(&mut next);
                        o.cum_qty = dec(&mut next);
                        o.avg_price = dec(&mut next);
                        o.reduce_only = next() % 2 == 0;
                        o.close_position = next() % 2 == 0;
                        // terminal often, so rows go out and ids come back
                        o.status = if next() % 2 == 0 {
                            OrderStatus::Filled
                        } else {
                            json::ALL_ORDER_STATUSES
                                [pick(json::ALL_ORDER_STATUSES.len() as u64, &mut next)]
                        };
                        o.exec_type = json::ALL_EXEC_TYPES
                            [pick(json::ALL_EXEC_TYPES.len() as u64, &mut next)];
                        if next() % 3 == 0 {
                            o.exec_type = ExecType::Expired;
                            o.expiry_reason = ExpiryReason::LegacyTriggered;
                        }
                        if next() % 3 != 0 {
                            o.from_algo = Some(AlgoId(1 + next() % algos));
                        }
                        Event::OrderTradeUpdate(o)
                    }
                    5..=7 => Event::AlgoUpdate(AlgoUpdate {
                        symbol: names[pick(5, &mut next)].into(),
                        client_algo_id: names[pick(5, &mut next)].into(),
                        algo_id: AlgoId(1 + next() % algos),
                        order_type: json::ALL_ORDER_TYPES
                            [pick(json::ALL_ORDER_TYPES.len() as u64, &mut next)],
                        side: if next() % 2 == 0 {
                            Side::Buy
                        } else {
                            Side::Sell
                        },
                        position_side: PositionSide::Both,
                        time_in_force: TimeInForce::Gtc,
                        quantity: dec(&mut next),
                        status: json::ALL_ALGO_STATUSES
                            [pick(json::ALL_ALGO_STATUSES.len() as u64, &mut next)],
                        actual_order_id: (next() % 2 == 0).then(|| OrderId(1 + next() % orders)),
                        trigger_price: dec(&mut next),
                        price: dec(&mut next),
                        close_position: next() % 2 == 0,
                        reduce_only: next() % 2 == 0,
                        working_type: WorkingType::ContractPrice,
                        reject_reason: String::new(),
                    }),
                    _ => Event::StreamDropped { of: Seq(0) },
                };
                let r = EventRecord {
                    seq: Seq(seq),
                    time_ms: TimeMs(ms),
                    source: Source::Exchange,
                    event,
                };
                new.observe(&r, &mut memo).unwrap();
                old.observe(&r);
                assert_eq!(
                    new.w.w.len() + new.w.len,
                    old.w.w.len() + old.w.len,
                    "run {run} seq {seq}"
                );
                assert_eq!(new.ids.len(), old.rows.len(), "run {run} seq {seq}");
                assert_eq!(new.pending.len(), old.pending.len(), "run {run} seq {seq}");
                assert_eq!(new.slots.len() - new.free.len(), new.ids.len());
                max_slots = max_slots.max(new.slots.len());
            }
            old.flush(true);
            let got = String::from_utf8(new.finish().unwrap()).unwrap();
            let want = String::from_utf8(old.w.into_inner().unwrap()).unwrap();
            rows_written += want.lines().count() - 1;
            assert_eq!(got, want, "run {run}");
        }
        // the runs wrote many rows and reused slots
        assert!(rows_written > 10_000, "{rows_written}");
        assert!(max_slots < 40, "{max_slots}");
    }
}
