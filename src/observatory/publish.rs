//! Writing the site so that a reader never sees half of it: every file goes
//! into a new generation folder beside the output, then the output (a
//! symbolic link) is switched to it with one `rename`, which is atomic on
//! POSIX file systems. The previous generation is kept (a reader may still
//! be in it); older ones are removed.
//!
//! `site` → `.site.vigie/g-<ms>/` : web servers follow the link (nginx and
//! Apache do by default), and `site/index.html` opens from disk.

use std::path::{Path, PathBuf};

use super::{Error, File};

/// What a publication wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub generation: PathBuf,
    pub files: usize,
    pub bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| Error::Write {
        path: path.to_path_buf(),
        error,
    }
}

/// The folder holding the generations of `output`.
pub fn generations_dir(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "site".into());
    output.with_file_name(format!(".{name}.vigie"))
}

/// Write `files` as the new content of `output`.
pub fn publish(output: &Path, files: &[File], now_ms: i64) -> Result<Published, Error> {
    let mut g = Generation::begin(output, now_ms)?;
    for f in files {
        g.write(f)?;
    }
    g.finish()
}

/// A generation being written, file by file (the daemon renders a file,
/// writes it and drops it: the site is never whole in memory). Nobody sees
/// it before [`Generation::finish`] links it; dropped unfinished (an error),
/// it is removed.
pub struct Generation {
    output: PathBuf,
    gens: PathBuf,
    dir: PathBuf,
    files: usize,
    bytes: u64,
    linked: bool,
}

impl Generation {
    /// Check that `output` is ours (a link we made, or nothing, or an empty
    /// folder) and make a new generation folder beside it.
    pub fn begin(output: &Path, now_ms: i64) -> Result<Generation, Error> {
        let gens = generations_dir(output);
        match std::fs::symlink_metadata(output) {
            Ok(m) if m.file_type().is_symlink() => {}
            Ok(m) if m.is_dir() => {
                // A folder the user made for us: accepted only while empty.
                let empty = std::fs::read_dir(output).map_err(io(output))?.next().is_none();
                if !empty {
                    return Err(Error::NotOurs(output.to_path_buf()));
                }
                std::fs::remove_dir(output).map_err(io(output))?;
            }
            Ok(_) => return Err(Error::NotOurs(output.to_path_buf())),
            Err(_) => {}
        }
        std::fs::create_dir_all(&gens).map_err(io(&gens))?;
        let mut dir = gens.join(format!("g-{now_ms}"));
        let mut n = 0;
        while dir.exists() {
            n += 1;
            dir = gens.join(format!("g-{now_ms}-{n}"));
        }
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        Ok(Generation {
            output: output.to_path_buf(),
            gens,
            dir,
            files: 0,
            bytes: 0,
            linked: false,
        })
    }

    /// Write one file into the generation.
    pub fn write(&mut self, f: &File) -> Result<(), Error> {
        let path = self.dir.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&path, &f.bytes).map_err(io(&path))?;
        self.files += 1;
        self.bytes += f.bytes.len() as u64;
        Ok(())
    }

    /// Link the output to this generation (one `rename`) and remove the
    /// generations older than the previous one.
    pub fn finish(mut self) -> Result<Published, Error> {
        switch(&self.output, &self.gens, &self.dir)?;
        self.linked = true;
        prune(&self.gens, &self.dir);
        Ok(Published {
            generation: self.dir.clone(),
            files: self.files,
            bytes: self.bytes,
        })
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        if !self.linked {
            // Never linked: nobody reads it.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Point `output` at `generation` in one rename.
fn switch(output: &Path, gens: &Path, generation: &Path) -> Result<(), Error> {
    let relative = match (output.parent(), generation.strip_prefix(gens.parent().unwrap_or(Path::new("")))) {
        (Some(_), Ok(rel)) => rel.to_path_buf(),
        _ => generation.to_path_buf(),
    };
    let tmp = output.with_file_name(format!(
        ".{}.next",
        output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&relative, &tmp).map_err(io(&tmp))?;
    std::fs::rename(&tmp, output).map_err(io(output))
}

/// Keep the new generation and the one before it. An older one is first
/// renamed away (one `rename`), then deleted: a reader inside it finds it
/// whole or not at all, never with some files gone.
fn prune(gens: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(gens) else { return };
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p != current)
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    others.sort();
    // The previous generation stays, unless it is a leftover being deleted.
    if others.last().is_some_and(|(_, p)| is_generation(p)) {
        others.pop();
    }
    for (_, p) in others {
        let doomed = if is_generation(&p) {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let to = p.with_file_name(format!("old-{name}"));
            match std::fs::rename(&p, &to) {
                Ok(()) => to,
                Err(_) => continue,
            }
        } else {
            p
        };
        if let Err(e) = std::fs::remove_dir_all(&doomed) {
            tracing::warn!(path = %doomed.display(), error = %e, "cannot remove an old generation of the published site");
        }
    }
}

fn is_generation(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("g-"))
}
