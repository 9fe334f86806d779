//! What a run actually ran, for its report and its replay line: the ocosim version, the profile
//! and every effective switch (overridden ones marked), the SHA-256 of every data file read, and
//! the `sim run` command line that reproduces the verdict (issue 16).

use crate::report::{DataFile, Provenance, SwitchValue};
use crate::scenario::{Scenario, ScenarioFile};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The hashes of a scenario's data files being computed on a thread of their own (started by
/// [`hash_data_files`]), so that they overlap the run; [`provenance`] takes them.
pub struct DataHashes {
    handle: Option<std::thread::JoinHandle<Vec<DataFile>>>,
    path: PathBuf,
    text: String,
}

impl DataHashes {
    /// The data files with their hashes: the thread's, or computed here if it could not run.
    fn join(self) -> Vec<DataFile> {
        match self.handle.map(|h| h.join()) {
            Some(Ok(v)) => v,
            _ => data_files(&self.path, &self.text),
        }
    }
}

/// Starts hashing the data files of scenario `path` (its text `text`) on a thread of its own.
pub fn hash_data_files(path: &Path, text: &str) -> DataHashes {
    let (p, t) = (path.to_path_buf(), text.to_string());
    let handle = std::thread::Builder::new()
        .name("ocosim-hash".into())
        .spawn(move || data_files(&p, &t))
        .ok();
    DataHashes {
        handle,
        path: path.to_path_buf(),
        text: text.to_string(),
    }
}

/// The provenance of running scenario `path` (loaded as `sc`) with the command-line overrides
/// `profile` and `sets` (as typed); `data` the hashes of its data files ([`hash_data_files`]).
pub fn provenance(
    path: &Path,
    sc: &Scenario,
    profile: Option<&str>,
    sets: &[String],
    data: DataHashes,
) -> Provenance {
    let base = crate::engine::Switches::profile(&sc.profile)
        .map(|s| s.values())
        .unwrap_or_default();
    let switches = sc
        .switches
        .values()
        .into_iter()
        .map(|(name, value)| {
            let overridden = base
                .iter()
                .find(|(k, _)| *k == name)
                .is_none_or(|(_, v)| *v != value);
            SwitchValue {
                name,
                value,
                overridden,
            }
        })
        .collect();
    Provenance {
        version: env!("CARGO_PKG_VERSION").to_string(),
        profile: sc.profile.clone(),
        switches,
        data: data.join(),
        replay: replay_command(path, sc.seed, profile, sets),
    }
}

/// `sim run PATH --seed S [--profile P] [--set K=V]…`: the overrides of this run included.
pub fn replay_command(path: &Path, seed: u64, profile: Option<&str>, sets: &[String]) -> String {
    let mut s = format!(
        "sim run {} --seed {seed}",
        quote(&path.display().to_string())
    );
    if let Some(p) = profile {
        s.push_str(&format!(" --profile {}", quote(p)));
    }
    for kv in sets {
        s.push_str(&format!(" --set {}", quote(kv.trim())));
    }
    s
}

/// Single-quotes a shell word when it holds anything but plain characters.
fn quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Every data file the scenario reads (klines, refine, funding, mark; folders expanded), with the
/// SHA-256 of its bytes; a file that cannot be read is listed with an empty hash.
fn data_files(path: &Path, text: &str) -> Vec<DataFile> {
    let Ok(raw) = toml::from_str::<ScenarioFile>(text) else {
        return Vec::new();
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            dir.join(p)
        }
    };
    let mut out = Vec::new();
    for group in [
        &raw.data.klines,
        &raw.data.refine,
        &raw.data.funding,
        &raw.data.mark,
    ] {
        if group.is_empty() {
            continue;
        }
        let paths: Vec<PathBuf> = group.iter().map(resolve).collect();
        let files = crate::data::expand_paths(&paths).unwrap_or(paths);
        for f in files {
            out.push(DataFile {
                path: f.display().to_string(),
                sha256: sha256_file(&f).unwrap_or_default(),
            });
        }
    }
    out
}

fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
