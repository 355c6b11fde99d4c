//! Diagnostics: errors in user-written files, each with file, line and column.
//!
//! Configuration loading never stops at the first problem: every stage pushes
//! what it finds into a [`Diagnostics`] list so that `vigie check` can show the
//! operator everything to fix in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a user-written file (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    pub fn new(line: u64, column: u64) -> Pos {
        Pos { line, column }
    }

    pub fn from_location(loc: &serde_saphyr::Location) -> Pos {
        Pos {
            line: loc.line(),
            column: loc.column(),
        }
    }

    /// The position `offset` characters further on the same line: used to point
    /// inside a scalar (e.g. at a `{{` in a template) rather than at its start.
    pub fn shifted(self, offset: usize) -> Pos {
        if self.line == 0 {
            return self;
        }
        Pos {
            line: self.line,
            column: self.column + offset as u64,
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.pos.line, self.pos.column, self.message)
        }
    }
}

/// An ordered collection of diagnostics, filled by every loading stage.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    pub fn push(&mut self, file: &Path, pos: Pos, message: impl Into<String>) {
        self.items.push(Diagnostic {
            file: file.to_path_buf(),
            pos,
            message: message.into(),
        });
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Sorted by file then position, so the output reads top to bottom.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.items
            .sort_by(|a, b| (&a.file, a.pos.line, a.pos.column).cmp(&(&b.file, b.pos.line, b.pos.column)));
        self.items.dedup();
        self.items
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.clone().sorted() {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The error returned when a configuration cannot be loaded: all its problems.
#[derive(Debug, thiserror::Error)]
#[error("{} error(s) in the configuration:\n{}", .0.len(), .0)]
pub struct ConfigErrors(pub Diagnostics);
