//! Where phiscan keeps its own files: the fingerprint key and the default store.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the data folder.
pub const HOME_VARIABLE: &str = "PHISCAN_HOME";

/// The data folder: `$PHISCAN_HOME`, or `phiscan` under the user's data
/// folder (`~/.local/share/phiscan` on Linux, `%APPDATA%\phiscan` on Windows).
pub fn data_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os(HOME_VARIABLE).filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    match dirs::data_dir() {
        Some(dir) => Ok(dir.join("phiscan")),
        None => bail!(
            "cannot find the user's data folder; set {HOME_VARIABLE} to a folder for phiscan's key and store"
        ),
    }
}

/// The default inventory store path.
pub fn default_store(data: &Path) -> PathBuf {
    data.join("inventory.sqlite")
}

/// The key file path.
pub fn key_path(data: &Path) -> PathBuf {
    data.join("fingerprint.key")
}

/// Loads the installation's fingerprint key, creating it (32 random bytes,
/// mode 0600) on first use.
pub fn load_or_create_key(data: &Path) -> Result<[u8; 32]> {
    create_private_folder(data)?;
    let path = key_path(data);
    match create_private_file(&path) {
        Ok(mut file) => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|err| anyhow::anyhow!("cannot get random bytes for the key: {err}"))?;
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the key file {}", path.display()))?;
            tracing::info!(path = %path.display(), "created fingerprint key");
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path),
        Err(err) => {
            Err(err).with_context(|| format!("cannot create the key file {}", path.display()))
        }
    }
}

fn read_key(path: &Path) -> Result<[u8; 32]> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "the key file {} holds {} bytes, expected 32; restore it from a backup, or delete it to start new fingerprints (earlier scans then no longer match)",
            path.display(),
            bytes.len()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "key file is readable by other users; run chmod 600 on it");
            }
        }
    }
    Ok(key)
}

fn create_private_folder(folder: &Path) -> Result<()> {
    if folder.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(folder)
        .with_context(|| format!("cannot create the data folder {}", folder.display()))
}

/// Creates a new file readable only by its owner; fails if it exists.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The handling of an output file's missing folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingFolder {
    /// Create it, private to the user, so that an unattended sweep writes
    /// its first report.
    Create,
    /// Fail: on the command line a missing folder is more likely a typo.
    Reject,
}

/// Opens an output file for writing, truncating it, readable only by its
/// owner. An existing file readable by others is made owner-only too,
/// because the output lists where PHI is.
pub fn open_private_output(path: &Path, missing: MissingFolder) -> Result<std::fs::File> {
    if let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        && !folder.exists()
    {
        if missing == MissingFolder::Reject {
            anyhow::bail!(
                "the folder {} of the output file {} does not exist; create it first or choose another path",
                folder.display(),
                path.display()
            );
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(folder).with_context(|| {
            format!(
                "cannot create the folder {} for the output file {}",
                folder.display(),
                path.display()
            )
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .with_context(|| format!("cannot create the output file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = file
            .metadata()
            .with_context(|| format!("cannot read the permissions of {}", path.display()))?;
        let mode = metadata.permissions().mode();
        // Only a regular file is restricted: `/dev/stdout` is not ours.
        if metadata.is_file() && mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
                .with_context(|| {
                    format!(
                        "cannot make {} readable by its owner only; run chmod 600 on it",
                        path.display()
                    )
                })?;
        }
    }
    Ok(file)
}
