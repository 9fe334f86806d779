//! A hand-rolled JSON writer for the hot event kinds of `events.jsonl`.
//!
//! Contract: [`write_record`] appends EXACTLY the bytes `serde_json::to_writer` produces for an
//! [`EventRecord`] (same key order, same escaping, `Decimal` as rust_decimal's `serde-str` string),
//! but writes keys as literal byte strings, scans strings once and escapes only when a byte needs it,
//! and writes integers and decimals without the formatting machinery. Each value goes out in one
//! fixed-size append together with the text after it (the next key, see [`Then`]), so a field
//! costs one append, not two to four; seqs, times and ids reuse the digits of the record before
//! (see [`Stamps`]). The hot kinds (requests,
//! responses, order/algo/account updates, equity samples, stream drop/duplicate marks and the
//! per-trade engine annotations) are hand-written; every other kind falls back to
//! `serde_json::to_writer` into the same buffer. Tests compare both byte for byte.

use super::*;
use crate::api::{ApiError, NewAlgoOrder, NewOrder, RespType, TransportError};
use crate::types::{put_u64, DIGITS2, POW10_U64};
use std::cell::RefCell;

/// Appends the JSON of `r` (no newline) to `out`: the bytes `serde_json::to_writer(out, r)` writes.
pub fn write_record(r: &EventRecord, out: &mut Vec<u8>) {
    write_record_with(r, out, &mut Stamps::default());
}

/// Writes `r` with serde_json when it is of a cold kind (see [`is_hot`]); whether it was.
fn cold(r: &EventRecord, out: &mut Vec<u8>) -> bool {
    if is_hot(&r.event) {
        return false;
    }
    // a Vec<u8> writer cannot fail
    serde_json::to_writer(&mut *out, r).expect("serialising an event record cannot fail");
    true
}

/// The digits of the last `seq`, `time_ms` and ids written by one writer: a log's records come
/// with consecutive seqs, often share their time (a request's `sent_ms` is near it too, and
/// shares its digits) and name the same or the next orders (wherever a record names an order
/// or an algo order: updates, children, entries, pair legs), so
/// [`write_record_with`] increments the seq's digits in place and rewrites only the low digits
/// of the others (see [`Digits`]) instead of dividing them all out again.
#[derive(Debug, Clone)]
pub struct Stamps {
    /// The last seq and its digits, right-aligned in `seq_buf[..DIGITS]` from `seq_at` (the
    /// rest is the slack of the fixed-size append, see [`put_first`]).
    seq: Option<u64>,
    seq_buf: [u8; STAMP],
    seq_at: usize,
    /// The last time (when not negative).
    time: Digits,
    /// The last order id (ORDER_TRADE_UPDATE's, an algo order's child) and algo id.
    order_id: Digits,
    algo_id: Digits,
    /// The last call number (a request's, then its response's: the same).
    call: Digits,
    /// The text of the decimals written lately (see [`DecMemo`]).
    dec: DecMemo,
}

impl Default for Stamps {
    fn default() -> Stamps {
        Stamps {
            seq: None,
            seq_buf: [0; STAMP],
            seq_at: DIGITS,
            time: Digits::default(),
            order_id: Digits::default(),
            algo_id: Digits::default(),
            call: Digits::default(),
            dec: DecMemo::default(),
        }
    }
}

/// The digits of the last number one field wrote, right-aligned in `buf[..DIGITS]` from `at`
/// (the rest is the slack of [`put_digits`]). Times and ids mostly come again or move on
/// within the last five digits: then only those are rewritten.
#[derive(Debug, Clone)]
pub(crate) struct Digits {
    last: Option<u64>,
    /// `last` with its last five digits zeroed when `last` has more than five digits, else 0:
    /// a number `v` in `base..base + LOW` (`base` not 0) has the same digits above the last
    /// five, without a division to tell.
    base: u64,
    buf: [u8; STAMP],
    at: usize,
}

impl Default for Digits {
    fn default() -> Digits {
        Digits {
            last: None,
            base: 0,
            buf: [0; STAMP],
            at: DIGITS,
        }
    }
}

impl Digits {
    /// Appends `v` in decimal (the bytes of [`u64_`]), then `T::TEXT`.
    #[inline(always)]
    pub(crate) fn put<T: Then>(&mut self, out: &mut impl Out, v: u64, _: T) {
        const LOW: u64 = 100_000;
        match self.last {
            Some(last) if last == v => {}
            // the same digits above the last five (`base` is set only for a number of at least
            // LOW, so both have as many digits): only those five are rewritten, zero-padded
            Some(_) if self.base != 0 && v >= self.base && v - self.base < LOW => {
                let low = (v - self.base) as u32;
                let (hi, mid, lo) = (low / 10_000, low / 100 % 100 * 2, low % 100 * 2);
                let (mid, lo) = (mid as usize, lo as usize);
                let b = &mut self.buf;
                b[DIGITS - 5] = b'0' + hi as u8;
                b[DIGITS - 4..DIGITS - 2].copy_from_slice(&DIGITS2[mid..mid + 2]);
                b[DIGITS - 2..DIGITS].copy_from_slice(&DIGITS2[lo..lo + 2]);
            }
            _ => {
                self.at = put_u64(&mut self.buf[..DIGITS], v);
                self.base = if v >= LOW { v - v % LOW } else { 0 };
            }
        }
        self.last = Some(v);
        put_digits::<T>(out, &mut self.buf, self.at);
    }

    /// Appends `v` in decimal (the bytes of [`i64_then`]), then `T::TEXT`: a negative one
    /// apart, without touching the digits held.
    #[inline(always)]
    pub(crate) fn put_i64<T: Then>(&mut self, out: &mut impl Out, v: i64, t: T) {
        if v >= 0 {
            self.put(out, v as u64, t);
        } else {
            i64_then(out, v, t);
        }
    }
}

/// Room for the digits of any u64, or an i64 and its sign.
const DIGITS: usize = 20;

/// Appends `w[..n]` (`n <= N`) as one fixed-size copy and a truncation: the compiler turns a
/// copy of a known size into a few register moves, where a copy of a length known only at run
/// time is a call to `memcpy` (most of the cost of appending a number of a few digits).
#[inline(always)]
pub(crate) fn put_first<const N: usize>(out: &mut impl Out, w: &[u8; N], n: usize) {
    out.put_first(w, n);
}

/// Where the writers append: a file's buffer (`Vec<u8>`), or a [`Window`].
pub(crate) trait Out {
    /// Appends `w[..n]` (`n <= N`), see [`put_first`].
    fn put_first<const N: usize>(&mut self, w: &[u8; N], n: usize);
    /// Appends `s`.
    fn extend_from_slice(&mut self, s: &[u8]);
    /// Appends `b`.
    fn push(&mut self, b: u8);
    /// Replaces the last byte written, if any, by `b` (a CSV row's last comma by its newline).
    fn set_last(&mut self, b: u8);
    /// Room for `N` bytes at the end, to write a short value in place: the caller writes the
    /// first `n` of them (each of those: the room holds whatever it held before), then calls
    /// `commit::<N>(n)`. A [`Window`] hands over its own bytes, so the value is written once,
    /// with no buffer to clear first and none to copy from after (a `Vec` grows by `N` zeros
    /// and `commit` cuts it back). `None` when the room is not there (the window is then marked
    /// overflowed, and nothing more is written).
    fn room<const N: usize>(&mut self) -> Option<&mut [u8; N]>;
    /// Keeps the first `n` bytes (`n <= N`) of the last [`Out::room`] as written.
    fn commit<const N: usize>(&mut self, n: usize);
}

/// A writer borrowed (a CSV row written into a file's spill buffer).
impl<T: Out + ?Sized> Out for &mut T {
    #[inline(always)]
    fn put_first<const N: usize>(&mut self, w: &[u8; N], n: usize) {
        (**self).put_first(w, n);
    }
    #[inline(always)]
    fn extend_from_slice(&mut self, s: &[u8]) {
        (**self).extend_from_slice(s);
    }
    #[inline(always)]
    fn push(&mut self, b: u8) {
        (**self).push(b);
    }
    #[inline(always)]
    fn set_last(&mut self, b: u8) {
        (**self).set_last(b);
    }
    #[inline(always)]
    fn room<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        (**self).room()
    }
    #[inline(always)]
    fn commit<const N: usize>(&mut self, n: usize) {
        (**self).commit::<N>(n);
    }
}

impl Out for Vec<u8> {
    #[inline(always)]
    fn put_first<const N: usize>(&mut self, w: &[u8; N], n: usize) {
        debug_assert!(n <= N);
        let len = self.len();
        Vec::extend_from_slice(self, w);
        self.truncate(len + n);
    }
    #[inline(always)]
    fn extend_from_slice(&mut self, s: &[u8]) {
        Vec::extend_from_slice(self, s);
    }
    #[inline(always)]
    fn push(&mut self, b: u8) {
        Vec::push(self, b);
    }
    #[inline(always)]
    fn set_last(&mut self, b: u8) {
        if let Some(last) = self.last_mut() {
            *last = b;
        }
    }
    #[inline(always)]
    fn room<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        let len = self.len();
        self.resize(len + N, 0);
        Some((&mut self[len..]).try_into().expect("N bytes"))
    }
    #[inline(always)]
    fn commit<const N: usize>(&mut self, n: usize) {
        debug_assert!(n <= N && self.len() >= N);
        self.truncate(self.len() - N + n);
    }
}

/// Room for a record written through a [`Window`] (a hot record takes under 1,000 bytes unless
/// its strings are long; one that does not fit goes the `Vec` way, see [`write_window`]).
pub const WIN: usize = 4096;

/// A record written into a fixed array (see [`write_window`]): an append to a `Vec` loads its
/// length and capacity, checks the room and stores the length back, about ten instructions,
/// twenty-odd times a record; here the length stays in a register and the room is one compare.
/// An append that does not fit writes nothing and marks the window [`Window::overflowed`] (the
/// compare costs what the slice's bounds check did): [`write_window`] then hands the record to
/// the `Vec` path instead, so no record has to be measured before it is written.
pub(crate) struct Window<'a, const B: usize = WIN> {
    buf: &'a mut [u8; B],
    len: usize,
    over: bool,
}

impl<'a, const B: usize> Window<'a, B> {
    /// An empty window over `buf`.
    #[inline(always)]
    pub(crate) fn new(buf: &'a mut [u8; B]) -> Self {
        Window {
            buf,
            len: 0,
            over: false,
        }
    }

    /// The bytes written.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether some append did not fit (the bytes are then not the record's).
    #[inline(always)]
    pub(crate) fn overflowed(&self) -> bool {
        self.over
    }

    /// An append that does not fit: nothing written, the window marked. Inlined, as every
    /// append: a window whose address reaches no call stays in registers (see [`event`]).
    #[inline(always)]
    fn overflow(&mut self) {
        unlikely();
        self.over = true;
    }
}

impl<const B: usize> Out for Window<'_, B> {
    #[inline(always)]
    fn put_first<const N: usize>(&mut self, w: &[u8; N], n: usize) {
        debug_assert!(n <= N);
        match self.buf.get_mut(self.len..self.len + N) {
            Some(dst) => {
                dst.copy_from_slice(w);
                self.len += n;
            }
            None => self.overflow(),
        }
    }
    #[inline(always)]
    fn extend_from_slice(&mut self, s: &[u8]) {
        match self.buf.get_mut(self.len..self.len + s.len()) {
            Some(dst) => {
                dst.copy_from_slice(s);
                self.len += s.len();
            }
            None => self.overflow(),
        }
    }
    #[inline(always)]
    fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(dst) => {
                *dst = b;
                self.len += 1;
            }
            None => self.overflow(),
        }
    }
    #[inline(always)]
    fn set_last(&mut self, b: u8) {
        if self.len > 0 {
            self.buf[self.len - 1] = b;
        }
    }
    #[inline(always)]
    fn room<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        if self.len + N > B {
            self.overflow();
            return None;
        }
        let dst = &mut self.buf[self.len..self.len + N];
        Some(dst.try_into().expect("N bytes"))
    }
    #[inline(always)]
    fn commit<const N: usize>(&mut self, n: usize) {
        debug_assert!(n <= N);
        self.len += n;
    }
}

/// A call on a path taken once in a long while: the compiler lays out the path that makes it
/// apart (a `#[cold]` function takes no window, so none escapes through it).
#[cold]
#[inline(never)]
fn unlikely() {}

/// Appends the `DIGITS - at` bytes of `buf` from `at`, then `T::TEXT` (written into `buf`
/// after the digits first; `buf` has `DIGITS + TW` bytes of slack).
#[inline(always)]
fn put_digits<T: Then>(out: &mut impl Out, buf: &mut [u8; STAMP], at: usize) {
    let t: &mut [u8; TW] = (&mut buf[DIGITS..DIGITS + TW])
        .try_into()
        .expect("a TW-byte window");
    *t = *then_text::<T>();
    let w: &[u8; DIGITS + TW] = buf[at..at + DIGITS + TW]
        .try_into()
        .expect("a window of DIGITS + TW bytes");
    put_first(out, w, DIGITS - at + T::TEXT.len());
}

/// A stamp's buffer: its digits right-aligned in the first `DIGITS` bytes, then the slack of
/// [`put_digits`].
const STAMP: usize = 2 * DIGITS + TW;

/// A text fixed at compile time that a writer appends right after its value, in the same
/// fixed-size copy as the value (see [`put_first`]): the next key of an object with the quotes
/// around it, a CSV comma. Most fields then cost one append instead of two or three. Made by
/// `then!`.
pub(crate) trait Then {
    /// The text (at most [`TW`] bytes).
    const TEXT: &'static str;
}

/// A value of a fresh [`Then`] type whose text is `$s` (a writer takes it only to know the type).
macro_rules! then {
    ($s:expr) => {{
        struct T;
        impl $crate::events::json::Then for T {
            const TEXT: &'static str = $s;
        }
        T
    }};
}

/// Room for a [`Then`] text (the longest, `","liquidation_price":"`, has 23 bytes). Small on
/// purpose: every value's window is copied whole, 16 bytes a move, so a number's or a
/// spelling's window with the text fits 48 bytes (three moves; a longer text is appended apart).
pub(crate) const TW: usize = 24;

/// `a` then `b`, zero-padded to `N` bytes, and their length, at compile time.
pub(crate) const fn cat<const N: usize>(a: &str, b: &str) -> ([u8; N], usize) {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    assert!(a.len() + b.len() <= N, "text too long for its window");
    let mut w = [0u8; N];
    let mut i = 0;
    while i < a.len() {
        w[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        w[i + j] = b[j];
        j += 1;
    }
    (w, a.len() + b.len())
}

/// `T::TEXT` zero-padded to [`TW`] bytes (a compile-time constant).
#[inline(always)]
fn then_text<T: Then>() -> &'static [u8; TW] {
    &const { cat::<TW>("", T::TEXT).0 }
}

impl Stamps {
    /// The text of the decimals this writer wrote lately: the report tables write theirs
    /// through it too (see [`DecMemo`]).
    pub(crate) fn memo(&mut self) -> &mut DecMemo {
        &mut self.dec
    }

    /// Appends the digits of `v`, then `T::TEXT`.
    #[inline(always)]
    fn seq<T: Then>(&mut self, out: &mut impl Out, v: u64, _: T) {
        match self.seq {
            Some(last) if Some(v) == last.checked_add(1) => {
                // add one to the decimal digits: trailing 9s become 0s, then a carry
                let mut i = DIGITS;
                loop {
                    i -= 1;
                    if self.seq_buf[i] == b'9' {
                        self.seq_buf[i] = b'0';
                        if i == self.seq_at {
                            self.seq_at -= 1;
                            self.seq_buf[self.seq_at] = b'1';
                            break;
                        }
                    } else {
                        self.seq_buf[i] += 1;
                        break;
                    }
                }
            }
            Some(last) if last == v => {}
            _ => self.seq_at = put_u64(&mut self.seq_buf[..DIGITS], v),
        }
        self.seq = Some(v);
        put_digits::<T>(out, &mut self.seq_buf, self.seq_at);
    }

    /// Appends `v` in decimal, then `T::TEXT`.
    #[inline(always)]
    fn time<T: Then>(&mut self, out: &mut impl Out, v: i64, t: T) {
        self.time.put_i64(out, v, t);
    }
}

/// [`write_record`] with the digits of the previous record's seq and time at hand (see
/// [`Stamps`]); the same bytes.
pub fn write_record_with(r: &EventRecord, out: &mut Vec<u8>, stamps: &mut Stamps) {
    if cold(r, out) {
        return;
    }
    let hot = record(out, r, stamps);
    debug_assert!(hot, "is_hot and event disagree");
}

/// A hot record (see [`write_record_with`]); false, after writing its head, for a cold kind
/// (see [`is_hot`]), whose bytes the caller then drops.
#[inline(always)]
fn record(out: &mut impl Out, r: &EventRecord, stamps: &mut Stamps) -> bool {
    out.extend_from_slice(b"{\"seq\":");
    stamps.seq(out, r.seq.0, then!(",\"time_ms\":"));
    // the time and the source in one append (`event` goes on with `,"event":`)
    let t = r.time_ms.0;
    match r.source {
        Source::Exchange => stamps.time(out, t, then!(",\"source\":\"exchange\"")),
        Source::Engine => stamps.time(out, t, then!(",\"source\":\"engine\"")),
        Source::Sim => stamps.time(out, t, then!(",\"source\":\"sim\"")),
    }
    event(out, &r.event, stamps)
}

/// [`write_record_with`] into the start of `win`: the number of bytes written (less than
/// [`WIN`], so a newline fits after them), or `None` for a record of a cold kind (see
/// [`is_hot`]) or one that does not fit (then the bytes of `win` are not the record's and the
/// caller writes it with [`write_record_with`], the same `stamps`: they then hold this record's
/// numbers, which [`Stamps`] writes again from its digits). The bytes of `win` after those
/// written may be changed too. A caller keeping its file's buffer as a plain array hands a window
/// of it here, and the record is written in place: no `Vec` length or capacity to check and
/// store per value, no copy after (see [`Window`]), and no pass over the record before to tell
/// whether it fits (the window finds out as it writes).
pub fn write_window(r: &EventRecord, win: &mut [u8; WIN], stamps: &mut Stamps) -> Option<usize> {
    let mut w = Window::new(win);
    let hot = record(&mut w, r, stamps);
    (hot && !w.over && w.len < WIN).then_some(w.len)
}

/// Writes `r` and a newline into `w` through a reused per-thread buffer: one `write_all` per record.
pub fn write_line(w: &mut impl std::io::Write, r: &EventRecord) -> std::io::Result<()> {
    thread_local! {
        static BUF: RefCell<(Vec<u8>, Stamps)> =
            RefCell::new((Vec::with_capacity(1024), Stamps::default()));
    }
    BUF.with(|b| {
        let (buf, stamps) = &mut *b.borrow_mut();
        buf.clear();
        write_record_with(r, buf, stamps);
        buf.push(b'\n');
        w.write_all(buf)
    })
}

/// Whether `e` has a hand-written form (the rest go through serde_json).
fn is_hot(e: &Event) -> bool {
    match e {
        Event::Warning { .. } | Event::External { .. } => false,
        Event::Engine(en) => matches!(
            en,
            EngineEvent::Signal { .. }
                | EngineEvent::SignalResult { .. }
                | EngineEvent::EntryAccepted { .. }
                | EngineEvent::PairPlaced { .. }
                | EngineEvent::PairDropped { .. }
        ),
        _ => true,
    }
}

/// The rest of a record after its source: `,"event":{…}}`, both closing braces included (the
/// last field's value writes them in its append); false (nothing written) for a cold kind.
/// Everything a record's writing calls that takes `out` is inlined into it, down to the slow
/// paths: a [`Window`] whose address reaches no call is kept in registers (its length is not
/// loaded and stored back around every append, as when a call could see it).
#[inline(always)]
fn event(out: &mut impl Out, e: &Event, st: &mut Stamps) -> bool {
    match e {
        Event::Request {
            call,
            endpoint,
            sent_ms,
            params,
        } => {
            out.extend_from_slice(b",\"event\":{\"type\":\"request\",\"call\":");
            st.call.put(out, *call, then!(",\"endpoint\":"));
            endpoint_(out, *endpoint, then!(",\"sent_ms\":"));
            let sent = sent_ms.0;
            match params {
                RequestParams::Order(o) => {
                    st.time.put_i64(out, sent, then!(",\"params\":{\"order\":"));
                    new_order(out, o, &mut st.dec);
                }
                RequestParams::Algo(a) => {
                    st.time.put_i64(out, sent, then!(",\"params\":{\"algo\":"));
                    new_algo(out, a, &mut st.dec);
                }
                RequestParams::Other(s) => {
                    st.time.put_i64(out, sent, then!(",\"params\":{\"other\":"));
                    str_(out, s);
                }
            }
            out.extend_from_slice(b"}}}");
        }
        Event::Response {
            call,
            endpoint,
            outcome,
        } => {
            out.extend_from_slice(b",\"event\":{\"type\":\"response\",\"call\":");
            st.call.put(out, *call, then!(",\"endpoint\":"));
            match outcome {
                CallOutcome::Ok(s) => {
                    endpoint_(out, *endpoint, then!(",\"outcome\":{\"ok\":"));
                    str_then(out, s, then!("}}}"));
                }
                CallOutcome::Rejected(e) => {
                    endpoint_(out, *endpoint, then!(",\"outcome\":{\"rejected\":"));
                    api_error(out, e);
                    out.extend_from_slice(b"}}}");
                }
                CallOutcome::Fault { error, reached } => {
                    endpoint_(out, *endpoint, then!(",\"outcome\":{\"fault\":"));
                    out.extend_from_slice(b"{\"error\":");
                    match error {
                        TransportError::Timeout => out.extend_from_slice(b"\"timeout\""),
                        TransportError::ServerError => out.extend_from_slice(b"\"server_error\""),
                        TransportError::ServerStatus(s) => {
                            out.extend_from_slice(b"{\"server_status\":");
                            u64_then(out, u64::from(*s), then!("}"));
                        }
                    }
                    out.extend_from_slice(b",\"reached\":");
                    bool_then(out, *reached, then!("}}}}"));
                }
            }
        }
        Event::OrderTradeUpdate(o) => {
            out.extend_from_slice(b",\"event\":{\"type\":\"order_trade_update\",\"symbol\":");
            order_update(out, o, st);
        }
        Event::AlgoUpdate(a) => {
            out.extend_from_slice(b",\"event\":{\"type\":\"algo_update\",\"symbol\":");
            algo_update(out, a, st);
        }
        Event::AccountUpdate(a) => account_update(out, a, &mut st.dec),
        Event::StreamDropped { of } => {
            out.extend_from_slice(b",\"event\":{\"type\":\"stream_dropped\",\"of\":");
            u64_then(out, of.0, then!("}}"));
        }
        Event::StreamDuplicated { of } => {
            out.extend_from_slice(b",\"event\":{\"type\":\"stream_duplicated\",\"of\":");
            u64_then(out, of.0, then!("}}"));
        }
        Event::Equity {
            wallet,
            unrealized,
            price,
        } => {
            out.extend_from_slice(b",\"event\":{\"type\":\"equity\",\"wallet\":\"");
            dec_then(out, wallet, then!("\",\"unrealized\":\""));
            dec_m(out, unrealized, &mut st.dec, then!("\",\"price\":\""));
            dec_m(out, price, &mut st.dec, then!("\"}}"));
        }
        Event::Engine(en) => {
            out.extend_from_slice(b",\"event\":{\"type\":\"engine\",\"kind\":");
            return engine(out, en, st);
        }
        Event::Warning { .. } | Event::External { .. } => return false,
    }
    true
}

/// The body of an engine event after `"kind":`, through the record's closing braces; false
/// (nothing written) for a cold kind (see [`is_hot`]).
#[inline(always)]
fn engine(out: &mut impl Out, e: &EngineEvent, st: &mut Stamps) -> bool {
    match e {
        EngineEvent::Signal {
            id,
            action,
            symbol,
            quantity,
            stop_loss,
            take_profit,
        } => {
            out.extend_from_slice(b"\"signal\",\"id\":");
            str_then(out, id, then!(",\"action\":"));
            str_then(out, action, then!(",\"symbol\":"));
            str_then(out, symbol, then!(",\"quantity\":\""));
            dec_m(out, quantity, &mut st.dec, then!("\",\"stop_loss\":"));
            opt_dec(out, stop_loss, &mut st.dec);
            out.extend_from_slice(b",\"take_profit\":");
            opt_dec(out, take_profit, &mut st.dec);
            out.extend_from_slice(b"}}");
        }
        EngineEvent::SignalResult { id, status, detail } => {
            out.extend_from_slice(b"\"signal_result\",\"id\":");
            str_then(out, id, then!(",\"status\":"));
            str_then(out, status, then!(",\"detail\":"));
            str_then(out, detail, then!("}}"));
        }
        EngineEvent::EntryAccepted {
            symbol,
            position_side,
            order_id,
            wants_stop,
        } => {
            out.extend_from_slice(b"\"entry_accepted\",\"symbol\":");
            str_then(out, symbol, then!(",\"position_side\":"));
            pos_side_(out, *position_side, then!(",\"order_id\":"));
            st.order_id.put(out, order_id.0, then!(",\"wants_stop\":"));
            bool_then(out, *wants_stop, then!("}}"));
        }
        EngineEvent::PairPlaced {
            pair,
            symbol,
            position_side,
            sl,
            tp,
        } => {
            out.extend_from_slice(b"\"pair_placed\",\"pair\":");
            u64_then(out, pair.0, then!(",\"symbol\":"));
            str_then(out, symbol, then!(",\"position_side\":"));
            pos_side_(out, *position_side, then!(",\"sl\":"));
            leg(out, sl, st);
            out.extend_from_slice(b",\"tp\":");
            leg(out, tp, st);
            out.extend_from_slice(b"}}");
        }
        EngineEvent::PairDropped {
            pair,
            status,
            reason,
        } => {
            out.extend_from_slice(b"\"pair_dropped\",\"pair\":");
            u64_then(out, pair.0, then!(",\"status\":"));
            str_then(out, status, then!(",\"reason\":"));
            str_then(out, reason, then!("}}"));
        }
        _ => return false,
    }
    true
}

#[inline(always)]
fn leg(out: &mut impl Out, l: &LegId, st: &mut Stamps) {
    match l {
        LegId::Order(o) => {
            out.extend_from_slice(b"{\"order\":");
            st.order_id.put(out, o.0, then!("}"));
        }
        LegId::Algo(a) => {
            out.extend_from_slice(b"{\"algo\":");
            st.algo_id.put(out, a.0, then!("}"));
        }
    }
}

/// An ORDER_TRADE_UPDATE after `"symbol":`, through the record's closing braces: each value
/// appended with the key after it (see [`Then`]).
#[inline(always)]
fn order_update(out: &mut impl Out, o: &OrderUpdate, st: &mut Stamps) {
    str_then(out, &o.symbol, then!(",\"client_order_id\":"));
    str_then(out, &o.client_order_id, then!(",\"side\":"));
    side_(out, o.side, then!(",\"order_type\":"));
    order_type_(out, o.order_type, then!(",\"orig_type\":"));
    order_type_(out, o.orig_type, then!(",\"time_in_force\":"));
    tif_(out, o.time_in_force, then!(",\"orig_qty\":\""));
    dec_m(out, &o.orig_qty, &mut st.dec, then!("\",\"price\":\""));
    dec_m(out, &o.price, &mut st.dec, then!("\",\"avg_price\":\""));
    dec_m(
        out,
        &o.avg_price,
        &mut st.dec,
        then!("\",\"stop_price\":\""),
    );
    dec_m(out, &o.stop_price, &mut st.dec, then!("\",\"exec_type\":"));
    exec_type_(out, o.exec_type, then!(",\"status\":"));
    order_status_(out, o.status, then!(",\"order_id\":"));
    st.order_id
        .put(out, o.order_id.0, then!(",\"last_qty\":\""));
    dec_m(out, &o.last_qty, &mut st.dec, then!("\",\"cum_qty\":\""));
    dec_m(out, &o.cum_qty, &mut st.dec, then!("\",\"last_price\":\""));
    dec_m(
        out,
        &o.last_price,
        &mut st.dec,
        then!("\",\"commission\":\""),
    );
    // a fee is new each time (its account update's fee is the one to take it from the memo)
    dec_m(out, &o.commission, &mut st.dec, then!("\",\"is_maker\":"));
    bool_then(out, o.is_maker, then!(",\"reduce_only\":"));
    bool_then(out, o.reduce_only, then!(",\"position_side\":"));
    pos_side_(out, o.position_side, then!(",\"close_position\":"));
    bool_then(out, o.close_position, then!(",\"realized_pnl\":\""));
    dec_m(
        out,
        &o.realized_pnl,
        &mut st.dec,
        then!("\",\"expiry_reason\":"),
    );
    match o.from_algo {
        Some(a) => {
            expiry_(out, o.expiry_reason, then!(",\"from_algo\":"));
            st.algo_id.put(out, a.0, then!("}}"));
        }
        None => expiry_(out, o.expiry_reason, then!("}}")),
    }
}

/// An ALGO_UPDATE after `"symbol":`, through the record's closing braces.
#[inline(always)]
fn algo_update(out: &mut impl Out, a: &AlgoUpdate, st: &mut Stamps) {
    str_then(out, &a.symbol, then!(",\"client_algo_id\":"));
    str_then(out, &a.client_algo_id, then!(",\"algo_id\":"));
    st.algo_id.put(out, a.algo_id.0, then!(",\"order_type\":"));
    order_type_(out, a.order_type, then!(",\"side\":"));
    side_(out, a.side, then!(",\"position_side\":"));
    pos_side_(out, a.position_side, then!(",\"time_in_force\":"));
    tif_(out, a.time_in_force, then!(",\"quantity\":\""));
    dec_m(out, &a.quantity, &mut st.dec, then!("\",\"status\":"));
    algo_status_(out, a.status, then!(",\"actual_order_id\":"));
    match a.actual_order_id {
        Some(o) => st.order_id.put(out, o.0, then!(",\"trigger_price\":\"")),
        None => out.extend_from_slice(b"null,\"trigger_price\":\""),
    }
    dec_m(out, &a.trigger_price, &mut st.dec, then!("\",\"price\":\""));
    dec_m(out, &a.price, &mut st.dec, then!("\",\"close_position\":"));
    bool_then(out, a.close_position, then!(",\"reduce_only\":"));
    bool_then(out, a.reduce_only, then!(",\"working_type\":"));
    working(out, a.working_type, then!(",\"reject_reason\":"));
    str_then(out, &a.reject_reason, then!("}}"));
}

/// An ACCOUNT_UPDATE from `,"event":`, through the record's closing braces.
#[inline(always)]
fn account_update(out: &mut impl Out, a: &AccountUpdate, m: &mut DecMemo) {
    out.extend_from_slice(match a.reason {
        AccountReason::Order => {
            b",\"event\":{\"type\":\"account_update\",\"reason\":\"ORDER\",\"wallet_balance\":\""
                as &[u8]
        }
        AccountReason::FundingFee => {
            b",\"event\":{\"type\":\"account_update\",\"reason\":\"FUNDING_FEE\",\"wallet_balance\":\""
        }
        AccountReason::Liquidation => {
            b",\"event\":{\"type\":\"account_update\",\"reason\":\"LIQUIDATION\",\"wallet_balance\":\""
        }
    });
    // the wallet is new each time: not kept (it would only push out a price)
    dec_then(out, &a.wallet_balance, then!("\",\"balance_change\":\""));
    dec_m(out, &a.balance_change, m, then!("\",\"realized_pnl\":\""));
    dec_m(out, &a.realized_pnl, m, then!("\",\"fee\":\""));
    dec_m(out, &a.fee, m, then!("\",\"positions\":["));
    for (i, p) in a.positions.iter().enumerate() {
        if i == 0 {
            out.extend_from_slice(b"{\"symbol\":");
        } else {
            out.extend_from_slice(b",{\"symbol\":");
        }
        str_then(out, &p.symbol, then!(",\"position_side\":"));
        pos_side_(out, p.position_side, then!(",\"amount\":\""));
        dec_m(out, &p.amount, m, then!("\",\"entry_price\":\""));
        dec_m(out, &p.entry_price, m, then!("\""));
        out.extend_from_slice(b",\"accumulated_realized\":\"");
        match &p.liquidation_price {
            Some(l) => {
                dec_m(
                    out,
                    &p.accumulated_realized,
                    m,
                    then!("\",\"liquidation_price\":\""),
                );
                dec_m(out, l, m, then!("\"}"));
            }
            None => dec_m(out, &p.accumulated_realized, m, then!("\"}")),
        }
    }
    out.extend_from_slice(b"]}}");
}

/// An optional field: nothing when `$v` is `None`, else the key (with its leading comma:
/// every optional field of a request follows its symbol, side and type) as one literal, then
/// the value written by `$f` with the text `$then` after it.
macro_rules! opt_field {
    ($out:ident, $key:literal, $v:expr, $f:ident, $then:literal) => {
        if let Some(x) = $v {
            $out.extend_from_slice($key);
            $f($out, x, then!($then));
        }
    };
    // a decimal, through the memo `$m` (see [`DecMemo`])
    ($out:ident, $key:literal, $v:expr, dec_m($m:ident), $then:literal) => {
        if let Some(x) = $v {
            $out.extend_from_slice($key);
            dec_m($out, x, $m, then!($then));
        }
    };
}

/// The optional fields a NewOrder and a NewAlgoOrder share, in both structs' order.
#[inline(always)]
fn flags(
    out: &mut impl Out,
    tif: Option<TimeInForce>,
    reduce_only: Option<bool>,
    close_position: Option<bool>,
    working_type: Option<WorkingType>,
    price_protect: Option<bool>,
) {
    opt_field!(out, b",\"time_in_force\":", tif, tif_, "");
    opt_field!(out, b",\"reduce_only\":", reduce_only, bool_then, "");
    opt_field!(out, b",\"close_position\":", close_position, bool_then, "");
    opt_field!(out, b",\"working_type\":", working_type, working, "");
    opt_field!(out, b",\"price_protect\":", price_protect, bool_then, "");
}

/// A NewOrder request: its fields in declaration order, the unset optional ones left out.
#[inline(always)]
fn new_order(out: &mut impl Out, o: &NewOrder, m: &mut DecMemo) {
    out.extend_from_slice(b"{\"symbol\":");
    str_then(out, &o.symbol, then!(",\"side\":"));
    side_(out, o.side, then!(",\"order_type\":"));
    order_type_(out, o.order_type, then!(""));
    opt_field!(out, b",\"position_side\":", o.position_side, pos_side_, "");
    opt_field!(out, b",\"quantity\":\"", &o.quantity, dec_m(m), "\"");
    opt_field!(out, b",\"price\":\"", &o.price, dec_m(m), "\"");
    opt_field!(out, b",\"stop_price\":\"", &o.stop_price, dec_m(m), "\"");
    flags(
        out,
        o.time_in_force,
        o.reduce_only,
        o.close_position,
        o.working_type,
        o.price_protect,
    );
    opt_field!(
        out,
        b",\"activation_price\":\"",
        &o.activation_price,
        dec_m(m),
        "\""
    );
    opt_field!(
        out,
        b",\"callback_rate\":\"",
        &o.callback_rate,
        dec_m(m),
        "\""
    );
    opt_field!(
        out,
        b",\"client_order_id\":",
        &o.client_order_id,
        str_then,
        ""
    );
    match o.resp_type {
        Some(RespType::Ack) => out.extend_from_slice(b",\"resp_type\":\"ACK\"}"),
        Some(RespType::Result) => out.extend_from_slice(b",\"resp_type\":\"RESULT\"}"),
        None => out.push(b'}'),
    }
}

/// A NewAlgoOrder request: its fields in declaration order, the unset optional ones left out.
#[inline(always)]
fn new_algo(out: &mut impl Out, o: &NewAlgoOrder, m: &mut DecMemo) {
    out.extend_from_slice(b"{\"symbol\":");
    str_then(out, &o.symbol, then!(",\"side\":"));
    side_(out, o.side, then!(",\"order_type\":"));
    order_type_(out, o.order_type, then!(""));
    opt_field!(out, b",\"position_side\":", o.position_side, pos_side_, "");
    opt_field!(out, b",\"quantity\":\"", &o.quantity, dec_m(m), "\"");
    opt_field!(out, b",\"price\":\"", &o.price, dec_m(m), "\"");
    opt_field!(
        out,
        b",\"trigger_price\":\"",
        &o.trigger_price,
        dec_m(m),
        "\""
    );
    flags(
        out,
        o.time_in_force,
        o.reduce_only,
        o.close_position,
        o.working_type,
        o.price_protect,
    );
    opt_field!(
        out,
        b",\"activate_price\":\"",
        &o.activate_price,
        dec_m(m),
        "\""
    );
    opt_field!(
        out,
        b",\"callback_rate\":\"",
        &o.callback_rate,
        dec_m(m),
        "\""
    );
    opt_field!(
        out,
        b",\"client_algo_id\":",
        &o.client_algo_id,
        str_then,
        ""
    );
    out.push(b'}');
}

#[inline(always)]
fn api_error(out: &mut impl Out, e: &ApiError) {
    out.extend_from_slice(b"{\"http\":");
    u64_then(out, u64::from(e.http), then!(",\"code\":"));
    i64_then(out, i64::from(e.code), then!(",\"msg\":"));
    str_then(out, &e.msg, then!("}"));
}

/// Room for a quoted enum spelling (the longest, `"TRAILING_STOP_MARKET"`, has 22 bytes).
const Q: usize = 24;

/// Room for an enum's spelling (quoted or not) and a [`Then`] text.
pub(crate) const WORD: usize = Q + TW;

/// A spelling and what follows it, zero-padded to [`WORD`] bytes, and its length: appended as
/// one fixed-size copy of a constant (see [`put_first`]) instead of quote, `memcpy`, quote.
pub(crate) type Word = ([u8; WORD], usize);

/// `"s"` then `t`, padded (see [`Word`]), at compile time.
const fn quoted_then(s: &str, t: &str) -> Word {
    let (q, n) = cat::<Q>("\"", s);
    assert!(n < Q, "spelling too long");
    let mut w = [0u8; WORD];
    let mut i = 0;
    while i < n {
        w[i] = q[i];
        i += 1;
    }
    w[n] = b'"';
    let (t, tn) = cat::<TW>("", t);
    let mut j = 0;
    while j < tn {
        w[n + 1 + j] = t[j];
        j += 1;
    }
    (w, n + 1 + tn)
}

/// The enums with a fixed spelling (the bytes serde_json writes inside the quotes, and `as_str`
/// for the CSV tables), as padded constants with a [`Then`] text after them.
pub(crate) trait Spelled: Copy {
    /// `"SPELLING"` then `T::TEXT` (a JSON value).
    fn quoted<T: Then>(self) -> &'static Word;
    /// `SPELLING` then `T::TEXT` (a CSV cell).
    fn bare<T: Then>(self) -> &'static Word;
}

/// Appends `w` (see [`Word`]).
#[inline(always)]
pub(crate) fn put_word(out: &mut impl Out, w: &Word) {
    put_first(out, &w.0, w.1);
}

/// `fn $name(out, v, then)`: appends the quoted spelling of `v` and the text of `then` as one
/// fixed-size copy of a padded constant (see [`put_first`]); the type's [`Spelled`]; and `$all`,
/// every variant (the match is exhaustive), for the test that checks each spelling against
/// serde_json. The `as_str` arm takes the spelling from the type's own (const) `as_str`, so it
/// is written once.
macro_rules! spelled {
    ($name:ident, $all:ident, $t:ty, { $($v:path => $s:expr),+ $(,)? }) => {
        impl Spelled for $t {
            fn quoted<T: Then>(self) -> &'static Word {
                match self {
                    $($v => &const { quoted_then($s, T::TEXT) }),+
                }
            }
            fn bare<T: Then>(self) -> &'static Word {
                match self {
                    $($v => &const { cat::<WORD>($s, T::TEXT) }),+
                }
            }
        }
        #[inline(always)]
        fn $name<T: Then>(out: &mut impl Out, v: $t, _: T) {
            put_word(out, v.quoted::<T>());
        }
        #[cfg(test)]
        pub(crate) const $all: &[$t] = &[$($v),+];
    };
    // the spelling is the type's own `as_str` (a const fn), evaluated at compile time
    ($name:ident, $all:ident, $t:ty, as_str [ $($v:path),+ $(,)? ]) => {
        spelled!($name, $all, $t, { $($v => ($v.as_str())),+ });
    };
}

spelled!(side_, ALL_SIDES, Side, as_str [
    Side::Buy,
    Side::Sell,
]);
spelled!(pos_side_, ALL_POS_SIDES, PositionSide, as_str [
    PositionSide::Both,
    PositionSide::Long,
    PositionSide::Short,
]);
spelled!(order_type_, ALL_ORDER_TYPES, OrderType, as_str [
    OrderType::Limit,
    OrderType::Market,
    OrderType::Stop,
    OrderType::StopMarket,
    OrderType::TakeProfit,
    OrderType::TakeProfitMarket,
    OrderType::TrailingStopMarket,
    OrderType::Liquidation,
]);
spelled!(tif_, ALL_TIFS, TimeInForce, as_str [
    TimeInForce::Gtc,
    TimeInForce::Ioc,
    TimeInForce::Fok,
    TimeInForce::Gtx,
    TimeInForce::GteGtc,
]);
spelled!(order_status_, ALL_ORDER_STATUSES, OrderStatus, as_str [
    OrderStatus::New,
    OrderStatus::PartiallyFilled,
    OrderStatus::Filled,
    OrderStatus::Canceled,
    OrderStatus::Expired,
    OrderStatus::Rejected,
]);
spelled!(algo_status_, ALL_ALGO_STATUSES, AlgoStatus, as_str [
    AlgoStatus::New,
    AlgoStatus::Triggering,
    AlgoStatus::Triggered,
    AlgoStatus::Finished,
    AlgoStatus::Canceled,
    AlgoStatus::Rejected,
    AlgoStatus::Expired,
]);
spelled!(exec_type_, ALL_EXEC_TYPES, ExecType, {
    ExecType::New => "NEW",
    ExecType::Trade => "TRADE",
    ExecType::Canceled => "CANCELED",
    ExecType::Expired => "EXPIRED",
    ExecType::Calculated => "CALCULATED",
});
spelled!(expiry_, ALL_EXPIRY_REASONS, ExpiryReason, {
    ExpiryReason::None => "None",
    ExpiryReason::IocRemainder => "IocRemainder",
    ExpiryReason::ReduceOnly => "ReduceOnly",
    ExpiryReason::Liquidation => "Liquidation",
    ExpiryReason::GteUnsatisfied => "GteUnsatisfied",
    ExpiryReason::LegacyTriggered => "LegacyTriggered",
    ExpiryReason::MarketRemainder => "MarketRemainder",
});
spelled!(working, ALL_WORKING_TYPES, WorkingType, {
    WorkingType::ContractPrice => "CONTRACT_PRICE",
    WorkingType::MarkPrice => "MARK_PRICE",
});
spelled!(endpoint_, ALL_ENDPOINTS, Endpoint, {
    Endpoint::NewOrder => "NewOrder",
    Endpoint::NewAlgoOrder => "NewAlgoOrder",
    Endpoint::CancelOrder => "CancelOrder",
    Endpoint::CancelAlgoOrder => "CancelAlgoOrder",
    Endpoint::QueryOrder => "QueryOrder",
    Endpoint::QueryAlgoOrder => "QueryAlgoOrder",
    Endpoint::OpenOrders => "OpenOrders",
    Endpoint::OpenAlgoOrders => "OpenAlgoOrders",
    Endpoint::CancelAll => "CancelAll",
    Endpoint::CancelAllAlgo => "CancelAllAlgo",
    Endpoint::PositionRisk => "PositionRisk",
    Endpoint::TickerPrice => "TickerPrice",
});

/// `true` or `false`, then `T::TEXT`: one constant-size append per arm (a slice chosen first
/// would be a `memcpy` call).
#[inline(always)]
pub(crate) fn bool_then<T: Then>(out: &mut impl Out, b: bool, _: T) {
    let w: &'static ([u8; 8 + TW], usize) = if b {
        &const { cat("true", T::TEXT) }
    } else {
        &const { cat("false", T::TEXT) }
    };
    put_first(out, &w.0, w.1);
}

/// A set of bytes a short string is scanned for (those a JSON string escapes, those a CSV field
/// quotes), tested eight bytes at a time in a word and, on x86-64, sixteen in a vector.
pub(crate) trait Special {
    /// Whether some byte of the word `x` is in the set.
    fn word(x: u64) -> bool;
    /// The bytes of `x` in the set, as lanes of all ones (SSE2, always there on x86-64).
    #[cfg(target_arch = "x86_64")]
    fn lanes(x: std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i;
}

/// The bytes a JSON string escapes: `"`, `\\` and those below 0x20.
pub(crate) struct Escaped;

impl Special for Escaped {
    #[inline(always)]
    fn word(x: u64) -> bool {
        needs_escape(x)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn lanes(x: std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline (these instructions always exist), and
        // they compute on values only, touching no memory
        unsafe {
            // below 0x20: unchanged by an unsigned min with 0x1f
            let low = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
            _mm_or_si128(_mm_or_si128(low, quote), backslash)
        }
    }
}

/// Sixteen bytes as a vector (two words; the compiler makes it one unaligned load).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn vec16(b: &[u8; 16]) -> std::arch::x86_64::__m128i {
    let lo = i64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let hi = i64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
    // SAFETY: SSE2 (x86-64 baseline), on values only
    unsafe { std::arch::x86_64::_mm_set_epi64x(hi, lo) }
}

/// Whether some lane of `x` is set (SSE2 `pmovmskb`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn any_lane(x: std::arch::x86_64::__m128i) -> bool {
    // SAFETY: SSE2 (x86-64 baseline), on values only
    unsafe { std::arch::x86_64::_mm_movemask_epi8(x) != 0 }
}

/// `a | b`, lane by lane.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn or_lanes(
    a: std::arch::x86_64::__m128i,
    b: std::arch::x86_64::__m128i,
) -> std::arch::x86_64::__m128i {
    // SAFETY: SSE2 (x86-64 baseline), on values only
    unsafe { std::arch::x86_64::_mm_or_si128(a, b) }
}

/// Copies `bytes` (4 to [`SHORT`] of them) into `w` from `AT` and tells whether one of them is
/// in `S` (see [`Special`]): the check and the copy of a short string in one pass, every copy
/// of a fixed size (no `memcpy` call). Under 8 bytes: two overlapping 4-byte halves in a word;
/// on x86-64, 8 to 16 bytes as two overlapping words in one vector, longer ones 16 bytes a step
/// (the last step overlapping), the vectors' test results or-ed and looked at once; elsewhere 8
/// bytes a step in words.
#[inline(always)]
pub(crate) fn copy_short<const AT: usize, const N: usize, S: Special>(
    w: &mut [u8; N],
    bytes: &[u8],
) -> bool {
    let n = bytes.len();
    debug_assert!((4..=SHORT).contains(&n) && AT + SHORT <= N);
    if n < 8 {
        let lo: [u8; 4] = bytes[..4].try_into().expect("4 bytes");
        let hi: [u8; 4] = bytes[n - 4..].try_into().expect("4 bytes");
        w[AT..AT + 4].copy_from_slice(&lo);
        w[AT + n - 4..AT + n].copy_from_slice(&hi);
        return S::word(
            u64::from(u32::from_le_bytes(hi)) << 32 | u64::from(u32::from_le_bytes(lo)),
        );
    }
    #[cfg(target_arch = "x86_64")]
    {
        if n <= 16 {
            let lo: [u8; 8] = bytes[..8].try_into().expect("8 bytes");
            let hi: [u8; 8] = bytes[n - 8..].try_into().expect("8 bytes");
            w[AT..AT + 8].copy_from_slice(&lo);
            w[AT + n - 8..AT + n].copy_from_slice(&hi);
            let mut v = [0u8; 16];
            v[..8].copy_from_slice(&lo);
            v[8..].copy_from_slice(&hi);
            return any_lane(S::lanes(vec16(&v)));
        }
        let c: &[u8; 16] = bytes[..16].try_into().expect("16 bytes");
        let mut hit = S::lanes(vec16(c));
        w[AT..AT + 16].copy_from_slice(c);
        let mut at = 16;
        while at + 16 < n {
            let c: &[u8; 16] = bytes[at..at + 16].try_into().expect("16 bytes");
            hit = or_lanes(hit, S::lanes(vec16(c)));
            w[AT + at..AT + at + 16].copy_from_slice(c);
            at += 16;
        }
        let c: &[u8; 16] = bytes[n - 16..].try_into().expect("16 bytes");
        w[AT + n - 16..AT + n].copy_from_slice(c);
        any_lane(or_lanes(hit, S::lanes(vec16(c))))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut dirty = false;
        let mut at = 0;
        while at + 8 < n {
            let c: [u8; 8] = bytes[at..at + 8].try_into().expect("8 bytes");
            dirty |= S::word(u64::from_le_bytes(c));
            w[AT + at..AT + at + 8].copy_from_slice(&c);
            at += 8;
        }
        let c: [u8; 8] = bytes[n - 8..].try_into().expect("8 bytes");
        w[AT + n - 8..AT + n].copy_from_slice(&c);
        dirty | S::word(u64::from_le_bytes(c))
    }
}

/// A JSON string with serde_json's escaping: `"` `\\` and control bytes; `\b \t \n \f \r` short,
/// the other control bytes as `\u00xx` (lower-case hex); everything else (0x7f, non-ASCII) as is.
#[inline(always)]
fn str_(out: &mut impl Out, s: &str) {
    str_then(out, s, then!(""));
}

/// [`str_`], then `T::TEXT`.
#[inline(always)]
fn str_then<T: Then>(out: &mut impl Out, s: &str, _: T) {
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n == 0 {
        // unset texts (a reject reason, a detail)
        put_word(out, &const { cat::<WORD>("\"\"", T::TEXT) });
        return;
    }
    if (4..=SHORT).contains(&n) {
        // the common case (symbols, ids, statuses): words of the string checked and copied
        // straight into the output's room (see [`Out::room`]) in one pass, the closing
        // quote and the text after it; a string that needs escaping writes nothing there and
        // goes on below
        const R: usize = 1 + SHORT + 1 + TW;
        let Some(w) = out.room::<R>() else {
            return;
        };
        w[0] = b'"';
        if !copy_short::<1, _, Escaped>(w, bytes) {
            w[n + 1] = b'"';
            let t: &mut [u8; TW] = (&mut w[n + 2..n + 2 + TW])
                .try_into()
                .expect("a TW-byte window");
            *t = *then_text::<T>();
            out.commit::<R>(n + 2 + T::TEXT.len());
            return;
        }
        out.commit::<R>(0);
    }
    str_slow(out, bytes);
    out.extend_from_slice(T::TEXT.as_bytes());
}

/// [`str_`] for strings of other lengths or that need escaping.
#[inline(always)]
fn str_slow(out: &mut impl Out, bytes: &[u8]) {
    out.push(b'"');
    if clean(bytes) {
        // the common case (ids, symbols, messages): no byte needs escaping
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Strings up to this length take [`str_`]'s one-pass path (client ids have about 22 bytes, the
/// engine's signal ids 39 or 40; the quoted window with a [`Then`] text is then 66 bytes).
pub(crate) const SHORT: usize = 40;

/// Whether some byte of the word `x` needs escaping in a JSON string (`"`, `\\` or below 0x20).
#[inline(always)]
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // non-zero exactly when some byte of `x` is below `n` (n <= 0x80): the classic has-less test
    let has_less = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    has_less(x, 0x20) | has_less(x ^ (ONES * 0x22), 1) | has_less(x ^ (ONES * 0x5c), 1) != 0
}

/// Whether no byte of `s` needs escaping in a JSON string (no `"`, `\\` or byte below 0x20):
/// eight bytes a step (SWAR), the tail byte by byte.
fn clean(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // non-zero exactly when some byte of `x` is below `n` (n <= 0x80): the classic has-less test
    let has_less = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let bad = |c: &[u8]| {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        has_less(x, 0x20) | has_less(x ^ (ONES * 0x22), 1) | has_less(x ^ (ONES * 0x5c), 1) != 0
    };
    if s.len() < 8 {
        if s.len() < 4 {
            return s.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\');
        }
        // 4..=7 bytes (symbols): the first four and the last four (overlapping) in one word
        let n = s.len();
        let lo = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let hi = u32::from_le_bytes([s[n - 4], s[n - 3], s[n - 2], s[n - 1]]);
        let w = (u64::from(hi) << 32) | u64::from(lo);
        return !bad(&w.to_le_bytes());
    }
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        if bad(c) {
            return false;
        }
    }
    // the tail: the last eight bytes (overlapping bytes already seen, which passed)
    chunks.remainder().is_empty() || !bad(&s[s.len() - 8..])
}

/// An unsigned integer in decimal, as `Display` writes it (no formatting machinery).
pub(crate) fn u64_(out: &mut Vec<u8>, v: u64) {
    u64_then(out, v, then!(""));
}

/// [`u64_`], then `T::TEXT`, in one fixed-size append.
#[inline(always)]
pub(crate) fn u64_then<T: Then>(out: &mut impl Out, v: u64, _: T) {
    let mut buf = [0u8; DIGITS + DIGITS + TW];
    let i = put_u64(&mut buf[..DIGITS], v);
    buf[DIGITS..DIGITS + TW].copy_from_slice(then_text::<T>());
    let w: &[u8; DIGITS + TW] = buf[i..i + DIGITS + TW]
        .try_into()
        .expect("a window of DIGITS + TW bytes");
    put_first(out, w, DIGITS - i + T::TEXT.len());
}

/// A signed integer in decimal, as `Display` writes it.
#[cfg(test)]
fn i64_(out: &mut impl Out, v: i64) {
    i64_then(out, v, then!(""));
}

/// A signed integer as `Display` writes it, then `T::TEXT`.
#[inline(always)]
pub(crate) fn i64_then<T: Then>(out: &mut impl Out, v: i64, t: T) {
    if v < 0 {
        out.push(b'-');
    }
    u64_then(out, v.unsigned_abs(), t);
}

#[inline(always)]
fn opt_dec(out: &mut impl Out, d: &Option<Decimal>, m: &mut DecMemo) {
    match d {
        Some(d) => {
            out.push(b'"');
            dec_m(out, d, m, then!("\""));
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// A Decimal as rust_decimal's serde (`serde-str`) writes it: a JSON string of the plain decimal
/// form with all `scale` fractional digits, `-` when the sign bit is set (also on a zero).
#[cfg(test)]
fn dec(out: &mut impl Out, d: &Decimal) {
    out.push(b'"');
    dec_then(out, d, then!("\""));
}

/// A Decimal in its plain form without quotes: the bytes of its `Display` (`to_string`), all
/// `scale` fractional digits, `-` when the sign bit is set (also on a zero).
#[cfg(test)]
fn dec_plain(out: &mut impl Out, d: &Decimal) {
    dec_then(out, d, then!(""));
}

/// A Decimal in its plain form without quotes (the bytes of its `Display`: all `scale`
/// fractional digits, `-` when the sign bit is set, also on a zero), then `T::TEXT` (a JSON
/// field's closing quote and the next key, a CSV comma).
/// The mantissa's digits go right-aligned into a buffer of `0`s (two a division), so the zeros
/// a small mantissa needs after the point are already there, and the text goes right after
/// them at a fixed place; then one fixed-size append.
/// Always inlined (the CSV tables' cells too): the rare wide decimals go through a function of
/// their own.
#[inline(always)]
pub(crate) fn dec_then<T: Then>(out: &mut impl Out, d: &Decimal, t: T) {
    dec_memo(out, d, None, t);
}

/// [`dec_then`] through `m`, the text of the decimals written lately (see [`DecMemo`]): the
/// same bytes.
#[inline(always)]
pub(crate) fn dec_m<T: Then>(out: &mut impl Out, d: &Decimal, m: &mut DecMemo, t: T) {
    dec_memo(out, d, Some(m), t);
}

/// Entries of a [`DecMemo`] (a power of two).
const MEMO: usize = 128;
/// The shift that leaves a 64-bit hash's top `log2(MEMO)` bits: an entry's index.
const MEMO_SHIFT: u32 = 64 - MEMO.ilog2();

/// The text of the decimals a writer wrote lately, by value. A run's prices, quantities and
/// fees come again and again (an order's price in each of its updates, the fill's in the
/// account update and the tables), and a hit copies their bytes where a miss divides out every
/// digit pair. In the generated year four of five decimals that are not one- or two-digit
/// integers are found in a memo of 64 entries, a few more in one of 128 (the dense year's
/// instructions 2,859 -> 2,856 M; 256 entries only 2 M fewer again, for twice the cache
/// lines). Direct-mapped by a hash of the value; an entry holds
/// the exact value (mantissa, scale and sign) it was written from, so a hit is that value's
/// text. Only decimals with a u64 mantissa and a scale under 20 (the common path of
/// [`dec_then`]) go through it.
#[derive(Clone)]
pub(crate) struct DecMemo {
    e: [MemoEntry; MEMO],
}

impl Default for DecMemo {
    fn default() -> DecMemo {
        DecMemo {
            e: [MemoEntry::default(); MEMO],
        }
    }
}

impl std::fmt::Debug for DecMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecMemo")
    }
}

/// One decimal's text in a [`DecMemo`].
#[derive(Clone, Copy, Default)]
struct MemoEntry {
    /// The mantissa's magnitude.
    v: u64,
    /// `MEMO_SET | scale << 1 | negative` in the low 32 bits (0: an empty entry), the text's
    /// length in the high ones.
    tag: u64,
    /// The text (at most 22 bytes: a sign, 20 digits and a point), left-aligned.
    text: [u8; MEMO_TEXT],
}

/// Room for a decimal's text in a [`MemoEntry`].
const MEMO_TEXT: usize = 24;

/// The bit of a [`MemoEntry`]'s tag set in every entry written.
const MEMO_SET: u64 = 1 << 16;

/// [`dec_then`], through `memo` when given (see [`DecMemo`]).
#[inline(always)]
fn dec_memo<T: Then>(out: &mut impl Out, d: &Decimal, memo: Option<&mut DecMemo>, _: T) {
    let m = d.mantissa().unsigned_abs();
    let scale = d.scale() as usize;
    if scale == 0 && m < 100 && !d.is_sign_negative() {
        if m < 10 {
            // a one-digit integer (most often the zeros of unset fields)
            let mut w = [0u8; 1 + TW];
            w[0] = b'0' + m as u8;
            w[1..].copy_from_slice(then_text::<T>());
            put_first(out, &w, 1 + T::TEXT.len());
        } else {
            // a two-digit integer (quantities): its digits from the pair table
            let i = m as usize * 2;
            let mut w = [0u8; 2 + TW];
            w[..2].copy_from_slice(&DIGITS2[i..i + 2]);
            w[2..].copy_from_slice(then_text::<T>());
            put_first(out, &w, 2 + T::TEXT.len());
        }
        return;
    }
    if let (Ok(v), true) = (u64::try_from(m), scale < POW10_U64.len()) {
        let neg = d.is_sign_negative();
        let key = MEMO_SET | (scale as u64) << 1 | u64::from(neg);
        let entry = memo.map(|memo| {
            // the hash's top bits, as many as index the entries
            let at = ((v ^ key).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> MEMO_SHIFT) as usize;
            &mut memo.e[at]
        });
        if let Some(e) = &entry {
            if e.v == v && e.tag as u32 == key as u32 {
                // a hit: the text, then `T::TEXT` right after it, in one fixed-size append
                let n = (e.tag >> 32) as usize;
                let mut w = [0u8; MEMO_TEXT + TW];
                w[..MEMO_TEXT].copy_from_slice(&e.text);
                let t: &mut [u8; TW] = (&mut w[n..n + TW]).try_into().expect("a TW-byte window");
                *t = *then_text::<T>();
                put_first(out, &w, n + T::TEXT.len());
                return;
            }
        }
        // the common case: the mantissa's digits written right-aligned at `END` into a buffer
        // pre-filled with `0`s (the fraction's leading zeros, and the `0` of an integer part
        // that has no digit), then the integer part moved one byte left for the point: one
        // digit pass and one fixed-size move instead of two digit passes and a division; the
        // text after the digits, then one fixed-size append of `DEC + TW` bytes (at most 22
        // are the number's: sign, 20 digits and the point, or sign, `0.` and 19 decimals)
        const END: usize = 48;
        const DEC: usize = 24;
        let mut buf = [b'0'; END + DEC + TW];
        let at = put_u64(&mut buf[..END], v);
        let mut start = if scale == 0 {
            at
        } else {
            // the fraction is `buf[f..END]`; the integer part `buf[at.min(f - 1)..f]` (at most
            // 20 digits: the 24 bytes before `f` hold it) goes one byte left
            let f = END - scale;
            let int: [u8; 24] = buf[f - 24..f].try_into().expect("24 bytes");
            buf[f - 25..f - 1].copy_from_slice(&int);
            buf[f - 1] = b'.';
            at.min(f - 1) - 1
        };
        if neg {
            start -= 1;
            buf[start] = b'-';
        }
        if let Some(e) = entry {
            e.v = v;
            e.tag = key | ((END - start) as u64) << 32;
            e.text = buf[start..start + MEMO_TEXT]
                .try_into()
                .expect("MEMO_TEXT bytes");
        }
        buf[END..END + TW].copy_from_slice(then_text::<T>());
        let w: &[u8; DEC + TW] = buf[start..start + DEC + TW]
            .try_into()
            .expect("a window of DEC + TW bytes");
        put_first(out, w, END - start + T::TEXT.len());
        return;
    }
    dec_wide(out, d, T::TEXT.as_bytes());
}

/// [`dec_then`] for a mantissa wider than a u64 or a scale of 20 or more, then `text`: written
/// apart into a buffer of its own, which the caller appends (a call given the writer would keep
/// a [`Window`] out of registers, see [`event`]).
#[inline(always)]
fn dec_wide(out: &mut impl Out, d: &Decimal, text: &[u8]) {
    let (buf, n) = dec_wide_text(d, text);
    out.put_first(&buf, n);
}

/// Room for a wide decimal (a sign, 29 digits, a point and a `0`) and a [`Then`] text.
const WIDE: usize = 64;

/// The bytes of [`dec_wide`], and how many.
#[cold]
#[inline(never)]
fn dec_wide_text(d: &Decimal, text: &[u8]) -> ([u8; WIDE], usize) {
    let mut out = Vec::with_capacity(WIDE);
    let m = d.mantissa().unsigned_abs();
    let scale = d.scale() as usize;
    // 29 digits at most (96-bit mantissa), scale 28 at most
    let mut buf = [b'0'; 32];
    let end = buf.len();
    let start = match u64::try_from(m) {
        Ok(v) => put_u64(&mut buf, v),
        Err(_) => {
            let mut v = m;
            let mut i = end;
            while v != 0 {
                i -= 1;
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            i
        }
    };
    if d.is_sign_negative() {
        out.push(b'-');
    }
    let n = end - start;
    if scale == 0 {
        out.extend_from_slice(&buf[start..]);
    } else if n > scale {
        out.extend_from_slice(&buf[start..end - scale]);
        out.push(b'.');
        out.extend_from_slice(&buf[end - scale..]);
    } else {
        out.extend_from_slice(b"0.");
        out.extend_from_slice(&buf[end - scale..]);
    }
    out.extend_from_slice(text);
    let mut w = [0u8; WIDE];
    w[..out.len()].copy_from_slice(&out);
    (w, out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dec_plain`, `u64_` and `i64_` write exactly what `Display` writes (the report tables
    /// rely on it), including signed zeros, every scale and the widest mantissas.
    #[test]
    fn plain_numbers_match_display() {
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut out = Vec::new();
        let mut cases = vec![
            Decimal::ZERO,
            -Decimal::ZERO,
            Decimal::new(-0, 3).set_sign_negative_ret(),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
        ];
        // the one- and two-digit integers' own paths, and their neighbours, at small scales
        for m in -1_100..=1_100 {
            for scale in 0..4 {
                cases.push(Decimal::new(m, scale));
            }
        }
        for _ in 0..20_000 {
            let hi = next();
            let lo = next();
            let m = (i128::from(hi as i64) << 32 | i128::from(lo as u32)) >> (hi % 64);
            let m = m.clamp(-(1i128 << 95), (1i128 << 95) - 1);
            cases.push(Decimal::from_i128_with_scale(m, (lo % 29) as u32));
        }
        for d in cases {
            out.clear();
            dec_plain(&mut out, &d);
            assert_eq!(std::str::from_utf8(&out).unwrap(), d.to_string(), "{d:?}");
            // with a text after it (the longest a writer uses), in the same append
            out.clear();
            dec_then(&mut out, &d, then!("\",\"liquidation_price\":\""));
            let want = format!("{d}\",\"liquidation_price\":\"");
            assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{d:?}");
            out.clear();
            dec(&mut out, &d);
            assert_eq!(out, serde_json::to_vec(&d).unwrap(), "{d:?}");
        }
        for _ in 0..20_000 {
            let v = next() >> (next() % 64);
            out.clear();
            u64_(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
            out.clear();
            u64_then(&mut out, v, then!(",\"k\":"));
            assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{v},\"k\":"));
            let s = v as i64;
            out.clear();
            i64_then(&mut out, s, then!("}}"));
            assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{s}}}}}"));
            out.clear();
            i64_(&mut out, s);
            assert_eq!(std::str::from_utf8(&out).unwrap(), s.to_string());
        }
        for v in [0, u64::MAX] {
            out.clear();
            u64_(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
        for v in [0, i64::MIN, i64::MAX, -1] {
            out.clear();
            i64_(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
    }

    /// A decimal written through a [`DecMemo`] is the decimal's `Display`, through a window
    /// and a `Vec` alike: values drawn from a small pool (so most come again, and several
    /// share an entry), among them the same mantissa at other scales and signs (a memo keyed
    /// on the mantissa alone would hand back another's text), the signed zeros, and the
    /// values the memo leaves to other paths (small integers, wide mantissas, large scales).
    #[test]
    fn memo_decimals_match_display() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut pool = vec![
            Decimal::ZERO,
            -Decimal::ZERO,
            Decimal::new(0, 3).set_sign_negative_ret(),
            Decimal::new(-0, 1),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-7, 19),
            Decimal::new(7, 19),
            Decimal::new(i64::MAX, 19),
            Decimal::from_i128_with_scale(u64::MAX as i128, 3),
            Decimal::from_i128_with_scale(-(u64::MAX as i128), 0),
            Decimal::from_i128_with_scale(u64::MAX as i128 + 1, 5),
        ];
        for _ in 0..300 {
            let m = (next() >> (next() % 64)) as i64;
            let scale = (next() % 22) as u32;
            // the same mantissa at two scales and both signs
            for (m, scale) in [(m, scale), (-m, scale), (m, (scale + 1) % 22), (-m, 0)] {
                pool.push(Decimal::new(m, scale));
            }
        }
        let mut memo = DecMemo::default();
        let mut memo_w = DecMemo::default();
        let mut out = Vec::new();
        for _ in 0..200_000 {
            let d = pool[(next() % pool.len() as u64) as usize];
            out.clear();
            dec_m(
                &mut out,
                &d,
                &mut memo,
                then!("\",\"liquidation_price\":\""),
            );
            let want = format!("{d}\",\"liquidation_price\":\"");
            assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{d:?}");
            let mut buf = [0u8; 128];
            let mut w = Window::new(&mut buf);
            dec_m(&mut w, &d, &mut memo_w, then!(","));
            let n = w.len();
            assert!(!w.overflowed());
            assert_eq!(
                std::str::from_utf8(&buf[..n]).unwrap(),
                format!("{d},"),
                "{d:?}"
            );
        }
        // the memo took the values it wrote
        let set = memo.e.iter().filter(|e| e.tag != 0).count();
        assert!(set > MEMO / 2, "{set} entries set");
    }

    /// `str_` writes what serde_json writes for any string: every escaped byte at every
    /// position of the 8-byte steps and the tail, non-ASCII and 0x7f untouched.
    #[test]
    fn strings_match_serde_json() {
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€',
            ' ', ',',
        ];
        let mut out = Vec::new();
        for len in 0..50 {
            for at in 0..len {
                for c in specials {
                    let s: String = (0..len)
                        .map(|i| {
                            if i == at {
                                c
                            } else {
                                (b'a' + (i % 26) as u8) as char
                            }
                        })
                        .collect();
                    out.clear();
                    str_(&mut out, &s);
                    assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
                    out.clear();
                    str_then(&mut out, &s, then!(",\"client_order_id\":"));
                    let mut want = serde_json::to_vec(&s).unwrap();
                    want.extend_from_slice(b",\"client_order_id\":");
                    assert_eq!(out, want, "{s:?}");
                    // in place through a window whose bytes are not zeros (what the record
                    // before left): every byte of the value must be written
                    let mut buf = [0xA5u8; 512];
                    let mut w = Window::new(&mut buf);
                    w.push(b'x');
                    str_then(&mut w, &s, then!(",\"client_order_id\":"));
                    assert!(!w.overflowed());
                    let n = w.len();
                    assert_eq!(&buf[1..n], &want[..], "{s:?}");
                }
            }
        }
        for s in [
            "",
            "ocoE-lfx7k3o22-4dh-4er",
            "orderId=8389765000 status=Filled",
            "a\"b\\c\u{0}",
        ] {
            out.clear();
            str_(&mut out, s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
            out.clear();
            str_then(&mut out, s, then!("}}"));
            let mut want = serde_json::to_vec(&s).unwrap();
            want.extend_from_slice(b"}}");
            assert_eq!(out, want, "{s:?}");
        }
        for b in [false, true] {
            out.clear();
            bool_then(&mut out, b, then!(",\"reduce_only\":"));
            assert_eq!(out, format!("{b},\"reduce_only\":").into_bytes());
        }
    }

    /// `Stamps` write exactly `u64_`/`i64_`'s digits whatever comes: consecutive seqs across
    /// every carry (9 → 10, 99 → 100, …, up to u64::MAX), repeats, jumps back and forth, and
    /// times equal to the last, new, negative or extreme.
    #[test]
    fn stamps_match_plain_digits() {
        let mut st = Stamps::default();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        let mut check_seq = |st: &mut Stamps, v: u64| {
            got.clear();
            want.clear();
            st.seq(&mut got, v, then!(",\"time_ms\":"));
            u64_(&mut want, v);
            want.extend_from_slice(b",\"time_ms\":");
            assert_eq!(got, want, "seq {v}");
        };
        for v in 0..2_000 {
            check_seq(&mut st, v);
        }
        for start in [9_998, 99_990, 999_999_990, u64::MAX - 20, 7, 0, 12_345] {
            for v in start..start.saturating_add(20) {
                check_seq(&mut st, v);
                check_seq(&mut st, v);
            }
        }
        check_seq(&mut st, u64::MAX);
        check_seq(&mut st, 3);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        let mut times = vec![
            1_680_307_260_075,
            1_680_307_260_075,
            1_680_307_260_100,
            -1,
            -1,
            0,
            i64::MIN,
            i64::MAX,
            i64::MIN,
            42,
            99_999,
            100_000,
            100_001,
            199_999,
            200_000,
            -150_000,
            -150_001,
            150_000,
        ];
        // times moving on by small steps (in and across 100 s) and jumping about
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut t = 1_680_307_199_000i64;
        for _ in 0..20_000 {
            t += (next() % 30_000) as i64;
            times.push(t);
            if next() % 50 == 0 {
                times.push((next() as i64) >> (next() % 64));
            }
        }
        for v in times {
            got.clear();
            want.clear();
            st.time(&mut got, v, then!(",\"source\":\"exchange\""));
            i64_(&mut want, v);
            want.extend_from_slice(b",\"source\":\"exchange\"");
            assert_eq!(got, want, "time {v}");
        }
    }

    /// `Digits` write exactly `u64_`'s digits (and `i64_then`'s for `put_i64`) whatever
    /// comes: repeats, steps within and across the last five digits, across digit counts
    /// (99 999 → 100 000, 999 999 → 1 000 000), numbers below 100 000, jumps and negatives.
    #[test]
    fn digits_match_plain_digits() {
        let mut d = Digits::default();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut vs: Vec<u64> = vec![0, 0, 5, 99_999, 100_000, 100_001, 199_999, 200_000];
        vs.extend([
            999_998,
            999_999,
            1_000_000,
            1_000_001,
            u64::MAX,
            u64::MAX - 1,
            7,
        ]);
        let mut v = 4_000_000_000_000u64;
        for _ in 0..20_000 {
            v += next() % 3;
            vs.push(v);
            if next() % 40 == 0 {
                vs.push(next() >> (next() % 64));
            }
        }
        for v in vs {
            got.clear();
            want.clear();
            d.put(&mut got, v, then!(",\"k\":"));
            u64_(&mut want, v);
            want.extend_from_slice(b",\"k\":");
            assert_eq!(got, want, "{v}");
            let s = v as i64;
            got.clear();
            want.clear();
            d.put_i64(&mut got, s, then!(","));
            i64_(&mut want, s);
            want.push(b',');
            assert_eq!(got, want, "{s}");
        }
    }

    /// Every spelled enum writes what serde_json writes for each of its variants, quoted and
    /// bare, with and without a text after it (the lists come from the exhaustive matches
    /// themselves).
    #[test]
    fn spellings_match_serde_json() {
        fn check<V: serde::Serialize + Spelled + std::fmt::Debug>(all: &[V]) {
            for &v in all {
                let spelled = serde_json::to_vec(&v).unwrap();
                let mut out = b"x".to_vec();
                put_word(&mut out, v.quoted::<T0>());
                put_word(&mut out, v.quoted::<TK>());
                put_word(&mut out, v.bare::<T0>());
                put_word(&mut out, v.bare::<TK>());
                let mut want = b"x".to_vec();
                want.extend(&spelled);
                want.extend(&spelled);
                want.extend(b",\"time_in_force\":");
                want.extend(&spelled[1..spelled.len() - 1]);
                want.extend(&spelled[1..spelled.len() - 1]);
                want.extend(b",\"time_in_force\":");
                assert_eq!(out, want, "{v:?}");
            }
        }
        struct T0;
        impl Then for T0 {
            const TEXT: &'static str = "";
        }
        struct TK;
        impl Then for TK {
            const TEXT: &'static str = ",\"time_in_force\":";
        }
        check(ALL_SIDES);
        check(ALL_POS_SIDES);
        check(ALL_ORDER_TYPES);
        check(ALL_TIFS);
        check(ALL_ORDER_STATUSES);
        check(ALL_ALGO_STATUSES);
        check(ALL_EXEC_TYPES);
        check(ALL_EXPIRY_REASONS);
        check(ALL_WORKING_TYPES);
        check(ALL_ENDPOINTS);
    }

    /// `write_window` takes no cold kind, and a record that does not fit its window (long
    /// strings, at every length around the window's size) comes back as `None` and is then
    /// written by the `Vec` path with the same stamps: record after record, the bytes are
    /// serde_json's, whichever path wrote them.
    #[test]
    fn window_overflow_falls_back_to_the_vec_path() {
        let cold = [
            Event::Warning {
                code: "c".into(),
                text: "t".into(),
            },
            Event::Engine(EngineEvent::Restart),
        ];
        let mut win = Box::new([b'x'; WIN]);
        for e in cold {
            let r = EventRecord {
                seq: Seq(1),
                time_ms: TimeMs(2),
                source: Source::Sim,
                event: e,
            };
            assert!(!is_hot(&r.event));
            assert_eq!(write_window(&r, &mut win, &mut Stamps::default()), None);
        }
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut st = Stamps::default();
        let (mut windowed, mut spilled) = (0, 0);
        let mut t = 1_680_307_260_075i64;
        for (i, n) in (0..400)
            .chain(WIN - 700..WIN + 40)
            .chain([WIN * 3])
            .enumerate()
        {
            // a long text, now and then with bytes to escape (which lengthen it)
            let text: String = (0..n)
                .map(|j| match (next() % 97, j % 26) {
                    (0, _) => '"',
                    (1, _) => '\u{1}',
                    (_, k) => (b'a' + k as u8) as char,
                })
                .collect();
            t += (next() % 3) as i64;
            let event = match i % 3 {
                0 => Event::Response {
                    call: i as u64,
                    endpoint: Endpoint::NewOrder,
                    outcome: CallOutcome::Ok(text),
                },
                1 => Event::OrderTradeUpdate(OrderUpdate::accepted_for_test(
                    "FILUSDT",
                    text,
                    8_389_765_000 + i as u64,
                    Side::Buy,
                    OrderType::Market,
                    Decimal::new(i as i64, 2),
                )),
                _ => Event::Warning {
                    code: "w".into(),
                    text,
                },
            };
            let r = EventRecord {
                seq: Seq(i as u64),
                time_ms: TimeMs(t),
                source: Source::Exchange,
                event,
            };
            let want = serde_json::to_vec(&r).unwrap();
            let got = match write_window(&r, &mut win, &mut st) {
                Some(n) => {
                    windowed += 1;
                    assert!(n < WIN);
                    win[..n].to_vec()
                }
                None => {
                    spilled += 1;
                    let mut v = Vec::new();
                    write_record_with(&r, &mut v, &mut st);
                    v
                }
            };
            assert!(
                got == want,
                "record {i} ({n} bytes of text)\n got: {}\nwant: {}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
        }
        assert!(windowed > 300 && spilled > 300, "{windowed} {spilled}");
    }

    trait SignNeg {
        fn set_sign_negative_ret(self) -> Self;
    }
    impl SignNeg for Decimal {
        fn set_sign_negative_ret(mut self) -> Self {
            self.set_sign_negative(true);
            self
        }
    }
}
