//! Sending this process's standard input, output and error over a Unix socket (SCM_RIGHTS,
//! unix(7)). The standard library cannot yet (its `SocketAncillary` is unstable), so this is the
//! one place with `unsafe`: a `sendmsg(2)` call on structures laid out as x86_64 Linux's.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const MSG_NOSIGNAL: i32 = 0x4000;

/// `struct iovec`.
#[repr(C)]
struct IoVec {
    base: *const u8,
    len: usize,
}

/// `struct msghdr`.
#[repr(C)]
struct MsgHdr {
    name: *mut u8,
    namelen: u32,
    iov: *const IoVec,
    iovlen: usize,
    control: *const u8,
    controllen: usize,
    flags: i32,
}

/// `struct cmsghdr` followed by three descriptors, padded to `CMSG_SPACE(12)`.
#[repr(C, align(8))]
struct StdioRights {
    len: usize,
    level: i32,
    kind: i32,
    fds: [i32; 3],
    _pad: u32,
}

unsafe extern "C" {
    fn sendmsg(fd: i32, msg: *const MsgHdr, flags: i32) -> isize;
    #[cfg(test)]
    fn recvmsg(fd: i32, msg: *mut MsgHdr, flags: i32) -> isize;
}

/// Sends `bytes` (as many as one call takes; returns how many) with descriptors 0, 1 and 2.
pub fn send_with_stdio(socket: &UnixStream, bytes: &[u8]) -> io::Result<usize> {
    let iov = IoVec { base: bytes.as_ptr(), len: bytes.len() };
    // CMSG_LEN(3 * sizeof(int)): the header's 16 bytes and the descriptors, not the padding.
    let rights = StdioRights { len: 16 + 12, level: SOL_SOCKET, kind: SCM_RIGHTS, fds: [0, 1, 2], _pad: 0 };
    let msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &iov,
        iovlen: 1,
        control: (&rights as *const StdioRights).cast(),
        controllen: size_of::<StdioRights>(),
        flags: 0,
    };
    // SAFETY: `msg` points at `iov` and `rights`, which outlive the call; `iov` covers exactly
    // `bytes`, which the kernel only reads; the control length is the size of `rights`.
    let n = unsafe { sendmsg(socket.as_raw_fd(), &msg, MSG_NOSIGNAL) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// The test's other end: one recvmsg, its bytes and the descriptors that came with them.
#[cfg(test)]
pub fn receive_fds(socket: &UnixStream) -> io::Result<(Vec<u8>, Vec<i32>)> {
    let mut buf = [0u8; 256];
    let iov = IoVec { base: buf.as_mut_ptr(), len: buf.len() };
    let mut rights = StdioRights { len: 0, level: 0, kind: 0, fds: [-1; 3], _pad: 0 };
    let mut msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &iov,
        iovlen: 1,
        control: (&mut rights as *mut StdioRights).cast(),
        controllen: size_of::<StdioRights>(),
        flags: 0,
    };
    // SAFETY: as in send_with_stdio; the kernel writes at most `iov.len` bytes into `buf` and
    // at most `controllen` bytes into `rights`, both live and exclusively borrowed here.
    let n = unsafe { recvmsg(socket.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let count = (rights.len.saturating_sub(16)) / 4;
    Ok((buf[..n as usize].to_vec(), rights.fds[..count.min(3)].to_vec()))
}
