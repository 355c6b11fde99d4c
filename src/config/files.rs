//! Where configuration files come from: the disk, or files embedded in the
//! binary (so `vigie demo` works from any directory with nothing installed).

use std::io;
use std::path::{Component, Path, PathBuf};

pub trait Files: Send + Sync {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Files directly inside `dir` (not recursive), sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;

    fn read_string(&self, path: &Path) -> io::Result<String> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not valid UTF-8: {e}")))
    }

    /// Files matching a pattern whose last component may hold `*` wildcards.
    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let name = pattern.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.contains('*') {
            return Ok(vec![pattern.to_path_buf()]);
        }
        let dir = pattern.parent().unwrap_or(Path::new("."));
        let mut out: Vec<PathBuf> = self
            .list(dir)?
            .into_iter()
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| wildcard_match(name, n)))
            .collect();
        out.sort();
        Ok(out)
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Files compiled into the binary, addressed by their path in the repository.
#[derive(Clone, Copy)]
pub struct EmbeddedFiles(pub &'static [(&'static str, &'static [u8])]);

/// Resolve `.` and `..` without touching the disk.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // Drop the last named folder; keep a leading `..` (a path
                // above the current folder) as it is.
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

impl Files for EmbeddedFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let want = normalize(path);
        self.0
            .iter()
            .find(|(p, _)| Path::new(p) == want)
            .map(|(_, b)| b.to_vec())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} is not among the embedded files", want.display()),
                )
            })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let want = normalize(dir);
        let mut out: Vec<PathBuf> = self
            .0
            .iter()
            .map(|(p, _)| PathBuf::from(p))
            .filter(|p| p.parent() == Some(want.as_path()))
            .collect();
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.yaml", "a.yaml"));
        assert!(wildcard_match("sim-*.yaml", "sim-home.yaml"));
        assert!(!wildcard_match("sim-*.yaml", "live-home.yaml"));
        assert!(!wildcard_match("*.yaml", "a.yml"));
        assert!(wildcard_match("a*b*c", "a-x-b-y-c"));
    }

    #[test]
    fn embedded_paths_resolve_dot_dot() {
        static F: &[(&str, &[u8])] = &[("config/demo.yaml", b"x"), ("probes/sim/a.yaml", b"a"), ("probes/sim/b.yaml", b"b")];
        let files = EmbeddedFiles(F);
        assert_eq!(files.read(Path::new("config/../probes/sim/a.yaml")).expect("read"), b"a");
        assert_eq!(normalize(Path::new("../a/./b/../c")), PathBuf::from("../a/c"));
        let found = files.glob(Path::new("config/../probes/sim/*.yaml")).expect("glob");
        assert_eq!(found, vec![PathBuf::from("probes/sim/a.yaml"), PathBuf::from("probes/sim/b.yaml")]);
    }
}
