//! Launching Chromium so that no process of it outlives its run or vigie.
//!
//! Each run gets its own Chromium: a fresh profile directory (a new visitor
//! with no cache and no cookies), its own process group (the whole group is
//! killed when the run ends, whatever happened), a parent-death signal (if
//! vigie is killed, the kernel kills the browser), and the DevTools protocol
//! over a pipe (`--remote-debugging-pipe`: no port another local program
//! could connect to). Profiles left behind by a killed vigie are swept at
//! start (`sweep_stale`); a profile in use holds a lock (`vigie.lock`, an
//! `flock` held by the vigie process that made it), so two vigie processes
//! on one machine never sweep each other's browsers.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::BrowserError;

/// Prefix of every profile directory vigie creates, so stale ones can be found.
pub const PROFILE_PREFIX: &str = "vigie-chromium-";

/// Flags every run uses. Background networking, component updates and sync
/// are off (a monitor must not talk to Google behind the operator's back);
/// `--no-sandbox` because vigie runs as root in containers and as a
/// DynamicUser without user namespaces under systemd.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints,InterestFeedContentSuggestions",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--password-store=basic",
    "--use-mock-keychain",
    "--remote-debugging-pipe",
];

/// A running Chromium. Dropping it kills its whole process group and removes
/// its profile.
pub struct Chromium {
    child: Child,
    pgid: i32,
    profile: PathBuf,
    tmp: PathBuf,
    /// The locks that mark `profile` and `tmp` as in use, released when vigie lets go of them
    /// (or dies).
    _locks: Vec<std::fs::File>,
    /// vigie → Chromium (Chromium's fd 3) and Chromium → vigie (its fd 4).
    to_browser: Option<OwnedFd>,
    from_browser: Option<OwnedFd>,
}

/// Name of the lock file inside a directory in use.
const LOCK_FILE: &str = "vigie.lock";

/// `parent/name`, created with its lock taken before it gets its name: a
/// directory that bears the profile prefix is always either locked by a
/// live vigie or stale.
fn claimed_dir(parent: &Path, name: &str) -> Result<(PathBuf, std::fs::File), BrowserError> {
    let err = |p: &Path, e: std::io::Error| BrowserError::Launch(format!("{}: {e}", p.display()));
    let staging = parent.join(format!(".{name}.staging"));
    std::fs::create_dir_all(&staging).map_err(|e| err(&staging, e))?;
    let lock_path = staging.join(LOCK_FILE);
    let lock = std::fs::File::create(&lock_path).map_err(|e| err(&lock_path, e))?;
    if !try_lock(&lock) {
        return Err(BrowserError::Launch(format!("{}: cannot lock it", lock_path.display())));
    }
    let dir = parent.join(name);
    std::fs::rename(&staging, &dir).map_err(|e| err(&dir, e))?;
    Ok((dir, lock))
}

/// Take `file`'s exclusive lock without waiting.
fn try_lock(file: &std::fs::File) -> bool {
    // SAFETY: flock on a descriptor we own; it does not outlive `file`.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether `dir` is in use: its lock is held by a live vigie process.
fn in_use(dir: &Path) -> bool {
    match std::fs::File::open(dir.join(LOCK_FILE)) {
        Ok(f) => !try_lock(&f),
        Err(_) => false,
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), BrowserError> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints; pipe2 fills it on success.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(BrowserError::Launch(format!("pipe: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Chromium {
    /// Start `executable` with a new profile under `profile_root`.
    pub fn launch(executable: &Path, profile_root: &Path, window: (u32, u32), js_heap_mib: u64) -> Result<Chromium, BrowserError> {
        let unique = format!(
            "{PROFILE_PREFIX}{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let (profile, profile_lock) = claimed_dir(profile_root, &unique)?;
        let mut locks = vec![profile_lock];
        // Chromium puts a Unix socket in TMPDIR: its path must stay under
        // 108 bytes whatever the profile root, so TMPDIR is short, in /tmp
        // (the profile itself when the profile root is that folder).
        let tmp_root = std::env::temp_dir();
        let tmp = if tmp_root == profile_root {
            profile.clone()
        } else {
            let (tmp, tmp_lock) = claimed_dir(&tmp_root, &unique)?;
            locks.push(tmp_lock);
            tmp
        };
        let (browser_reads, we_write) = pipe()?;
        let (we_read, browser_writes) = pipe()?;
        let mut cmd = Command::new(executable);
        cmd.args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={},{}", window.0, window.1))
            .arg(format!("--js-flags=--max-old-space-size={js_heap_mib}"))
            .arg("about:blank")
            .env("TMPDIR", &tmp)
            .env("HOME", &profile)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("VIGIE_BROWSER_DEBUG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .process_group(0);
        let (r, w) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        // SAFETY: only async-signal-safe calls (prctl, getppid, dup2, _exit)
        // between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() == 1 {
                    // vigie died between fork and prctl.
                    libc::_exit(1);
                }
                // Move both ends above 4 first: dup2 onto itself would keep
                // the close-on-exec flag, and one end may already be 3 or 4.
                let (r2, w2) = (libc::fcntl(r, libc::F_DUPFD, 10), libc::fcntl(w, libc::F_DUPFD, 10));
                if r2 < 0 || w2 < 0 || libc::dup2(r2, 3) < 0 || libc::dup2(w2, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(r2);
                libc::close(w2);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BrowserError::NotFound(executable.to_path_buf()),
            _ => BrowserError::Launch(format!("{}: {e}", executable.display())),
        })?;
        drop(browser_reads);
        drop(browser_writes);
        let pgid = child.id() as i32;
        Ok(Chromium {
            child,
            pgid,
            profile,
            tmp,
            _locks: locks,
            to_browser: Some(we_write),
            from_browser: Some(we_read),
        })
    }

    /// The two ends of the DevTools pipe (vigie → browser, browser → vigie),
    /// handed over once.
    pub fn take_pipes(&mut self) -> Option<(OwnedFd, OwnedFd)> {
        Some((self.to_browser.take()?, self.from_browser.take()?))
    }

    /// The directory of this run's profile.
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Process ids in this browser's process group.
    pub fn group_pids(&self) -> Vec<i32> {
        group_members(self.pgid)
    }

    /// Whether the main browser process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kill every process of the group and wait for the main one.
    pub fn kill(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the process group we created.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Helpers reparented to init after the main process died: one more
        // pass over the group, then wait briefly for it to empty.
        for _ in 0..50 {
            let left = group_members(self.pgid);
            if left.is_empty() {
                break;
            }
            // SAFETY: as above.
            unsafe {
                libc::kill(-self.pgid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Chromium {
    /// Kill the group and remove the profile and its TMPDIR (idempotent).
    pub fn cleanup(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Processes whose process group is `pgid`, read from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| proc_pgrp(*pid) == Some(pgid))
        .collect()
}

fn proc_pgrp(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields
    // after the last ')' are: state ppid pgrp …
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" {
        return None;
    }
    fields.next()?;
    fields.next()?.parse().ok()
}

/// Processes whose command line mentions `needle` (a profile path).
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .filter(|pid| proc_pgrp(*pid).is_some())
        .collect()
}

/// Kill what a previous vigie left behind under `profile_root` (it was
/// killed before it could clean up) and remove those profiles. Profiles of
/// this process are kept. Returns how many profiles were swept.
pub fn sweep_stale(profile_root: &Path) -> usize {
    let mut swept = sweep_dir(profile_root);
    let tmp = std::env::temp_dir();
    if tmp != profile_root {
        swept += sweep_dir(&tmp);
    }
    swept
}

fn sweep_dir(profile_root: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(profile_root) else {
        return 0;
    };
    let mine = format!("{PROFILE_PREFIX}{}-", std::process::id());
    let mut swept = 0;
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with(PROFILE_PREFIX) || name.starts_with(&mine) {
            continue;
        }
        let path = entry.path();
        if in_use(&path) {
            // Another vigie process's run (two instances, a demo beside the daemon, tests).
            continue;
        }
        for pid in processes_mentioning(&path.to_string_lossy()) {
            // SAFETY: signalling a process we identified by its command line.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            swept += 1;
        }
    }
    swept
}

/// Proportional memory (PSS, bytes) of every process of a group: what the
/// browser really costs, shared pages counted once.
pub fn group_pss(pgid: i32) -> u64 {
    group_members(pgid).into_iter().map(pss_of).sum()
}

fn pss_of(pid: i32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

impl Chromium {
    pub fn pss(&self) -> u64 {
        group_pss(self.pgid)
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    /// A profile another vigie process holds is left alone; once its lock is let go (the
    /// process died), the next sweep removes it; a bare directory (no lock) is stale.
    #[test]
    fn only_profiles_nobody_holds_are_swept() {
        let root = tempfile::tempdir().expect("tempdir");
        let other = format!("{PROFILE_PREFIX}999999999-abcdef012345");
        let (held, lock) = claimed_dir(root.path(), &other).expect("claim");
        let bare = root.path().join(format!("{PROFILE_PREFIX}1-deadbeef0000"));
        std::fs::create_dir_all(&bare).expect("bare");
        assert_eq!(sweep_dir(root.path()), 1, "only the unlocked one");
        assert!(held.exists() && !bare.exists());
        drop(lock);
        assert_eq!(sweep_dir(root.path()), 1);
        assert!(!held.exists());
    }
}
