//! The single error type of `ocosim::data`; every variant prints as one line that names its file.

use std::fmt;

/// Everything that can go wrong while reading, validating, transforming or downloading market data.
///
/// Each variant's `Display` is exactly one line; `Parse` prints `FILE:LINE: field `NAME`: what (hint)`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A row or field of a data file is malformed or inconsistent.
    #[error("{}", at_line(file, *line, field, msg))]
    Parse {
        /// The file (for a zip archive: `archive.zip!member.csv`).
        file: String,
        /// The 1-based physical line number in that file (0 if the problem is not tied to a line:
        /// then the message has no line, `FILE: field `NAME`: what`).
        line: usize,
        /// The column or property that is wrong (for example `high` or `row`).
        field: String,
        /// What is wrong, ending with a hint in parentheses.
        msg: String,
    },
    /// A whole input file is refused: not a regular file (a FIFO, a device, …), larger than its
    /// cap, or without the content it needs.
    #[error("{file}: {msg}")]
    File {
        /// The file or directory.
        file: String,
        /// What is wrong, with a hint.
        msg: String,
    },
    /// Reading or writing a file or directory failed.
    #[error("{file}: {}", one_line(source))]
    Io {
        /// The file or directory involved.
        file: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A zip archive could not be opened or does not hold exactly one CSV member.
    #[error("{file}: zip: {}", one_line(msg))]
    Zip {
        /// The archive.
        file: String,
        /// What is wrong with it.
        msg: String,
    },
    /// An HTTP request failed (unreachable host, 404, truncated body, ...).
    #[error("{url}: {}", one_line(msg))]
    Http {
        /// The requested URL.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// A downloaded archive does not match the sha256 in its `.CHECKSUM` file.
    #[error("{file}: sha256 mismatch: expected {expected}, got {actual} (the download is corrupt or the CHECKSUM is stale; retry)")]
    Checksum {
        /// The archive whose digest does not match.
        file: String,
        /// The digest given by the `.CHECKSUM` file.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// An argument or an in-memory series is not acceptable (no file involved).
    #[error("{context}: field `{field}`: {msg}")]
    Invalid {
        /// The operation that refused (for example `resample`).
        context: String,
        /// The argument or column at fault.
        field: String,
        /// What is wrong, with a hint.
        msg: String,
    },
}

impl DataError {
    /// Builds a `Parse` error from its four parts.
    pub fn parse(
        file: impl Into<String>,
        line: usize,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) -> Self {
        DataError::Parse {
            file: file.into(),
            line,
            field: field.into(),
            msg: one_line(&msg.into()),
        }
    }

    /// Builds a `File` error: `file` as a whole is refused for `msg`.
    pub fn file(file: impl Into<String>, msg: impl Into<String>) -> Self {
        DataError::File {
            file: file.into(),
            msg: one_line(&msg.into()),
        }
    }

    /// Builds an `Invalid` error from its three parts.
    pub fn invalid(
        context: impl Into<String>,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) -> Self {
        DataError::Invalid {
            context: context.into(),
            field: field.into(),
            msg: one_line(&msg.into()),
        }
    }

    /// Builds an `Io` error naming `file`.
    pub fn io(file: impl Into<String>, source: std::io::Error) -> Self {
        DataError::Io {
            file: file.into(),
            source,
        }
    }
}

/// `FILE:LINE: field `NAME`: what`, or `FILE: field `NAME`: what` when no line is known.
fn at_line(file: &str, line: usize, field: &str, msg: &str) -> String {
    if line == 0 {
        format!("{file}: field `{field}`: {msg}")
    } else {
        format!("{file}:{line}: field `{field}`: {msg}")
    }
}

/// Collapses line breaks so that every message stays on one line.
fn one_line(x: &dyn fmt::Display) -> String {
    let s = x.to_string();
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s
    }
}
