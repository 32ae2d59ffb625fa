//! Files ackctl writes for the user.

use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;

/// Writes `text` to `path` readable by the owner only (mode 0600): kubeconfigs and tokens are
/// credentials.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}
