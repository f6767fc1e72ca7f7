//! Output paths: the one guard every command runs on each output before any work starts, and
//! the symlink resolution [`super::write_atomic`] writes through.
//!
//! Guarantees of [`check_output_file`] / [`check_output_dir`]:
//! - an output never resolves to an input (same path after following symbolic links, or the
//!   same file through a hard link): refused, naming both options;
//! - a symbolic link is written through (its target is replaced, the link stays); a dangling
//!   link is written through when the target's directory exists;
//! - a destination that is not a regular file (a directory for a file output, a device, a
//!   pipe, a socket such as `/dev/stdout`) is refused: outputs are written atomically
//!   (temporary file + rename), which needs a regular file;
//! - the destination directory exists and accepts a new file (checked by creating and removing
//!   a probe file), so a fit does not run for minutes before failing to write.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Most symbolic links followed before giving up (as Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// The path a write to `path` lands on: symbolic links followed (also dangling ones), the rest
/// of the path unchanged. The result need not exist.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p).map_err(|e| Error::Io {
                    path: p.clone(),
                    source: e,
                })?;
                p = if target.is_absolute() {
                    target
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::param(
        "output",
        format!(
            "{}: more than {MAX_LINKS} levels of symbolic links",
            path.display()
        ),
    ))
}

/// Whether writes to `a` and `b` land on the same file: the same resolved path (links
/// followed, parent directories canonicalized) or, when both exist, the same file.
pub fn same_destination(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| -> Option<PathBuf> {
        let r = resolve(p).ok()?;
        let dir = std::fs::canonicalize(parent_of(&r)).ok()?;
        Some(dir.join(r.file_name()?))
    };
    same_file(a, b) || matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// An input of the command: the option that names it and its path.
pub type Input<'a> = (&'a str, &'a Path);

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                ma.dev() == mb.dev() && ma.ino() == mb.ino()
            }
            #[cfg(not(unix))]
            {
                let _ = (ma, mb);
                std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
            }
        }
        _ => false,
    }
}

fn refuse_input(option: &str, out: &Path, dest: &Path, inputs: &[Input]) -> Result<()> {
    for (role, input) in inputs {
        if same_file(dest, input) {
            return Err(Error::param(
                option,
                format!(
                    "{} is the same file as {role} {}; writing it would destroy that input: choose another output path",
                    out.display(),
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Creates and removes a probe file in `dir`, so that a missing permission or a read-only
/// file system is reported before the work starts.
fn probe_dir(option: &str, out: &Path, dir: &Path) -> Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let probe = dir.join(format!(
        ".ttfit-write-probe.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::param(
            option,
            format!(
                "cannot write {}: directory {} does not accept new files ({e})",
                out.display(),
                dir.display()
            ),
        )),
    }
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_kind(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a pipe";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Checks the output file `out` of option `option` against the guarantees of the module and
/// returns the path the write lands on (links followed).
pub fn check_output_file(option: &str, out: &Path, inputs: &[Input]) -> Result<PathBuf> {
    let text = out.as_os_str().to_string_lossy();
    if text.is_empty() || text.ends_with('/') || out.file_name().is_none() {
        return Err(Error::param(
            option,
            format!("\"{}\" is not a file path; name a file", out.display()),
        ));
    }
    // metadata follows links (also the kernel's magic ones, such as /dev/stdout)
    if let Ok(m) = std::fs::metadata(out) {
        if !m.is_file() {
            return Err(Error::param(
                option,
                format!(
                    "{} is {}; outputs are written atomically (a temporary file renamed over the destination), which needs a regular file path",
                    out.display(),
                    file_kind(&m)
                ),
            ));
        }
    }
    let dest = resolve(out)?;
    let dir = parent_of(&dest);
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::param(
                option,
                format!(
                    "cannot write {}: {} is not a directory",
                    out.display(),
                    dir.display()
                ),
            ))
        }
        Err(_) => {
            return Err(Error::param(
                option,
                format!(
                    "cannot write {}: directory {} does not exist; create it first",
                    out.display(),
                    dir.display()
                ),
            ))
        }
    }
    refuse_input(option, out, &dest, inputs)?;
    probe_dir(option, out, &dir)?;
    Ok(dest)
}

/// Checks the output directory `out` of option `option`, into which the command writes the
/// files `files` (names relative to `out`): none of them may be an input; `out` must be a
/// directory or not exist (then its nearest existing ancestor must accept new entries).
/// Returns the directory the writes land in (links followed).
pub fn check_output_dir(
    option: &str,
    out: &Path,
    files: &[&str],
    inputs: &[Input],
) -> Result<PathBuf> {
    if out.as_os_str().is_empty() {
        return Err(Error::param(option, "the output directory path is empty"));
    }
    let dest = resolve(out)?;
    match std::fs::metadata(&dest) {
        Ok(m) if m.is_dir() => {
            for f in files {
                let p = dest.join(f);
                if let Ok(m) = std::fs::metadata(&p) {
                    if !m.is_file() {
                        return Err(Error::param(
                            option,
                            format!("{} is {}; it cannot be replaced by the output file {f}", p.display(), file_kind(&m)),
                        ));
                    }
                }
                refuse_input(option, &p, &p, inputs)?;
            }
            probe_dir(option, out, &dest)?;
        }
        Ok(m) => {
            return Err(Error::param(
                option,
                format!(
                    "{} exists and is {}, not a directory; this --out names a directory for the report files: choose a directory path",
                    out.display(),
                    file_kind(&m).trim_start_matches("not ")
                ),
            ))
        }
        Err(_) => {
            // the directory will be created: its nearest existing ancestor must take entries
            let mut a = parent_of(&dest);
            loop {
                match std::fs::metadata(&a) {
                    Ok(m) if m.is_dir() => break,
                    Ok(_) => {
                        return Err(Error::param(
                            option,
                            format!(
                                "cannot create directory {}: {} is not a directory",
                                out.display(),
                                a.display()
                            ),
                        ))
                    }
                    Err(_) => match a.parent() {
                        Some(p) if !p.as_os_str().is_empty() => a = p.to_path_buf(),
                        _ => {
                            a = PathBuf::from(".");
                            break;
                        }
                    },
                }
            }
            probe_dir(option, out, &a)?;
        }
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ttfit-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn output_equal_to_an_input_is_refused_also_through_links() {
        let d = scratch("same");
        let data = d.join("data.csv");
        std::fs::write(&data, "x,y\n1,2\n").unwrap();
        let e = check_output_file("--out", &data, &[("--data", &data)]).unwrap_err();
        assert!(e.to_string().contains("same file as --data"), "{e}");
        #[cfg(unix)]
        {
            let link = d.join("link.csv");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            assert!(check_output_file("--out", &link, &[("--data", &data)]).is_err());
            let hard = d.join("hard.csv");
            std::fs::hard_link(&data, &hard).unwrap();
            assert!(check_output_file("--out", &hard, &[("--data", &data)]).is_err());
        }
        // nothing was created by the checks
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert!(names.iter().all(|n| !n.to_string_lossy().contains("probe")));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_written_through() {
        let d = scratch("through");
        let target = d.join("real.csv");
        let link = d.join("link.csv");
        std::os::unix::fs::symlink("real.csv", &link).unwrap();
        assert_eq!(check_output_file("--out", &link, &[]).unwrap(), target);
        crate::data::write_atomic(&link, |w| {
            use std::io::Write;
            w.write_all(b"a\n").map_err(|e| Error::Io {
                path: link.clone(),
                source: e,
            })
        })
        .unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "a\n");
    }

    #[test]
    fn directories_and_missing_parents_are_refused() {
        let d = scratch("dirs");
        assert!(check_output_file("--out", &d, &[]).is_err());
        assert!(check_output_file("--out", &d.join("no/such/file.csv"), &[]).is_err());
        let f = d.join("file");
        std::fs::write(&f, "x").unwrap();
        let e = check_output_dir("--out", &f, &[], &[]).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert!(check_output_dir("--out", &d.join("new/deeper"), &[], &[]).is_ok());
        assert!(!d.join("new").exists());
    }
}
