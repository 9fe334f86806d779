//! Turning user paths into in-memory CSV texts: files, zip archives and directories, plus file-name metadata.

use std::fs;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use super::error::DataError;
use super::files::{
    human_bytes, not_regular, open_regular, read_to_end_capped, MAX_DATA_FILE_BYTES,
    MAX_INFLATED_BYTES, MAX_ZIP_MEMBERS,
};
use super::kline::parse_interval;

/// One CSV text read fully into memory, with what its file name says about it.
pub(crate) struct Input {
    /// Name used in error messages (`path` or `archive.zip!member.csv`).
    pub name: String,
    /// The whole CSV text.
    pub bytes: Vec<u8>,
    /// Symbol from the file name, if it has the `SYMBOL-...` form.
    pub symbol: Option<String>,
    /// Interval from the file name, if it has the `SYMBOL-1m-...` form.
    pub interval_ms: Option<i64>,
}

/// Expands directories (their `*.csv`/`*.zip`, sorted by file name, not recursive) and keeps files as given.
///
/// Only regular files are kept: a path given directly, or a `*.csv`/`*.zip` entry of a directory,
/// that is a FIFO, a device, a socket (or, inside a directory, a sub-directory) is refused by kind
/// here, before anything opens it.
pub(crate) fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DataError> {
    if paths.is_empty() {
        return Err(DataError::invalid(
            "load",
            "paths",
            "no path given (pass a .csv or .zip file, or a directory of them)",
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|e| DataError::io(p.display().to_string(), e))?;
        if meta.is_file() {
            out.push(p.clone());
            continue;
        }
        if !meta.is_dir() {
            return Err(not_regular(&p.display().to_string(), &meta.file_type()));
        }
        let rd = fs::read_dir(p).map_err(|e| DataError::io(p.display().to_string(), e))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| DataError::io(p.display().to_string(), e))?;
            let path = entry.path();
            if !is_data_file(&path) {
                continue;
            }
            let meta =
                fs::metadata(&path).map_err(|e| DataError::io(path.display().to_string(), e))?;
            if !meta.is_file() {
                return Err(not_regular(&path.display().to_string(), &meta.file_type()));
            }
            files.push(path);
        }
        if files.is_empty() {
            return Err(DataError::file(
                p.display().to_string(),
                "directory holds no *.csv or *.zip file (point at the folder with the monthly files)",
            ));
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        out.extend(files);
    }
    Ok(out)
}

fn is_data_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("zip"))
}

thread_local! {
    /// A read buffer kept per thread between loads: re-reading a month into already-mapped
    /// memory avoids the kernel's page faults on a fresh 4 MB allocation (about half of a
    /// load's wall time otherwise).
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Files at least this large are read by several threads at once (each its own byte range).
const PARALLEL_READ_BYTES: usize = 1 << 20;

/// Reads a regular file of at most [`MAX_DATA_FILE_BYTES`] into this thread's recycled buffer;
/// large files are read in parallel ranges.
fn read_reusing(path: &Path) -> Result<Vec<u8>, DataError> {
    const WHAT: &str = "a data file";
    let display = path.display().to_string();
    let (f, len) = open_regular(path, MAX_DATA_FILE_BYTES, WHAT)?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut buf = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    if len >= PARALLEL_READ_BYTES
        && rayon::current_num_threads() > 1
        && read_parallel(&f, &mut buf, len).map_err(|e| DataError::io(&display, e))?
    {
        return Ok(buf);
    }
    buf.clear();
    buf.reserve(len.saturating_add(1));
    read_to_end_capped(f, &mut buf, &display, MAX_DATA_FILE_BYTES, WHAT)?;
    Ok(buf)
}

/// Reads the `len` bytes of `f` into `buf` with one positioned read per core; `false` (and `buf` in
/// an unspecified state) if the file turned out not to be `len` bytes long.
#[cfg(unix)]
fn read_parallel(f: &fs::File, buf: &mut Vec<u8>, len: usize) -> std::io::Result<bool> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    if buf.capacity() < len {
        // fresh zeroed pages from the allocator: first touched by the threads that read into them
        *buf = vec![0; len];
    } else {
        // only the part beyond the recycled buffer's old length gets zeroed
        buf.truncate(len);
        buf.resize(len, 0);
    }
    let chunk = len.div_ceil(rayon::current_num_threads()).max(1 << 16);
    let short = buf
        .par_chunks_mut(chunk)
        .enumerate()
        .map(
            |(k, part)| match f.read_exact_at(part, (k * chunk) as u64) {
                Ok(()) => Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(true),
                Err(e) => Err(e),
            },
        )
        .try_reduce(|| false, |a, b| Ok(a || b))?;
    // A file that grew or shrank since `metadata` is read again the ordinary way.
    let mut probe = [0u8; 1];
    Ok(!short && f.read_at(&mut probe, len as u64)? == 0)
}

#[cfg(not(unix))]
fn read_parallel(_f: &fs::File, _buf: &mut Vec<u8>, _len: usize) -> std::io::Result<bool> {
    Ok(false)
}

/// The largest read buffer kept for the next load: a month of one-minute klines is about 4 MB.
/// A larger file's buffer is freed at once; kept, it would stay allocated for the rest of the
/// process (a year in one file: 37 MB held through the whole run, its largest allocation).
const RECYCLE_MAX_BYTES: usize = 8 << 20;

/// Hands a file's bytes back for the next load on this thread (up to [`RECYCLE_MAX_BYTES`]).
pub(crate) fn recycle(bytes: Vec<u8>) {
    if bytes.capacity() > RECYCLE_MAX_BYTES {
        return;
    }
    READ_BUF.with(|b| {
        let mut slot = b.borrow_mut();
        if bytes.capacity() > slot.capacity() {
            *slot = bytes;
        }
    });
}

/// Reads a `.csv` file, or the single CSV member of a `.zip` archive, fully into memory.
pub(crate) fn read_input(path: &Path) -> Result<Input, DataError> {
    let display = path.display().to_string();
    let raw = read_reusing(path)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_zip = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        || raw.starts_with(b"PK\x03\x04");
    let (name, bytes, meta_name) = if is_zip {
        let (member, bytes) = unzip_single_csv(&raw, &display)?;
        let member_base = member.rsplit('/').next().unwrap_or(&member).to_string();
        (format!("{display}!{member}"), bytes, member_base)
    } else {
        (display, raw, file_name.clone())
    };
    let (mut symbol, mut interval_ms) = name_info(&meta_name);
    if symbol.is_none() || interval_ms.is_none() {
        let (s, i) = name_info(&file_name);
        symbol = symbol.or(s);
        interval_ms = interval_ms.or(i);
    }
    Ok(Input {
        name,
        bytes,
        symbol,
        interval_ms,
    })
}

/// Extracts the one CSV member of a zip archive held in memory.
///
/// The member may inflate to at most [`MAX_INFLATED_BYTES`]: a larger declared size is refused
/// before inflating, and inflating stops one byte past the declared size (or the cap), so an
/// archive that lies about its size (a zip bomb) is refused without filling memory.
pub(crate) fn unzip_single_csv(raw: &[u8], display: &str) -> Result<(String, Vec<u8>), DataError> {
    let zerr = |msg: String| DataError::Zip {
        file: display.to_string(),
        msg,
    };
    if let Some(n) = declared_members(raw) {
        if n > MAX_ZIP_MEMBERS {
            let count = if n == u64::MAX {
                "an unreadable number of".to_string()
            } else {
                n.to_string()
            };
            return Err(zerr(format!(
                "lists {count} members, more than {MAX_ZIP_MEMBERS} (expected one .csv, as in Binance's archive)"
            )));
        }
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(raw))
        .map_err(|e| zerr(format!("{e} (not a readable zip archive)")))?;
    let mut found: Option<usize> = None;
    for i in 0..archive.len() {
        let name = archive.name_for_index(i).unwrap_or("");
        if name.ends_with('/') || !name.to_ascii_lowercase().ends_with(".csv") {
            continue;
        }
        if found.is_some() {
            return Err(zerr(
                "holds more than one .csv member (expected one, as in Binance's archive)".into(),
            ));
        }
        found = Some(i);
    }
    let Some(i) = found else {
        return Err(zerr(
            "holds no .csv member (expected one, as in Binance's archive)".into(),
        ));
    };
    let mut f = archive
        .by_index(i)
        .map_err(|e| zerr(format!("member {i}: {e}")))?;
    let name = f.name().to_string();
    let cap = MAX_INFLATED_BYTES;
    let declared = f.size();
    if declared > cap {
        return Err(zerr(format!(
            "{name}: declares {} inflated, more than the {} limit for one member (a zip bomb, or split the CSV)",
            human_bytes(declared),
            human_bytes(cap)
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    let got = (&mut f)
        .take(declared + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| zerr(format!("{name}: {e} (the archive is damaged)")))?;
    if got as u64 > declared {
        return Err(zerr(format!(
            "{name}: inflates to more than the {declared} bytes it declares (a damaged archive or a zip bomb; a member may inflate to at most {})",
            human_bytes(cap)
        )));
    }
    Ok((name, bytes))
}

/// The member count an archive's end-of-central-directory record declares (or its ZIP64 record),
/// read without parsing the directory; `None` if there is no such record, `u64::MAX` if a ZIP64
/// count is announced but cannot be read.
fn declared_members(raw: &[u8]) -> Option<u64> {
    let u16_at = |b: &[u8], k: usize| b.get(k..k + 2).map(|x| u16::from_le_bytes([x[0], x[1]]));
    let u64_at = |b: &[u8], k: usize| {
        b.get(k..k + 8)
            .and_then(|x| x.try_into().ok())
            .map(u64::from_le_bytes)
    };
    // The record is 22 bytes plus a comment of at most 65535 bytes at the very end.
    let tail_start = raw.len().saturating_sub(22 + 65_535);
    let at = tail_start
        + raw[tail_start..]
            .windows(4)
            .rposition(|w| w == b"PK\x05\x06")?;
    let total = u16_at(raw, at + 10)?;
    if total != u16::MAX {
        return Some(u64::from(total));
    }
    // ZIP64: a 20-byte locator just before the record points at the ZIP64 record.
    let zip64 = || -> Option<u64> {
        let loc = at.checked_sub(20)?;
        if raw.get(loc..loc + 4)? != b"PK\x06\x07" {
            return None;
        }
        let rec = usize::try_from(u64_at(raw, loc + 8)?).ok()?;
        if raw.get(rec..rec.checked_add(4)?)? != b"PK\x06\x06" {
            return None;
        }
        u64_at(raw, rec + 32)
    };
    Some(zip64().unwrap_or(u64::MAX))
}

/// Reads `SYMBOL` and the interval off a Binance file name such as `AVAXUSDT-1m-2026-02.csv`.
pub(crate) fn name_info(file_name: &str) -> (Option<String>, Option<i64>) {
    let stem = file_name
        .strip_suffix(".zip")
        .or_else(|| file_name.strip_suffix(".csv"))
        .or_else(|| file_name.strip_suffix(".CSV"))
        .or_else(|| file_name.strip_suffix(".ZIP"))
        .unwrap_or(file_name);
    let mut parts = stem.split('-');
    let first = parts.next().unwrap_or("");
    let second = parts.next();
    if second.is_none() {
        return (None, None);
    }
    let symbol = (!first.is_empty()
        && first
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && first.bytes().any(|c| c.is_ascii_uppercase()))
    .then(|| first.to_string());
    let interval = second.and_then(parse_interval);
    (symbol, interval)
}

/// Where the data rows start: `(byte offset, 1-based line number, has_header)`; a UTF-8 BOM is skipped.
///
/// A first line that starts with an ASCII letter is a header row.
pub(crate) fn data_start(bytes: &[u8]) -> (usize, usize, bool) {
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    match bytes.get(start) {
        Some(c) if c.is_ascii_alphabetic() => match line_end(bytes, start) {
            e if e < bytes.len() => (e + 1, 2, true),
            _ => (bytes.len(), 2, true),
        },
        _ => (start, 1, false),
    }
}

/// Index of the `\n` that ends the line starting at `from`, or `bytes.len()`.
pub(crate) fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// The line `[from, end)` without its trailing `\r`.
pub(crate) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True if everything from `from` on is line breaks only (an allowed trailing empty line).
pub(crate) fn only_line_breaks(bytes: &[u8], from: usize) -> bool {
    bytes[from..].iter().all(|&c| c == b'\n' || c == b'\r')
}

/// Applies a file's symbol and interval to a running load, refusing mixtures.
pub(crate) fn merge_meta(
    current_symbol: &str,
    current_interval: i64,
    expect_interval: Option<i64>,
    input: &Input,
) -> Result<(Option<String>, Option<i64>), DataError> {
    use super::kline::interval_name;
    let mut symbol = None;
    if let Some(s) = &input.symbol {
        if current_symbol.is_empty() {
            symbol = Some(s.clone());
        } else if current_symbol != s {
            return Err(DataError::parse(
                &input.name,
                0,
                "symbol",
                format!(
                    "file name says {s} but earlier files are {current_symbol} (load one symbol at a time)"
                ),
            ));
        }
    }
    let mut interval = None;
    if let Some(n) = input.interval_ms {
        if let Some(e) = expect_interval {
            if e != n {
                return Err(DataError::parse(
                    &input.name,
                    0,
                    "interval",
                    format!(
                        "file name says {} but expect_interval_ms is {e} ({}) (load the matching files or change the option)",
                        interval_name(n),
                        interval_name(e)
                    ),
                ));
            }
        }
        if current_interval > 0 && current_interval != n {
            return Err(DataError::parse(
                &input.name,
                0,
                "interval",
                format!(
                    "file name says {} but earlier files are {} (load one interval at a time)",
                    interval_name(n),
                    interval_name(current_interval)
                ),
            ));
        }
        interval = Some(n);
    }
    if current_interval <= 0 {
        interval = expect_interval.or(interval);
    } else {
        interval = Some(current_interval);
    }
    Ok((symbol, interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> usize {
        READ_BUF.with(|b| b.borrow().capacity())
    }

    #[test]
    fn read_buffers_are_kept_up_to_a_cap() {
        // a test thread of its own: its buffer starts empty
        std::thread::spawn(|| {
            assert_eq!(kept(), 0);
            recycle(Vec::with_capacity(1 << 20));
            assert!(kept() >= 1 << 20, "a month-sized buffer is kept");
            recycle(Vec::with_capacity(1 << 10));
            assert!(kept() >= 1 << 20, "a smaller one does not replace it");
            recycle(Vec::with_capacity(RECYCLE_MAX_BYTES + 1));
            assert!(
                kept() < RECYCLE_MAX_BYTES,
                "a buffer past the cap is freed, not kept for the rest of the process"
            );
            recycle(Vec::with_capacity(RECYCLE_MAX_BYTES));
            assert!(kept() >= RECYCLE_MAX_BYTES);
        })
        .join()
        .unwrap();
    }
}
