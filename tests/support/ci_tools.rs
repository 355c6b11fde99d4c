//! Where the `.ci/install-*.sh` fragments put what they install outside the
//! system (`$VIGIE_CI_DIR`, else /opt/vigie-ci as root, ~/.cache/vigie-ci
//! otherwise): Python packages (`pip install --target`) and npm packages.

use std::path::PathBuf;

/// `sub` in every candidate folder that exists, in order of preference.
pub fn dirs(sub: &str) -> Vec<PathBuf> {
    std::env::var_os("VIGIE_CI_DIR")
        .map(|d| PathBuf::from(d).join(sub))
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vigie-ci").join(sub)))
        .chain([PathBuf::from("/opt/vigie-ci").join(sub)])
        .filter(|d| d.is_dir())
        .collect()
}

/// PYTHONPATH with the fragments' Python packages first.
pub fn python_path() -> std::ffi::OsString {
    let all: Vec<PathBuf> = dirs("python")
        .into_iter()
        .chain(
            std::env::var_os("PYTHONPATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .collect();
    std::env::join_paths(all).unwrap_or_default()
}

/// A file of an npm package installed by a fragment (`node_modules/REL`),
/// or a panic naming the fragment to run.
pub fn npm_file(rel: &str, fragment: &str) -> PathBuf {
    dirs("npm")
        .into_iter()
        .map(|d| d.join("node_modules").join(rel))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("node_modules/{rel} is missing: run {fragment} (npm install into /opt/vigie-ci/npm as root, ~/.cache/vigie-ci/npm otherwise, or $VIGIE_CI_DIR/npm)"))
}
