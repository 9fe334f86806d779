//! Opening the user's input files safely: regular files only, every read capped in size.
//!
//! A FIFO, a character or block device (`/dev/zero`), a socket or a directory where a file is
//! expected is refused by its kind *before* it is opened for reading, so an input can neither
//! block `sim` forever (a FIFO without a writer) nor stream without end (`/dev/zero`). The open
//! itself is non-blocking and the kind is checked again on the open handle, so a path swapped for
//! a FIFO between the two checks cannot hang either. Every read is bounded: a file larger than
//! its cap is refused from its size before a byte is read, and a file that grows while it is read
//! is cut at the cap and refused.
//!
//! The caps (see the constants) are far above any real input: a month of Binance 1m klines is
//! about 4 MB of CSV, a scenario a few KB.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::error::DataError;

/// Largest scenario, sweep or other TOML/text file accepted (16 MiB).
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// Largest data file (kline, mark or funding CSV, or zip archive) accepted on disk (1 GiB).
pub const MAX_DATA_FILE_BYTES: u64 = 1 << 30;

/// Largest size one zip member may inflate to (1 GiB), checked against the declared size and
/// again while inflating.
pub const MAX_INFLATED_BYTES: u64 = 1 << 30;

/// Largest signals CSV accepted (256 MiB, a few million signals).
pub const MAX_SIGNALS_BYTES: u64 = 256 << 20;

/// Most members a data zip may list (Binance's archives hold one CSV).
pub const MAX_ZIP_MEMBERS: u64 = 1000;

/// What kind of file system object `ft` is, for messages (`"a FIFO"`, `"a directory"`, …).
pub fn kind_name(ft: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

/// The error for a path that exists but is not a regular file.
pub fn not_regular(file: &str, ft: &fs::FileType) -> DataError {
    DataError::file(file, format!("not a regular file ({})", kind_name(ft)))
}

/// Formats a byte count for messages: `16 MiB`, `1 GiB`, `3.5 GiB`, `812 bytes`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if n >= size {
            let tenths = (u128::from(n) * 10 / u128::from(size)) as u64;
            return if tenths % 10 == 0 {
                format!("{} {name}", tenths / 10)
            } else {
                format!("{}.{} {name}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{n} bytes")
}

/// The error for a file over its cap; `size` is its size (or the bytes read before stopping),
/// `what` names the kind of input (`"a data file"`).
pub fn too_large(file: &str, size: u64, cap: u64, what: &str) -> DataError {
    DataError::file(
        file,
        format!(
            "larger than the {} limit for {what} ({size} bytes; split it into smaller files)",
            human_bytes(cap)
        ),
    )
}

/// Checks that `path` is a regular file (following symbolic links) without opening it.
pub fn check_regular(path: &Path) -> Result<fs::Metadata, DataError> {
    let display = path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| DataError::io(&display, e))?;
    if !meta.is_file() {
        return Err(not_regular(&display, &meta.file_type()));
    }
    Ok(meta)
}

/// Opens a regular file for reading and returns it with its size; anything else (FIFO, device,
/// socket, directory) or a file over `cap` bytes is refused. `what` names the input in the
/// size message (`"a data file"`).
pub fn open_regular(path: &Path, cap: u64, what: &str) -> Result<(fs::File, u64), DataError> {
    let display = path.display().to_string();
    check_regular(path)?;
    let mut oo = fs::OpenOptions::new();
    oo.read(true);
    #[cfg(unix)]
    {
        // Were the path replaced by a FIFO after the check, a blocking open would wait for a writer.
        use std::os::unix::fs::OpenOptionsExt;
        oo.custom_flags(libc::O_NONBLOCK);
    }
    let f = oo.open(path).map_err(|e| DataError::io(&display, e))?;
    let meta = f.metadata().map_err(|e| DataError::io(&display, e))?;
    if !meta.is_file() {
        return Err(not_regular(&display, &meta.file_type()));
    }
    if meta.len() > cap {
        return Err(too_large(&display, meta.len(), cap, what));
    }
    Ok((f, meta.len()))
}

/// Reads the rest of `f` (the file `display`) into `buf`, refusing more than `cap` bytes.
pub fn read_to_end_capped(
    f: impl Read,
    buf: &mut Vec<u8>,
    display: &str,
    cap: u64,
    what: &str,
) -> Result<(), DataError> {
    let start = buf.len();
    f.take(cap.saturating_add(1))
        .read_to_end(buf)
        .map_err(|e| DataError::io(display, e))?;
    let got = (buf.len() - start) as u64;
    if got > cap {
        return Err(too_large(display, got, cap, what));
    }
    Ok(())
}

/// Reads a whole regular file of at most `cap` bytes (see [`open_regular`]).
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, DataError> {
    let (f, len) = open_regular(path, cap, what)?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    read_to_end_capped(f, &mut buf, &path.display().to_string(), cap, what)?;
    Ok(buf)
}

/// Reads a whole regular UTF-8 text file of at most `cap` bytes (scenarios, sweeps, CSV parts).
pub fn read_text(path: &Path, cap: u64, what: &str) -> Result<String, DataError> {
    let bytes = read_capped(path, cap, what)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let line = bytes[..at].iter().filter(|&&c| c == b'\n').count() + 1;
        DataError::parse(
            path.display().to_string(),
            line,
            "text",
            format!("is not UTF-8 text (byte {at}) (save the file as UTF-8)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(human_bytes(812), "812 bytes");
        assert_eq!(human_bytes(16 << 20), "16 MiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes((7 << 30) / 2), "3.5 GiB");
        assert_eq!(human_bytes(u64::MAX), "17179869183.9 GiB");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_directories_are_refused_by_kind() {
        let e = read_capped(Path::new("/dev/zero"), 10, "a test file").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: not a regular file (a character device)"
        );
        let e = read_capped(Path::new("/"), 10, "a test file").unwrap_err();
        assert_eq!(e.to_string(), "/: not a regular file (a directory)");
    }

    #[test]
    fn a_file_over_its_cap_is_refused_before_it_is_read() {
        let p = std::env::temp_dir().join(format!("ocosim-files-{}", std::process::id()));
        fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_capped(&p, 10, "x").unwrap(), b"0123456789");
        let e = read_capped(&p, 9, "a test file").unwrap_err().to_string();
        assert!(
            e.ends_with(": larger than the 9 bytes limit for a test file (10 bytes; split it into smaller files)"),
            "{e}"
        );
        fs::write(&p, b"ok\n\xff\n").unwrap();
        let e = read_text(&p, 10, "x").unwrap_err().to_string();
        assert!(
            e.ends_with(":2: field `text`: is not UTF-8 text (byte 3) (save the file as UTF-8)"),
            "{e}"
        );
        let _ = fs::remove_file(&p);
    }
}
