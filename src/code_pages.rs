//! vigie's own code, given back once start-up is over. Loading a thousand
//! probe files, migrating the store and the first publication run code that
//! the daemon seldom needs again (the YAML and template parsers, the
//! migrations, the page renderers): its pages stay mapped, and counted in
//! RSS, until the kernel needs the memory. `MADV_PAGEOUT` reclaims them at
//! once; the pages the probes use come back on first use, read from the
//! executable. Measured at 1,000 probes: 13.4–14.2 MiB of code resident
//! before, 7.7 MiB a minute after (BENCHMARKS.md, issue 14).
//!
//! Only clean pages read from the executable are concerned: its code and the
//! read-only data before it. The relocated data after the code (private
//! copies, written at load) is left alone, so nothing goes to swap.

/// One mapping of the executable, from `/proc/self/maps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub start: usize,
    pub end: usize,
}

/// The mappings of the file with inode `inode` worth giving back: its code
/// (`r-xp`) and the read-only mappings that come before the code in the
/// file. `maps` is the text of `/proc/self/maps`.
pub fn read_only_mappings(maps: &str, inode: u64) -> Vec<Mapping> {
    let lines: Vec<(Mapping, &str, u64)> = maps
        .lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (range, perms, offset, _dev, ino) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            f.next()?; // a path: anonymous mappings have none
            if ino.parse::<u64>().ok()? != inode {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let m = Mapping {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
            };
            Some((m, perms, u64::from_str_radix(offset, 16).ok()?))
        })
        .collect();
    let Some(code_offset) = lines.iter().filter(|l| l.1 == "r-xp").map(|l| l.2).min() else {
        return Vec::new();
    };
    lines
        .into_iter()
        .filter(|(_, perms, offset)| *perms == "r-xp" || (*perms == "r--p" && *offset < code_offset))
        .map(|(m, _, _)| m)
        .collect()
}

/// Ask the kernel to reclaim the executable's clean code and read-only
/// pages now. Returns how many bytes were advised (0 where this is not
/// Linux). Kernels before 5.4 do not know `MADV_PAGEOUT`: an error, which
/// costs nothing but the memory this would have given back.
pub fn give_back() -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        let inode = executable_inode()?;
        let maps = std::fs::read_to_string("/proc/self/maps")?;
        let mut advised = 0;
        for m in read_only_mappings(&maps, inode) {
            // SAFETY: the range is a whole mapping of this process's own
            // executable, read-only and backed by the file: MADV_PAGEOUT
            // only drops pages the kernel can read again from the file, and
            // changes no content the program sees.
            let rc = unsafe { libc::madvise(m.start as *mut libc::c_void, m.end - m.start, libc::MADV_PAGEOUT) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            advised += m.end - m.start;
        }
        Ok(advised)
    }
    #[cfg(not(target_os = "linux"))]
    Ok(0)
}

/// The inode of the running executable (the file its code is mapped from,
/// even if it was replaced on disk since).
#[cfg(target_os = "linux")]
fn executable_inode() -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self/exe")?.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0a0000000-55d0a0550000 r--p 00000000 fe:00 5431373                    /usr/bin/vigie
55d0a0550000-55d0a17d0000 r-xp 0054e000 fe:00 5431373                    /usr/bin/vigie
55d0a17d0000-55d0a19b9000 r--p 017cd000 fe:00 5431373                    /usr/bin/vigie
55d0a19b9000-55d0a19c0000 rw-p 019b6000 fe:00 5431373                    /usr/bin/vigie
55d0a19c0000-55d0a19c5000 rw-p 00000000 00:00 0
55d0a2000000-55d0a3200000 rw-p 00000000 00:00 0                          [heap]
7f00e1065000-7f00e108b000 r--p 00000000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f00e108b000-7f00e11e1000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
";

    #[test]
    fn only_the_executables_code_and_the_read_only_data_before_it() {
        assert_eq!(
            read_only_mappings(MAPS, 5431373),
            vec![
                Mapping {
                    start: 0x55d0a0000000,
                    end: 0x55d0a0550000
                },
                Mapping {
                    start: 0x55d0a0550000,
                    end: 0x55d0a17d0000
                },
            ],
            "the relocated data after the code, the writable data and other files stay"
        );
        assert_eq!(read_only_mappings(MAPS, 1), vec![], "not mapped");
        assert_eq!(read_only_mappings("garbage\n\n1-2 r-xp zz fe:00 9 /x\n", 9), vec![]);
    }

    /// The real thing, on this test program's own code: once given back,
    /// fewer of its pages are resident.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_code_pages_leave_memory() {
        fn resident_code_kib() -> u64 {
            let inode = executable_inode().expect("exe");
            let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
            let (mut ours, mut kib) = (false, 0);
            for line in smaps.lines() {
                let f: Vec<&str> = line.split_ascii_whitespace().collect();
                if f.first().is_some_and(|r| r.contains('-') && !r.ends_with(':')) && f.len() >= 5 {
                    ours = f[1] == "r-xp" && f[4].parse::<u64>().ok() == Some(inode);
                } else if ours && f.first() == Some(&"Rss:") {
                    kib += f[1].parse::<u64>().unwrap_or(0);
                }
            }
            kib
        }
        let before = resident_code_kib();
        let advised = give_back().expect("madvise");
        let after = resident_code_kib();
        assert!(advised > 0);
        assert!(before > 1024, "{before} KiB of code resident before");
        assert!(after < before / 2, "{before} KiB resident before, {after} KiB after");
    }
}
