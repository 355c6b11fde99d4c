//! Writing planned files without ever replacing an operator's edits
//! silently: identical files are left alone, files still as shipped are
//! replaced, anything else is refused unless forced, and then kept beside.

use std::path::{Path, PathBuf};

use super::DeployError;

/// A file to write, and what it may replace without asking.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// The content this file has as shipped (the package's copy): an
    /// existing file with exactly this content holds no edit to keep.
    pub pristine: Option<Vec<u8>>,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Created,
    /// Already had exactly this content.
    Unchanged,
    /// Had the shipped content (no edit lost).
    ReplacedPristine,
    /// Had other content: kept under `backup`, then replaced (forced).
    Replaced {
        backup: PathBuf,
    },
}

/// Files that exist with content of their own (an operator's edits).
pub fn conflicts(plan: &[Planned]) -> Vec<PathBuf> {
    plan.iter()
        .filter(|p| match std::fs::read(&p.path) {
            Ok(existing) => existing != p.bytes && p.pristine.as_ref() != Some(&existing),
            Err(_) => false,
        })
        .map(|p| p.path.clone())
        .collect()
}

/// The name a replaced file is kept under: `<file>.avant-init`, numbered if taken.
pub fn backup_name(path: &Path) -> PathBuf {
    let base = format!("{}.avant-init", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DeployError + '_ {
    move |error| DeployError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Write every planned file. The caller has checked [`conflicts`] (or
/// forces): a file with other content is kept under [`backup_name`] first.
pub fn write_all(plan: &[Planned]) -> Result<Vec<(PathBuf, Action)>, DeployError> {
    let mut done = Vec::new();
    for p in plan {
        let action = match std::fs::read(&p.path) {
            Ok(existing) if existing == p.bytes => Action::Unchanged,
            Ok(existing) if p.pristine.as_ref() == Some(&existing) => Action::ReplacedPristine,
            Ok(_) => {
                let backup = backup_name(&p.path);
                std::fs::copy(&p.path, &backup).map_err(io(&p.path))?;
                Action::Replaced { backup }
            }
            Err(_) => Action::Created,
        };
        if action != Action::Unchanged {
            if let Some(dir) = p.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            write_atomically(&p.path, &p.bytes)?;
        }
        done.push((p.path.clone(), action));
    }
    Ok(done)
}

/// Write beside, then rename: a crash never leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DeployError> {
    let tmp = PathBuf::from(format!("{}.vigie-tmp", path.display()));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_conflicts_and_kept_when_forced() {
        let dir = tempfile::tempdir().unwrap();
        let same = dir.path().join("same.yaml");
        let shipped = dir.path().join("shipped.yaml");
        let edited = dir.path().join("edited.yaml");
        let new = dir.path().join("sub/new.yaml");
        std::fs::write(&same, b"new").unwrap();
        std::fs::write(&shipped, b"as shipped").unwrap();
        std::fs::write(&edited, b"my edits").unwrap();
        let plan: Vec<Planned> = [&same, &shipped, &edited, &new]
            .iter()
            .map(|p| Planned {
                path: p.to_path_buf(),
                bytes: b"new".to_vec(),
                pristine: Some(b"as shipped".to_vec()),
            })
            .collect();
        assert_eq!(conflicts(&plan), vec![edited.clone()]);
        let done = write_all(&plan).unwrap();
        let backup = PathBuf::from(format!("{}.avant-init", edited.display()));
        assert_eq!(
            done.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>(),
            vec![
                Action::Unchanged,
                Action::ReplacedPristine,
                Action::Replaced { backup: backup.clone() },
                Action::Created
            ]
        );
        assert_eq!(std::fs::read(&backup).unwrap(), b"my edits");
        assert_eq!(std::fs::read(&edited).unwrap(), b"new");
        assert_eq!(std::fs::read(&new).unwrap(), b"new");
        assert_eq!(backup_name(&edited), PathBuf::from(format!("{}.avant-init.1", edited.display())));
    }
}
