//! Files vigie writes, owner-only whatever the umask: folders 0700, files
//! 0600 (the database and its WAL, spool `.eml` files, reports, bundles).
//!
//! Outputs are replaced atomically through a temporary file created
//! exclusively (`O_EXCL`, never following a symlink) in the target's own
//! folder under a fresh random name, then renamed over the target; a target
//! that exists and is not a regular file (a symlink, a fifo, a folder) is
//! refused rather than replaced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Owner read and write only.
pub const FILE_MODE: u32 = 0o600;
/// Owner only.
pub const DIR_MODE: u32 = 0o700;

#[derive(Debug, thiserror::Error)]
pub enum PrivateFsError {
    #[error("cannot create the folder {}: {error}", path.display())]
    Folder { path: PathBuf, error: std::io::Error },
    #[error("{} exists and is not a regular file (a link, a fifo or a folder): refused, nothing written", path.display())]
    NotRegular { path: PathBuf },
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: std::io::Error },
}

/// Create `dir` and its missing parents as 0700 (existing folders are left
/// as they are).
pub fn create_dir(dir: &Path) -> Result<(), PrivateFsError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|error| PrivateFsError::Folder {
            path: dir.to_path_buf(),
            error,
        })
}

/// Create `path` empty as 0600 if it does not exist (SQLite then gives its
/// WAL and shared-memory files the database file's mode).
pub fn precreate(path: &Path) -> Result<(), PrivateFsError> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let r = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(PrivateFsError::Write {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// A file being written next to its target; [`Pending::commit`] renames it
/// over the target, dropping it uncommitted removes it.
pub struct Pending {
    file: File,
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Pending {
    /// Start writing `target`: refused if it exists and is not a regular file.
    pub fn create(target: &Path) -> Result<Pending, PrivateFsError> {
        check_target(target)?;
        let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_dir(dir)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{:016x}.part", rand::random::<u64>()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|error| PrivateFsError::Write { path: tmp.clone(), error })?;
        Ok(Pending {
            file,
            tmp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// A second handle on the temporary file (for a writer that takes its file).
    pub fn file_clone(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// The temporary file's path (for error messages).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Sync and rename over the target (checked again: it may have changed).
    pub fn commit(mut self) -> Result<(), PrivateFsError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |error| PrivateFsError::Write { path, error }
        };
        self.file.sync_all().map_err(err(&self.tmp))?;
        check_target(&self.target)?;
        std::fs::rename(&self.tmp, &self.target).map_err(err(&self.target))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `target` atomically, owner-only.
pub fn write(target: &Path, bytes: &[u8]) -> Result<(), PrivateFsError> {
    let mut p = Pending::create(target)?;
    let tmp = p.tmp.clone();
    p.file()
        .write_all(bytes)
        .map_err(|error| PrivateFsError::Write { path: tmp, error })?;
    p.commit()
}

fn check_target(target: &Path) -> Result<(), PrivateFsError> {
    match std::fs::symlink_metadata(target) {
        Ok(m) if !m.file_type().is_file() => Err(PrivateFsError::NotRegular {
            path: target.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Restrict an existing file to its owner (a database created before).
pub fn restrict(path: &Path) {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_file() && m.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE));
        }
    }
}

/// A secret file must be readable by its owner only, as ssh requires of
/// private keys: `Some(mode)` when group or others can read or write it.
pub fn too_open(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_owner_only_and_never_follow_links() {
        let d = tempfile::tempdir().expect("tempdir");
        // The most permissive umask: the modes must not depend on it.
        let old = unsafe { libc::umask(0) };
        let out = d.path().join("sub/dir/report.html");
        write(&out, b"hello").expect("write");
        unsafe { libc::umask(old) };
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o600);
        assert_eq!(mode(&d.path().join("sub/dir")), 0o700);
        write(&out, b"again").expect("replace a regular file");
        assert_eq!(std::fs::read(&out).expect("read"), b"again");

        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").expect("victim");
        let link = d.path().join("link.zip");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(matches!(write(&link, b"x"), Err(PrivateFsError::NotRegular { .. })));
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep");
        let fifo = d.path().join("fifo.eml");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("cstring");
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(write(&fifo, b"x"), Err(PrivateFsError::NotRegular { .. })));
        let leftovers: Vec<_> = std::fs::read_dir(d.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file left behind");
    }
}
