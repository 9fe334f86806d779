//! The hand parser's loader: files read in parallel, their rows cut into pieces at line breaks and
//! parsed on every core straight into the final columns.
//!
//! A load is four steps:
//! 1. **read** every file (in parallel when there are several: zips inflate on all cores);
//! 2. **settle** symbol and bar length file by file, in file-name order;
//! 3. **plan**: trim each file's trailing line breaks, count its rows exactly (one SWAR pass) and cut
//!    it into pieces of about [`auto_piece_bytes`] that end on a line break; allocate each column once
//!    (zeroed lazily by the kernel, so its pages are first touched by the thread that fills them);
//! 4. **parse** the pieces in parallel, each into its own disjoint slice of the columns, checking
//!    every row and the steps between its own rows; then **join** in order: the step across each
//!    piece boundary, the gaps, and the first error in file order.
//!
//! The result, including which error is reported when a file has several, is exactly that of the
//! sequential parser ([`super::parse::parse_kline_bytes`]) for any cut into pieces: the tests below
//! cut real and broken files into pieces of every size and compare.

use std::path::PathBuf;

use rayon::prelude::*;

use super::error::DataError;
use super::input::{data_start, expand_paths, read_input, recycle, Input};
use super::kline::{Gap, KlineSeries};
use super::parse::{count_newlines, empty_line, next_row, settle_meta, Layout, LoadOptions, Meta};
use super::validate::{check_row, check_step, previous_row_at, unknown_interval, RawRow};

/// Smallest piece worth a task of its own (about 2,700 rows of 1m klines).
const MIN_PIECE_BYTES: usize = 256 * 1024;

/// Piece size for a load of `total` bytes of rows: about four pieces per core, none below
/// [`MIN_PIECE_BYTES`].
pub(crate) fn auto_piece_bytes(total: usize) -> usize {
    let tasks = 4 * rayon::current_num_threads().max(1);
    (total / tasks).max(MIN_PIECE_BYTES)
}

/// A run of whole lines of one file that one task parses.
struct Piece {
    /// Index of the file in the load.
    file: usize,
    /// Byte range in that file's text.
    start: usize,
    end: usize,
    /// Line number of its first row.
    first_line: usize,
    /// Number of lines (rows) it holds.
    rows: usize,
}

/// What a piece's task found.
#[derive(Default)]
struct PieceOut {
    /// Open time of the first row, if that row passed its own checks.
    first: Option<i64>,
    /// Open time and line of the last row (set only if the whole piece parsed).
    last: Option<(i64, usize)>,
    /// Gaps between the piece's own rows.
    gaps: Vec<Gap>,
    /// The first error in the piece.
    err: Option<DataError>,
}

/// The ten columns' slices one piece fills.
struct ColsMut<'a> {
    open_time: &'a mut [i64],
    open: &'a mut [i64],
    high: &'a mut [i64],
    low: &'a mut [i64],
    close: &'a mut [i64],
    volume: &'a mut [i128],
    quote_volume: &'a mut [i128],
    count: &'a mut [u64],
    taker_buy_volume: &'a mut [i128],
    taker_buy_quote_volume: &'a mut [i128],
}

impl<'a> ColsMut<'a> {
    fn of(s: &'a mut KlineSeries) -> Self {
        ColsMut {
            open_time: &mut s.open_time_ms,
            open: &mut s.open_e8,
            high: &mut s.high_e8,
            low: &mut s.low_e8,
            close: &mut s.close_e8,
            volume: &mut s.volume_e8,
            quote_volume: &mut s.quote_volume_e8,
            count: &mut s.count,
            taker_buy_volume: &mut s.taker_buy_volume_e8,
            taker_buy_quote_volume: &mut s.taker_buy_quote_volume_e8,
        }
    }

    /// Splits off the first `n` rows.
    fn split_at(self, n: usize) -> (Self, Self) {
        let (a0, b0) = self.open_time.split_at_mut(n);
        let (a1, b1) = self.open.split_at_mut(n);
        let (a2, b2) = self.high.split_at_mut(n);
        let (a3, b3) = self.low.split_at_mut(n);
        let (a4, b4) = self.close.split_at_mut(n);
        let (a5, b5) = self.volume.split_at_mut(n);
        let (a6, b6) = self.quote_volume.split_at_mut(n);
        let (a7, b7) = self.count.split_at_mut(n);
        let (a8, b8) = self.taker_buy_volume.split_at_mut(n);
        let (a9, b9) = self.taker_buy_quote_volume.split_at_mut(n);
        (
            ColsMut {
                open_time: a0,
                open: a1,
                high: a2,
                low: a3,
                close: a4,
                volume: a5,
                quote_volume: a6,
                count: a7,
                taker_buy_volume: a8,
                taker_buy_quote_volume: a9,
            },
            ColsMut {
                open_time: b0,
                open: b1,
                high: b2,
                low: b3,
                close: b4,
                volume: b5,
                quote_volume: b6,
                count: b7,
                taker_buy_volume: b8,
                taker_buy_quote_volume: b9,
            },
        )
    }

    #[inline(always)]
    fn set(&mut self, k: usize, r: &RawRow) {
        self.open_time[k] = r.open_time;
        self.open[k] = r.open;
        self.high[k] = r.high;
        self.low[k] = r.low;
        self.close[k] = r.close;
        self.volume[k] = r.volume;
        self.quote_volume[k] = r.quote_volume;
        self.count[k] = r.count;
        self.taker_buy_volume[k] = r.taker_buy_volume;
        self.taker_buy_quote_volume[k] = r.taker_buy_quote_volume;
    }
}

/// Loads `paths` with the hand parser; `piece_bytes(total)` chooses the piece size for `total` bytes of rows.
pub(crate) fn load(
    paths: &[PathBuf],
    opts: &LoadOptions,
    layout_of: &(dyn Fn(&[u8]) -> Layout + Sync),
    piece_bytes: impl Fn(usize) -> usize,
) -> Result<KlineSeries, DataError> {
    let files = expand_paths(paths)?;
    // 1. Read. A failure is reported only after the rows of the files before it.
    let reads: Vec<Result<Input, DataError>> = if files.len() == 1 {
        vec![read_input(&files[0])]
    } else {
        files.par_iter().map(|p| read_input(p)).collect()
    };
    // 2. Settle symbol and interval, file by file; stop at the first failure.
    let mut meta = Meta::default();
    let mut inputs: Vec<(Input, Layout)> = Vec::with_capacity(reads.len());
    let mut deferred: Option<DataError> = None;
    for r in reads {
        let input = match r {
            Ok(i) => i,
            Err(e) => {
                deferred = Some(e);
                break;
            }
        };
        let layout = layout_of(&input.bytes);
        if let Err(e) = settle_meta(&mut meta, &input, opts, layout) {
            deferred = Some(e);
            break;
        }
        inputs.push((input, layout));
    }
    let result = parse_inputs(&inputs, &meta, deferred, piece_bytes);
    for (input, _) in inputs {
        recycle(input.bytes);
    }
    result
}

/// Steps 3 and 4 for the settled `inputs`; `deferred` is reported if their rows are all fine.
fn parse_inputs(
    inputs: &[(Input, Layout)],
    meta: &Meta,
    mut deferred: Option<DataError>,
    piece_bytes: impl Fn(usize) -> usize,
) -> Result<KlineSeries, DataError> {
    let interval = meta.interval_ms;
    // 3. Plan: each file's rows, without trailing line breaks, cut at line breaks.
    let mut bodies: Vec<(usize, usize, usize)> = Vec::with_capacity(inputs.len());
    for (k, (input, _)) in inputs.iter().enumerate() {
        let bytes = &input.bytes;
        let (start, first_line, _) = data_start(bytes);
        let mut end = bytes.len();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if end > start && interval <= 0 {
            // Rows whose bar length nobody can tell: an error at the first of them, after earlier files.
            deferred = Some(unknown_interval(&input.name, first_line));
            bodies.truncate(k);
            break;
        }
        bodies.push((start, end, first_line));
    }
    let total: usize = bodies.iter().map(|&(s, e, _)| e - s).sum();
    let size = piece_bytes(total).max(1);
    // Cut points first; rows per piece are counted in parallel, then numbered in order.
    let mut pieces: Vec<Piece> = Vec::new();
    for (file, &(start, end, first_line)) in bodies.iter().enumerate() {
        let bytes = &inputs[file].0.bytes;
        let mut pos = start;
        while pos < end {
            let cut = pos.saturating_add(size);
            let stop = if cut >= end {
                end
            } else {
                match bytes[cut..end].iter().position(|&c| c == b'\n') {
                    Some(p) => cut + p + 1,
                    None => end,
                }
            };
            pieces.push(Piece {
                file,
                start: pos,
                end: stop,
                first_line,
                rows: usize::from(stop == end),
            });
            pos = stop;
        }
    }
    let counts: Vec<usize> = maybe_par(&pieces, |p: &Piece| {
        count_newlines(&inputs[p.file].0.bytes[p.start..p.end])
    });
    for (p, c) in pieces.iter_mut().zip(counts) {
        p.rows += c;
    }
    let mut next_line = 0usize;
    let mut cur_file = usize::MAX;
    for p in pieces.iter_mut() {
        if p.file != cur_file {
            cur_file = p.file;
            next_line = p.first_line;
        }
        p.first_line = next_line;
        next_line += p.rows;
    }
    // 4. Parse every piece into its own slice of the columns.
    let n: usize = pieces.iter().map(|p| p.rows).sum();
    let mut series = KlineSeries::new(meta.symbol.clone(), interval);
    zero_columns(&mut series, n);
    let mut slices = Vec::with_capacity(pieces.len());
    let mut rest = ColsMut::of(&mut series);
    for p in &pieces {
        let (head, tail) = rest.split_at(p.rows);
        slices.push(head);
        rest = tail;
    }
    let work = |(p, cols): (&Piece, ColsMut<'_>)| {
        let (input, layout) = &inputs[p.file];
        parse_piece(
            &input.bytes[p.start..p.end],
            &input.name,
            p.first_line,
            p.rows,
            *layout,
            interval,
            cols,
        )
    };
    let outs: Vec<PieceOut> = if pieces.len() == 1 {
        pieces.iter().zip(slices).map(work).collect()
    } else {
        pieces.par_iter().zip(slices).map(work).collect()
    };
    // Join, in file order.
    let mut prev: Option<(i64, usize, usize)> = None; // open time, file, line
    for (p, out) in pieces.iter().zip(outs) {
        let name = &inputs[p.file].0.name;
        let PieceOut {
            first,
            last,
            gaps,
            err,
        } = out;
        // (A piece whose first row is bad has no `first`: that row's own error comes first.)
        if let (Some((t0, f0, l0)), Some(first)) = (prev, first) {
            if first.checked_sub(t0) != Some(interval) {
                let at = previous_row_at(&inputs[f0].0.name, l0, name);
                let gap = check_step(t0, first, interval, &at, name, p.first_line)?;
                series.gaps.push(gap);
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        series.gaps.extend(gaps);
        if let Some((t, line)) = last {
            prev = Some((t, p.file, line));
        }
    }
    match deferred {
        Some(e) => Err(e),
        None => Ok(series),
    }
}

/// Parses the `rows` lines of `bytes` (whole lines of `file` from `first_line` on) into `cols`.
fn parse_piece(
    bytes: &[u8],
    file: &str,
    first_line: usize,
    rows: usize,
    layout: Layout,
    interval: i64,
    mut cols: ColsMut<'_>,
) -> PieceOut {
    let mut out = PieceOut::default();
    let mut pos = 0usize;
    let mut prev: Option<i64> = None;
    for k in 0..rows {
        let line = first_line + k;
        let row = match bytes.get(pos) {
            Some(b'\n' | b'\r') | None => Err(empty_line(file, line)),
            Some(_) => next_row(bytes, &mut pos, layout, interval, file, line),
        };
        let step = row.and_then(|row| {
            check_row(&row, interval, file, line)?;
            match prev {
                None => out.first = Some(row.open_time),
                Some(p) if row.open_time.checked_sub(p) != Some(interval) => {
                    let at = previous_row_at(file, line - 1, file);
                    out.gaps
                        .push(check_step(p, row.open_time, interval, &at, file, line)?);
                }
                Some(_) => {}
            }
            Ok(row)
        });
        match step {
            Ok(row) => {
                cols.set(k, &row);
                prev = Some(row.open_time);
            }
            Err(e) => {
                out.err = Some(e);
                return out;
            }
        }
    }
    out.last = prev.map(|t| (t, first_line + rows.saturating_sub(1)));
    out
}

/// Rows below which the columns are zeroed on the calling thread.
const PARALLEL_ZERO_ROWS: usize = 1 << 15;

/// Sets every column of `s` to `n` zeros. For large loads the ten columns are allocated and zeroed
/// by all cores, so that the kernel's page faults for the fresh memory are taken in parallel.
fn zero_columns(s: &mut KlineSeries, n: usize) {
    fn z<T: Copy + Default>(v: &mut Vec<T>, n: usize) {
        *v = vec![T::default(); n];
    }
    if n < PARALLEL_ZERO_ROWS {
        z(&mut s.open_time_ms, n);
        z(&mut s.open_e8, n);
        z(&mut s.high_e8, n);
        z(&mut s.low_e8, n);
        z(&mut s.close_e8, n);
        z(&mut s.volume_e8, n);
        z(&mut s.quote_volume_e8, n);
        z(&mut s.count, n);
        z(&mut s.taker_buy_volume_e8, n);
        z(&mut s.taker_buy_quote_volume_e8, n);
        return;
    }
    rayon::scope(|sc| {
        sc.spawn(|_| z(&mut s.volume_e8, n));
        sc.spawn(|_| z(&mut s.quote_volume_e8, n));
        sc.spawn(|_| z(&mut s.taker_buy_volume_e8, n));
        sc.spawn(|_| z(&mut s.taker_buy_quote_volume_e8, n));
        sc.spawn(|_| {
            z(&mut s.open_time_ms, n);
            z(&mut s.open_e8, n);
        });
        sc.spawn(|_| {
            z(&mut s.high_e8, n);
            z(&mut s.low_e8, n);
        });
        sc.spawn(|_| {
            z(&mut s.close_e8, n);
            z(&mut s.count, n);
        });
    });
}

/// `f` over `items`, in order; in parallel when there is more than one.
fn maybe_par<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if items.len() <= 1 {
        items.iter().map(f).collect()
    } else {
        items.par_iter().map(f).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::input::expand_paths;
    use crate::data::parse::{parse_kline_bytes, prepare_file, sniff_layout};
    use crate::data::validate::Builder;
    use proptest::prelude::*;
    use std::path::Path;

    const AVAX: &str = "data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv";

    /// The sequential reference: one file after the other, one row after the other.
    fn sequential(
        paths: &[PathBuf],
        layout_of: impl Fn(&[u8]) -> Layout,
    ) -> Result<KlineSeries, DataError> {
        let files = expand_paths(paths)?;
        let mut b = Builder::new(String::new(), 0, 0);
        for path in &files {
            let input = read_input(path)?;
            let layout = layout_of(&input.bytes);
            prepare_file(&mut b, &input, &LoadOptions::default(), layout)?;
            parse_kline_bytes(&input.bytes, &input.name, layout, &mut b)?;
        }
        Ok(b.finish())
    }

    fn pieces_of(
        paths: &[PathBuf],
        layout_of: &(dyn Fn(&[u8]) -> Layout + Sync),
        size: usize,
    ) -> Result<KlineSeries, DataError> {
        load(paths, &LoadOptions::default(), layout_of, |_| size)
    }

    /// Same series, or the same one-line error.
    fn same(
        a: &Result<KlineSeries, DataError>,
        b: &Result<KlineSeries, DataError>,
    ) -> Result<(), String> {
        match (a, b) {
            (Ok(x), Ok(y)) if x == y => Ok(()),
            (Err(x), Err(y)) if x.to_string() == y.to_string() => Ok(()),
            (x, y) => Err(format!(
                "pieces: {:?}\nsequential: {:?}",
                x.as_ref()
                    .map(|s| (s.len(), s.gaps.clone()))
                    .map_err(|e| e.to_string()),
                y.as_ref()
                    .map(|s| (s.len(), s.gaps.clone()))
                    .map_err(|e| e.to_string())
            )),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocosim-pieces-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_real_month_cut_anywhere_equals_the_sequential_parse() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(AVAX);
        let paths = vec![path];
        let want = sequential(&paths, |_| Layout::Full);
        assert_eq!(want.as_ref().map(KlineSeries::len).ok(), Some(40_320));
        for size in [1, 97, 4096, 100_003, 1 << 20, usize::MAX / 2] {
            let got = pieces_of(&paths, &|_| Layout::Full, size);
            same(&got, &want).unwrap_or_else(|e| panic!("piece size {size}: {e}"));
        }
        // And through the public entry point, with its own piece size.
        let got = crate::data::load_klines(&paths, &LoadOptions::default());
        same(&got, &want).unwrap();
    }

    #[test]
    fn a_folder_of_months_with_gaps_cut_anywhere_equals_the_sequential_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/binance-um/klines/AVAXUSDT/1m");
        let paths = vec![dir];
        let want = sequential(&paths, |_| Layout::Full);
        let series = want.as_ref().unwrap();
        assert!(
            !series.gaps.is_empty(),
            "the AVAX months are not contiguous"
        );
        for size in [977, 300_000] {
            let got = pieces_of(&paths, &|_| Layout::Full, size);
            same(&got, &want).unwrap_or_else(|e| panic!("piece size {size}: {e}"));
        }
    }

    /// One way of breaking a small real file.
    #[derive(Debug, Clone)]
    enum Mutation {
        Swap(usize, usize),
        Duplicate(usize),
        Delete(usize),
        BlankLine(usize),
        SetByte(usize, u8),
        CrLf,
        TrailingBreaks(usize),
        NoHeader,
        SixColumns,
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (0..40usize, 0..40usize).prop_map(|(a, b)| Mutation::Swap(a, b)),
            (0..40usize).prop_map(Mutation::Duplicate),
            (0..40usize).prop_map(Mutation::Delete),
            (0..40usize).prop_map(Mutation::BlankLine),
            (0..4000usize, prop::sample::select(b"x,-.\r\n90".to_vec()))
                .prop_map(|(p, c)| Mutation::SetByte(p, c)),
            Just(Mutation::CrLf),
            (1..4usize).prop_map(Mutation::TrailingBreaks),
            Just(Mutation::NoHeader),
            Just(Mutation::SixColumns),
        ]
    }

    fn first_lines(n: usize) -> (String, Vec<String>) {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(AVAX)).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_string();
        (header, lines.take(n).map(str::to_string).collect())
    }

    fn render(header: &str, rows: &[String], muts: &[Mutation]) -> Vec<u8> {
        let mut rows = rows.to_vec();
        let mut header = Some(header.to_string());
        let (mut crlf, mut trailing) = (false, 1);
        for m in muts {
            let n = rows.len().max(1);
            match *m {
                Mutation::Swap(a, b) if !rows.is_empty() => rows.swap(a % n, b % n),
                Mutation::Duplicate(a) if !rows.is_empty() => {
                    let r = rows[a % n].clone();
                    rows.insert(a % n, r);
                }
                Mutation::Delete(a) if !rows.is_empty() => {
                    rows.remove(a % n);
                }
                Mutation::BlankLine(a) => rows.insert(a % n, String::new()),
                Mutation::CrLf => crlf = true,
                Mutation::TrailingBreaks(k) => trailing = k,
                Mutation::NoHeader => header = None,
                Mutation::SixColumns => {
                    header = header.map(|_| "open_time,open,high,low,close,volume".to_string());
                    for r in &mut rows {
                        *r = r.split(',').take(6).collect::<Vec<_>>().join(",");
                    }
                }
                _ => {}
            }
        }
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        for l in header.iter().chain(rows.iter()) {
            out.push_str(l);
            out.push_str(eol);
        }
        out.truncate(out.len() - eol.len());
        for _ in 0..trailing {
            out.push_str(eol);
        }
        let mut bytes = out.into_bytes();
        for m in muts {
            if let Mutation::SetByte(p, c) = *m {
                if !bytes.is_empty() {
                    let at = p % bytes.len();
                    bytes[at] = c;
                }
            }
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Broken files, split over one or two files, cut into pieces of any size: the piece loader
        /// returns exactly what the sequential parser returns (series, gaps, or the same error).
        #[test]
        fn broken_files_cut_anywhere_equal_the_sequential_parse(
            muts in prop::collection::vec(mutation(), 0..4),
            split in 0..45usize,
            size in 1..600usize,
            case in 0..u32::MAX,
        ) {
            let (header, rows) = first_lines(40);
            let dir = scratch(&format!("prop-{case}"));
            let split = split.min(rows.len());
            let (a, b) = rows.split_at(split);
            std::fs::write(dir.join("AVAXUSDT-1m-2026-02-a.csv"), render(&header, a, &muts)).unwrap();
            std::fs::write(dir.join("AVAXUSDT-1m-2026-02-b.csv"), render(&header, b, &muts)).unwrap();
            let paths = vec![dir.clone()];
            let want = sequential(&paths, sniff_layout);
            let got = pieces_of(&paths, &sniff_layout, size);
            let _ = std::fs::remove_dir_all(&dir);
            prop_assert!(same(&got, &want).is_ok(), "{}", same(&got, &want).unwrap_err());
        }
    }

    #[test]
    fn an_unreadable_second_file_is_reported_after_the_rows_of_the_first() {
        let (header, rows) = first_lines(10);
        let dir = scratch("unreadable");
        let mut bad = rows.clone();
        bad[3] = bad[3].replacen(',', ",x", 1);
        std::fs::write(
            dir.join("AVAXUSDT-1m-2026-02-a.csv"),
            render(&header, &bad, &[]),
        )
        .unwrap();
        std::fs::write(
            dir.join("AVAXUSDT-1m-2026-02-b.zip"),
            b"PK\x03\x04 not a zip",
        )
        .unwrap();
        let paths = vec![dir.clone()];
        let got = pieces_of(&paths, &|_| Layout::Full, 50);
        let err = got.unwrap_err().to_string();
        assert!(err.contains("-a.csv:5: field `open`"), "{err}");
        // With the first file fixed, the broken archive is what is reported.
        std::fs::write(
            dir.join("AVAXUSDT-1m-2026-02-a.csv"),
            render(&header, &rows, &[]),
        )
        .unwrap();
        let err = pieces_of(&paths, &|_| Layout::Full, 50)
            .unwrap_err()
            .to_string();
        assert!(err.contains("-b.zip: zip:"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
