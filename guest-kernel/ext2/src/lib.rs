//! An ext2 reader over an abstract [`BlockDevice`], which can also
//! overwrite a regular file's existing blocks in place on a
//! [`BlockDeviceMut`] (it never allocates: no new blocks, no size change).
//!
//! Layout (Linux's `Documentation/filesystems/ext2.rst`, "The Second
//! Extended Filesystem" by Poirier):
//!
//! - the **superblock** at byte 1024 says the block size (`1024 <<
//!   s_log_block_size`), the number of blocks and inodes, and how they are
//!   split into **block groups**;
//! - the **group descriptor table** in the block after the superblock gives
//!   each group's inode table;
//! - an **inode** (number 1..=s_inodes_count, 2 is the root directory) has a
//!   mode, a size and 15 block pointers: 12 direct, one single-, one double-
//!   and one triple-indirect (a pointer of 0 is a hole);
//! - a **directory** is a file of linked entries (inode, rec_len, name_len,
//!   file_type, name) that never cross a block boundary.
//!
//! The image is untrusted: every field used is range-checked, and a
//! corrupted image yields an [`Error`], never a panic, an out-of-bounds
//! index or an allocation sized by an unchecked on-disk value.
//!
//! A mount keeps the inode it read last and the block map of that file as
//! its indirect blocks are read (neither can change: nothing here
//! allocates), so reading a block of a file already mapped reads that
//! block only: one page-cache lookup, as with Linux's per-file page cache.
//!
//! Supported: revisions 0 and 1, block sizes 1 KiB..64 KiB, the `filetype`
//! incompat feature, `large_file` sizes, fast symlinks (`read_link`).
//! Rejected with [`Error::UnsupportedFeature`]: other incompat features
//! (compression, journal recovery, meta_bg, extents, 64bit, flex_bg...).
//! Symlinks are not followed during path lookup. `dir_index` directories are
//! read linearly (their htree blocks look like empty entries, by design).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod fs;

pub use fs::{DirEntry, Ext2, FileType, Inode, Metadata, ROOT_INODE, Superblock};

/// A device of fixed-size blocks, read one block at a time.
pub trait BlockDevice {
    type Error: core::fmt::Debug;
    /// Bytes per device block (e.g. 512 for a disk, or the fs block size).
    fn block_size(&self) -> usize;
    /// Number of blocks on the device.
    fn block_count(&self) -> u64;
    /// Reads block `block_no` into `buf` (`buf.len() == block_size()`).
    fn read_block(
        &mut self,
        block_no: u64,
        buf: &mut [u8],
    ) -> core::result::Result<(), Self::Error>;
}

/// A [`BlockDevice`] that can also be written, one block at a time.
pub trait BlockDeviceMut: BlockDevice {
    /// Writes `buf` (`buf.len() == block_size()`) to block `block_no`.
    fn write_block(&mut self, block_no: u64, buf: &[u8]) -> core::result::Result<(), Self::Error>;
}

/// Why an operation failed. `E` is the device's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The device reported an error.
    Device(E),
    /// The device's block size is 0 or the image is smaller than it claims.
    BadDevice(&'static str),
    /// Superblock magic is not 0xEF53.
    BadMagic(u16),
    UnsupportedRevision(u32),
    /// `s_log_block_size` gives a block size outside 1 KiB..=64 KiB.
    BadBlockSize(u32),
    BadInodeSize(u16),
    /// Another superblock field is out of range; names the field.
    BadSuperblock(&'static str),
    /// An incompat feature bit this reader does not implement.
    UnsupportedFeature(u32),
    /// A group descriptor points outside the file system.
    BadGroupDescriptor {
        group: u32,
        why: &'static str,
    },
    /// Inode number 0 or above `s_inodes_count`.
    InodeOutOfRange(u32),
    /// An inode's fields are inconsistent.
    BadInode {
        inode: u32,
        why: &'static str,
    },
    /// A block pointer lies outside the file system.
    BlockOutOfRange {
        inode: u32,
        block: u64,
    },
    /// A directory entry is malformed.
    BadDirEntry {
        inode: u32,
        offset: u64,
        why: &'static str,
    },
    /// The file offset needs a logical block beyond triple-indirect reach.
    FileTooLarge {
        inode: u32,
    },
    NotFound,
    NotADirectory,
    /// The path is not absolute.
    InvalidPath,
    /// The operation needs a different file type (e.g. `read_link`).
    WrongFileType,
    /// A write reaches past the end of the file or into a hole: it would
    /// need block allocation, which this implementation does not do.
    WouldAllocate {
        inode: u32,
    },
}

pub type Result<T, E> = core::result::Result<T, Error<E>>;

#[cfg(test)]
mod tests;
