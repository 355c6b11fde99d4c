//! A [`Files`] view where some files exist only in memory, on top of the
//! disk (or of nothing): what `vigie init` and `vigie new` load to check
//! their files before writing them.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::files::{normalize, Files};
use crate::config::DiskFiles;

/// Files in memory, shadowing the disk when `disk` is true.
pub struct Overlay {
    mem: BTreeMap<PathBuf, Vec<u8>>,
    disk: bool,
}

impl Overlay {
    /// Only the files given: nothing is read from the disk.
    pub fn memory_only() -> Overlay {
        Overlay {
            mem: BTreeMap::new(),
            disk: false,
        }
    }

    /// The disk, with the files given shadowing it.
    pub fn over_disk() -> Overlay {
        Overlay {
            mem: BTreeMap::new(),
            disk: true,
        }
    }

    pub fn insert(&mut self, path: &Path, bytes: Vec<u8>) {
        self.mem.insert(normalize(path), bytes);
    }
}

impl Files for Overlay {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if let Some(b) = self.mem.get(&normalize(path)) {
            return Ok(b.clone());
        }
        if self.disk {
            return DiskFiles.read(path);
        }
        Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let dir = normalize(dir);
        let mut out: Vec<PathBuf> = self.mem.keys().filter(|p| p.parent() == Some(dir.as_path())).cloned().collect();
        let mut found_dir = !out.is_empty();
        if self.disk {
            match DiskFiles.list(&dir) {
                Ok(on_disk) => {
                    found_dir = true;
                    out.extend(on_disk.into_iter().map(|p| normalize(&p)));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if !found_dir {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such folder"));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_files_shadow_and_join_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), b"disk").unwrap();
        std::fs::write(dir.path().join("b.yaml"), b"disk").unwrap();
        let mut o = Overlay::over_disk();
        o.insert(&dir.path().join("b.yaml"), b"memory".to_vec());
        o.insert(&dir.path().join("c.yaml"), b"memory".to_vec());
        assert_eq!(o.read(&dir.path().join("a.yaml")).unwrap(), b"disk");
        assert_eq!(o.read(&dir.path().join("b.yaml")).unwrap(), b"memory");
        let names: Vec<String> = o
            .glob(&dir.path().join("*.yaml"))
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.yaml", "b.yaml", "c.yaml"]);
        let mem = Overlay::memory_only();
        assert!(mem.read(&dir.path().join("a.yaml")).is_err());
    }
}
