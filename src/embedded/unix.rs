#![allow(unsafe_code)] // pre_exec/prctl and libc user lookups; each block has a SAFETY note.

//! Every `unsafe` system call of the embedded PostgreSQL, each behind a safe function:
//! the effective user, user lookups, signals, and the parent-death signal.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result};

/// Who runs `initdb` and `postgres`: `None` is the current user.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunAs {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// Makes the kernel send SIGINT (fast shutdown) to the server when the thread
/// that forked it exits — which, given the keeper thread, means when our
/// process exits or dies, even by SIGKILL.
pub(super) fn set_parent_death_signal(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: `pre_exec` is unsafe because the closure runs in the forked child
    // of a possibly multi-threaded process, where only async-signal-safe
    // operations are allowed. The closure only makes the `prctl` and `getppid`
    // system calls and builds `io::Error`s from raw errno values; it does not
    // allocate, lock or touch shared state. It runs after the uid/gid switch,
    // so the death signal is not cleared by a later credential change.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGINT as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // If we died between fork and prctl, the signal was never sent.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

pub(super) fn send_signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(super) fn is_root() -> bool {
    geteuid() == 0
}

/// The effective user id of this process.
pub(super) fn geteuid() -> u32 {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// uid and primary gid of `name`, `None` if there is no such user.
pub(super) fn lookup_user(name: &str) -> Result<Option<RunAs>> {
    let cname = CString::new(name)?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut pwd = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated,
    // `pwd` and `result` are writable, `buf` is writable for `buf.len()` bytes.
    // getpwnam_r is the thread-safe variant.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            pwd.as_mut_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc)).context(format!("looking up user {name}"));
    }
    if result.is_null() {
        return Ok(None);
    }
    // SAFETY: getpwnam_r succeeded and returned `result == pwd`, so `pwd` is initialised.
    let pwd = unsafe { pwd.assume_init() };
    Ok(Some(RunAs {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    }))
}
