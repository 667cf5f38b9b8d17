//! Superblock, group descriptors, inodes, block maps, directories.

use crate::{BlockDevice, BlockDeviceMut, Error, Result};
use alloc::vec;
use alloc::vec::Vec;

/// The root directory's inode number.
pub const ROOT_INODE: u32 = 2;

const SUPERBLOCK_OFFSET: u64 = 1024;
const EXT2_MAGIC: u16 = 0xEF53;
const GOOD_OLD_INODE_SIZE: u16 = 128;
const INCOMPAT_FILETYPE: u32 = 0x0002;
const SUPPORTED_INCOMPAT: u32 = INCOMPAT_FILETYPE;
const EXTENTS_FL: u32 = 0x0008_0000;
const N_DIRECT: u64 = 12;
const GROUP_DESC_SIZE: usize = 32;

fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// The validated superblock fields this reader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub inodes_count: u32,
    pub blocks_count: u32,
    pub first_data_block: u32,
    pub block_size: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub rev_level: u32,
    pub inode_size: u16,
    pub first_ino: u32,
    pub feature_incompat: u32,
    pub group_count: u32,
    pub volume_name: [u8; 16],
}

impl Superblock {
    /// Parses and range-checks the 1024-byte superblock; `device_bytes` is
    /// the device's size, which the file system must fit in.
    pub fn parse<E>(b: &[u8], device_bytes: u64) -> Result<Self, E> {
        if b.len() < 1024 {
            return Err(Error::BadDevice("superblock truncated"));
        }
        let magic = le16(b, 56);
        if magic != EXT2_MAGIC {
            return Err(Error::BadMagic(magic));
        }
        let rev_level = le32(b, 76);
        if rev_level > 1 {
            return Err(Error::UnsupportedRevision(rev_level));
        }
        let log = le32(b, 24);
        if log > 6 {
            return Err(Error::BadBlockSize(log));
        }
        let block_size = 1024u32 << log;
        let (inode_size, first_ino, feature_incompat) = if rev_level == 0 {
            (GOOD_OLD_INODE_SIZE, 11, 0)
        } else {
            (le16(b, 88), le32(b, 84), le32(b, 96))
        };
        if inode_size < GOOD_OLD_INODE_SIZE
            || !inode_size.is_power_of_two()
            || u32::from(inode_size) > block_size
        {
            return Err(Error::BadInodeSize(inode_size));
        }
        if feature_incompat & !SUPPORTED_INCOMPAT != 0 {
            return Err(Error::UnsupportedFeature(
                feature_incompat & !SUPPORTED_INCOMPAT,
            ));
        }
        let inodes_count = le32(b, 0);
        let blocks_count = le32(b, 4);
        let first_data_block = le32(b, 20);
        let blocks_per_group = le32(b, 32);
        let inodes_per_group = le32(b, 40);
        let bits_per_block = block_size * 8;
        if first_data_block != u32::from(block_size == 1024) {
            return Err(Error::BadSuperblock("s_first_data_block"));
        }
        if blocks_count <= first_data_block + 1 {
            return Err(Error::BadSuperblock("s_blocks_count"));
        }
        if u64::from(blocks_count) * u64::from(block_size) > device_bytes {
            return Err(Error::BadDevice("file system larger than the device"));
        }
        if blocks_per_group == 0 || blocks_per_group > bits_per_block {
            return Err(Error::BadSuperblock("s_blocks_per_group"));
        }
        if inodes_per_group == 0 || inodes_per_group > bits_per_block {
            return Err(Error::BadSuperblock("s_inodes_per_group"));
        }
        let group_count = (blocks_count - first_data_block).div_ceil(blocks_per_group);
        if inodes_count < first_ino
            || first_ino < 3
            || u64::from(inodes_count) > u64::from(group_count) * u64::from(inodes_per_group)
        {
            return Err(Error::BadSuperblock("s_inodes_count"));
        }
        let mut volume_name = [0; 16];
        if rev_level == 1 {
            volume_name.copy_from_slice(&b[120..136]);
        }
        Ok(Superblock {
            inodes_count,
            blocks_count,
            first_data_block,
            block_size,
            blocks_per_group,
            inodes_per_group,
            rev_level,
            inode_size,
            first_ino,
            feature_incompat,
            group_count,
            volume_name,
        })
    }
}

/// File type, from the inode's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

impl FileType {
    fn from_mode(mode: u16) -> Self {
        match mode & 0xf000 {
            0x8000 => FileType::Regular,
            0x4000 => FileType::Directory,
            0xa000 => FileType::Symlink,
            0x2000 => FileType::CharDevice,
            0x6000 => FileType::BlockDevice,
            0x1000 => FileType::Fifo,
            0xc000 => FileType::Socket,
            _ => FileType::Unknown,
        }
    }
}

/// An inode's fields this reader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inode {
    pub ino: u32,
    pub mode: u16,
    pub size: u64,
    pub links_count: u16,
    /// 512-byte sectors allocated (`i_blocks`).
    pub sectors: u32,
    pub flags: u32,
    pub block: [u32; 15],
    /// The raw `i_block` bytes (a fast symlink's target lives there).
    raw_block: [u8; 60],
}

impl Inode {
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }
}

/// What `metadata` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub ino: u32,
    pub size: u64,
    pub mode: u16,
    pub file_type: FileType,
    pub links_count: u16,
}

impl Metadata {
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Directory
    }
    pub fn is_file(&self) -> bool {
        self.file_type == FileType::Regular
    }
    /// Permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u16 {
        self.mode & 0o7777
    }
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub inode: u32,
    /// The raw name bytes (ext2 names are not necessarily UTF-8).
    pub name: Vec<u8>,
    /// The entry's `file_type` byte (0 when the feature is off).
    pub file_type: u8,
}

/// The indirect blocks last read on each level of one block-map walk, so a
/// sequential read fetches each indirect block once, not once per data block.
struct MapCache {
    bufs: [Vec<u8>; 3],
    tags: [Option<u64>; 3],
}

impl MapCache {
    fn new(block_size: usize) -> Self {
        MapCache {
            bufs: [
                vec![0; block_size],
                vec![0; block_size],
                vec![0; block_size],
            ],
            tags: [None; 3],
        }
    }
}

/// One piece of a byte range cut at block boundaries: bytes `within ..
/// within + len` of block `block` are bytes `at .. at + len` of the range.
struct Piece {
    block: u64,
    within: usize,
    at: usize,
    len: usize,
}

impl Piece {
    fn whole(&self, block_size: u64) -> bool {
        self.len as u64 == block_size
    }
}

/// The pieces of bytes `offset .. offset + len` in blocks of `bs` bytes, in
/// order.
fn pieces(offset: u64, len: usize, bs: u64) -> impl Iterator<Item = Piece> {
    let mut at = 0;
    core::iter::from_fn(move || {
        (at < len).then(|| {
            let pos = offset + at as u64;
            let within = (pos % bs) as usize;
            let piece = Piece { block: pos / bs, within, at, len: (bs as usize - within).min(len - at) };
            at += piece.len;
            piece
        })
    })
}

/// The block map of one file, filled as its indirect blocks are read: the
/// raw pointer of every logical block whose leaf indirect block was read
/// (checked again on use, as a pointer read from the device is), so that
/// a later read of a cached block costs one page-cache lookup, for its
/// data, as a read through Linux's per-file page cache does, instead of
/// one per level of the map. Valid for the whole mount: this file system
/// never allocates, so no file's map changes under it.
struct BlockMap {
    ino: u32,
    /// Indexed by logical block; [`BlockMap::UNKNOWN`] until filled.
    ptrs: Vec<u32>,
}

impl BlockMap {
    /// Never a valid pointer (`check_ptr` refuses anything >= blocks_count).
    const UNKNOWN: u32 = u32::MAX;
    /// Files with more blocks are mapped by walking every time (4 MiB of
    /// pointers at most per mount).
    const MAX_BLOCKS: u64 = 1 << 20;
}

/// What `read_data` keeps from call to call, so that a file read (the hot
/// path) allocates nothing: the block-map walk's buffers (their tags are
/// cleared on every call: each read walks the map afresh) and one
/// file-system block for reads that take part of a block.
struct ReadBufs {
    meta: MapCache,
    block: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct GroupDesc {
    inode_table: u32,
}

/// A mounted ext2 file system (read-only, plus in-place overwrites of
/// regular files on a [`BlockDeviceMut`]).
pub struct Ext2<D: BlockDevice> {
    dev: D,
    sb: Superblock,
    groups: Vec<GroupDesc>,
    /// One device block, reused for partial reads.
    scratch: Vec<u8>,
    read_bufs: Option<ReadBufs>,
    /// The inode read last: inodes never change under this file system
    /// (no allocation, no size or time updates), so a file's reads and
    /// writes read its inode once.
    last_inode: Option<Inode>,
    map: Option<BlockMap>,
}

type R<T, D> = Result<T, <D as BlockDevice>::Error>;

impl<D: BlockDevice> Ext2<D> {
    /// Reads and validates the superblock and group descriptors.
    pub fn mount(dev: D) -> R<Self, D> {
        let dbs = dev.block_size();
        if dbs == 0 || dbs > 1 << 20 {
            return Err(Error::BadDevice("device block size"));
        }
        let device_bytes = dev.block_count().saturating_mul(dbs as u64);
        let mut fs = Ext2 {
            dev,
            sb: Superblock {
                inodes_count: 0,
                blocks_count: 0,
                first_data_block: 0,
                block_size: 1024,
                blocks_per_group: 0,
                inodes_per_group: 0,
                rev_level: 0,
                inode_size: 128,
                first_ino: 11,
                feature_incompat: 0,
                group_count: 0,
                volume_name: [0; 16],
            },
            groups: Vec::new(),
            scratch: vec![0; dbs],
            read_bufs: None,
            last_inode: None,
            map: None,
        };
        let mut raw = [0u8; 1024];
        fs.read_bytes(SUPERBLOCK_OFFSET, &mut raw)?;
        fs.sb = Superblock::parse(&raw, device_bytes)?;
        fs.read_groups()?;
        Ok(fs)
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The device (e.g. for its statistics).
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, mutably (e.g. to write back its cache).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.dev
    }

    fn block_size(&self) -> u64 {
        u64::from(self.sb.block_size)
    }

    fn read_groups(&mut self) -> R<(), D> {
        let bs = self.block_size();
        let table = (u64::from(self.sb.first_data_block) + 1) * bs;
        let table_blocks = (u64::from(self.sb.group_count) * GROUP_DESC_SIZE as u64).div_ceil(bs);
        if u64::from(self.sb.first_data_block) + 1 + table_blocks > u64::from(self.sb.blocks_count)
        {
            return Err(Error::BadSuperblock("group descriptor table past the end"));
        }
        let inode_table_blocks =
            (u64::from(self.sb.inodes_per_group) * u64::from(self.sb.inode_size)).div_ceil(bs);
        let mut groups = Vec::with_capacity(self.sb.group_count as usize);
        let mut d = [0u8; GROUP_DESC_SIZE];
        for g in 0..self.sb.group_count {
            self.read_bytes(table + u64::from(g) * GROUP_DESC_SIZE as u64, &mut d)?;
            let inode_table = le32(&d, 8);
            if u64::from(inode_table) <= u64::from(self.sb.first_data_block)
                || u64::from(inode_table) + inode_table_blocks > u64::from(self.sb.blocks_count)
            {
                return Err(Error::BadGroupDescriptor {
                    group: g,
                    why: "bg_inode_table",
                });
            }
            for (off, why) in [(0, "bg_block_bitmap"), (4, "bg_inode_bitmap")] {
                if le32(&d, off) >= self.sb.blocks_count {
                    return Err(Error::BadGroupDescriptor { group: g, why });
                }
            }
            groups.push(GroupDesc { inode_table });
        }
        self.groups = groups;
        Ok(())
    }

    /// Reads `buf.len()` bytes at byte `offset` of the device.
    fn read_bytes(&mut self, offset: u64, buf: &mut [u8]) -> R<(), D> {
        let dbs = self.scratch.len() as u64;
        for p in pieces(offset, buf.len(), dbs) {
            if p.block >= self.dev.block_count() {
                return Err(Error::BadDevice("read past the end of the device"));
            }
            let out = &mut buf[p.at..p.at + p.len];
            if p.whole(dbs) {
                self.dev.read_block(p.block, out).map_err(Error::Device)?;
            } else {
                self.dev
                    .read_block(p.block, &mut self.scratch)
                    .map_err(Error::Device)?;
                out.copy_from_slice(&self.scratch[p.within..p.within + p.len]);
            }
        }
        Ok(())
    }

    /// Reads file-system block `block` (already range-checked) into `buf`.
    fn read_fs_block(&mut self, block: u64, buf: &mut [u8]) -> R<(), D> {
        let bs = self.block_size();
        self.read_bytes(block * bs, &mut buf[..bs as usize])
    }

    /// Reads inode `ino`.
    pub fn inode(&mut self, ino: u32) -> R<Inode, D> {
        if let Some(inode) = self.last_inode.as_ref().filter(|i| i.ino == ino) {
            return Ok(inode.clone());
        }
        let inode = self.read_inode_struct(ino)?;
        self.last_inode = Some(inode.clone());
        Ok(inode)
    }

    fn read_inode_struct(&mut self, ino: u32) -> R<Inode, D> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(Error::InodeOutOfRange(ino));
        }
        let group = (ino - 1) / self.sb.inodes_per_group;
        let index = (ino - 1) % self.sb.inodes_per_group;
        let Some(gd) = self.groups.get(group as usize) else {
            return Err(Error::InodeOutOfRange(ino));
        };
        let offset = u64::from(gd.inode_table) * self.block_size()
            + u64::from(index) * u64::from(self.sb.inode_size);
        let mut b = [0u8; 128];
        self.read_bytes(offset, &mut b)?;
        let mode = le16(&b, 0);
        let file_type = FileType::from_mode(mode);
        let size_lo = u64::from(le32(&b, 4));
        let size = if file_type == FileType::Regular {
            size_lo | u64::from(le32(&b, 108)) << 32
        } else {
            size_lo
        };
        let flags = le32(&b, 32);
        if flags & EXTENTS_FL != 0 {
            return Err(Error::BadInode {
                inode: ino,
                why: "extents (ext4) not supported",
            });
        }
        let mut block = [0u32; 15];
        for (i, p) in block.iter_mut().enumerate() {
            *p = le32(&b, 40 + 4 * i);
        }
        let mut raw_block = [0u8; 60];
        raw_block.copy_from_slice(&b[40..100]);
        Ok(Inode {
            ino,
            mode,
            size,
            links_count: le16(&b, 26),
            sectors: le32(&b, 28),
            flags,
            block,
            raw_block,
        })
    }

    /// Checks a block pointer read from inode `ino`.
    fn check_ptr(&self, ino: u32, ptr: u32) -> R<u64, D> {
        if ptr >= self.sb.blocks_count || ptr <= self.sb.first_data_block {
            return Err(Error::BlockOutOfRange {
                inode: ino,
                block: u64::from(ptr),
            });
        }
        Ok(u64::from(ptr))
    }

    /// Entry `index` of the indirect block `ptr`, read through level
    /// `level` of the cache.
    fn indirect(
        &mut self,
        ino: u32,
        ptr: u32,
        index: u64,
        level: usize,
        cache: &mut MapCache,
    ) -> R<u32, D> {
        let blk = self.check_ptr(ino, ptr)?;
        if cache.tags[level] != Some(blk) {
            cache.tags[level] = None;
            self.read_fs_block(blk, &mut cache.bufs[level])?;
            cache.tags[level] = Some(blk);
        }
        Ok(le32(&cache.bufs[level], (index * 4) as usize))
    }

    /// Maps logical block `lb` of `inode` to a file-system block; `None` is
    /// a hole. Through the file's [`BlockMap`] once its leaf is known.
    fn map_block(&mut self, inode: &Inode, lb: u64, cache: &mut MapCache) -> R<Option<u64>, D> {
        if let Some(ptr) = (lb >= N_DIRECT).then(|| self.mapped(inode, lb)).flatten() {
            return if ptr == 0 { Ok(None) } else { Ok(Some(self.check_ptr(inode.ino, ptr)?)) };
        }
        self.walk_map(inode, lb, cache)
    }

    /// The pointer of `lb` from the block map, if its leaf was read.
    fn mapped(&mut self, inode: &Inode, lb: u64) -> Option<u32> {
        let blocks = inode.size.div_ceil(self.block_size());
        if blocks > BlockMap::MAX_BLOCKS {
            return None;
        }
        let map = match &mut self.map {
            Some(m) if m.ino == inode.ino => m,
            slot => slot.insert(BlockMap { ino: inode.ino, ptrs: vec![BlockMap::UNKNOWN; blocks as usize] }),
        };
        map.ptrs.get(lb as usize).copied().filter(|&p| p != BlockMap::UNKNOWN)
    }

    /// The walk from the inode down the indirect blocks; records the leaf
    /// it read in the block map.
    fn walk_map(&mut self, inode: &Inode, lb: u64, cache: &mut MapCache) -> R<Option<u64>, D> {
        let ino = inode.ino;
        let p = self.block_size() / 4;
        // Path of indices from the root pointer down, per level.
        let (root, path): (u32, [u64; 3]) = if lb < N_DIRECT {
            (inode.block[lb as usize], [0; 3])
        } else if lb - N_DIRECT < p {
            (inode.block[12], [lb - N_DIRECT, 0, 0])
        } else if lb - N_DIRECT - p < p * p {
            let r = lb - N_DIRECT - p;
            (inode.block[13], [r / p, r % p, 0])
        } else if lb - N_DIRECT - p - p * p < p * p * p {
            let r = lb - N_DIRECT - p - p * p;
            (inode.block[14], [r / (p * p), (r / p) % p, r % p])
        } else {
            return Err(Error::FileTooLarge { inode: ino });
        };
        let levels = if lb < N_DIRECT {
            0
        } else if lb - N_DIRECT < p {
            1
        } else if lb - N_DIRECT - p < p * p {
            2
        } else {
            3
        };
        let mut ptr = root;
        for (level, &index) in path[..levels].iter().enumerate() {
            if ptr == 0 {
                return Ok(None);
            }
            ptr = self.indirect(ino, ptr, index, level, cache)?;
        }
        if levels > 0 {
            // The leaf holds the pointers of p logical blocks from `first`.
            let first = lb - path[levels - 1];
            if let Some(map) = self.map.as_mut().filter(|m| m.ino == ino) {
                let leaf = &cache.bufs[levels - 1];
                for (slot, i) in map.ptrs.iter_mut().skip(first as usize).zip(0..p as usize) {
                    *slot = le32(leaf, i * 4);
                }
            }
        }
        if ptr == 0 {
            return Ok(None);
        }
        Ok(Some(self.check_ptr(ino, ptr)?))
    }

    /// Reads from inode `ino` at byte `offset`; returns the bytes read (0 at
    /// or past the end). Holes read as zeros.
    pub fn read_inode(&mut self, ino: u32, offset: u64, buf: &mut [u8]) -> R<usize, D> {
        let inode = self.inode(ino)?;
        self.read_data(&inode, offset, buf)
    }

    fn read_data(&mut self, inode: &Inode, offset: u64, buf: &mut [u8]) -> R<usize, D> {
        if offset >= inode.size || buf.is_empty() {
            return Ok(0);
        }
        let want = (inode.size - offset).min(buf.len() as u64) as usize;
        let mut bufs = self.take_read_bufs();
        let result = self.read_blocks(inode, offset, &mut buf[..want], &mut bufs);
        self.read_bufs = Some(bufs);
        result.map(|()| want)
    }

    /// The buffers of a block-map walk, with their tags cleared (each call
    /// walks afresh what the block map does not know); put them back in
    /// `read_bufs` after use.
    fn take_read_bufs(&mut self) -> ReadBufs {
        let bs = self.block_size() as usize;
        let mut bufs = self.read_bufs.take().unwrap_or_else(|| ReadBufs { meta: MapCache::new(bs), block: vec![0; bs] });
        bufs.meta.tags = [None; 3];
        bufs
    }

    /// Fills `buf` from the file at `offset` (all inside the file): whole
    /// blocks straight into `buf`, partial ones through `bufs.block`.
    fn read_blocks(&mut self, inode: &Inode, offset: u64, buf: &mut [u8], bufs: &mut ReadBufs) -> R<(), D> {
        let bs = self.block_size();
        for p in pieces(offset, buf.len(), bs) {
            let out = &mut buf[p.at..p.at + p.len];
            match self.map_block(inode, p.block, &mut bufs.meta)? {
                Some(pb) if p.whole(bs) => self.read_fs_block(pb, out)?,
                Some(pb) => {
                    self.read_fs_block(pb, &mut bufs.block)?;
                    out.copy_from_slice(&bufs.block[p.within..p.within + p.len]);
                }
                None => out.fill(0),
            }
        }
        Ok(())
    }

    /// Reads from the file at `path` (see [`Ext2::read_inode`]).
    pub fn read(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> R<usize, D> {
        let ino = self.lookup(path)?;
        self.read_inode(ino, offset, buf)
    }

    /// Metadata of inode `ino`.
    pub fn metadata_inode(&mut self, ino: u32) -> R<Metadata, D> {
        let i = self.inode(ino)?;
        Ok(Metadata {
            ino,
            size: i.size,
            mode: i.mode,
            file_type: i.file_type(),
            links_count: i.links_count,
        })
    }

    /// Metadata of the file at `path`.
    pub fn metadata(&mut self, path: &str) -> R<Metadata, D> {
        let ino = self.lookup(path)?;
        self.metadata_inode(ino)
    }

    /// A symlink's target (fast symlinks in `i_block`, slow ones in data).
    pub fn read_link(&mut self, path: &str) -> R<Vec<u8>, D> {
        let ino = self.lookup(path)?;
        let inode = self.inode(ino)?;
        if inode.file_type() != FileType::Symlink {
            return Err(Error::WrongFileType);
        }
        if inode.size > u64::from(self.sb.block_size) {
            return Err(Error::BadInode {
                inode: ino,
                why: "symlink longer than a block",
            });
        }
        let size = inode.size as usize;
        if inode.sectors == 0 && size <= 60 {
            return Ok(inode.raw_block[..size].to_vec());
        }
        let mut target = vec![0u8; size];
        let n = self.read_data(&inode, 0, &mut target)?;
        target.truncate(n);
        Ok(target)
    }

    /// Calls `f` for each entry of directory `ino`, in on-disk order, until
    /// `f` returns `Some`.
    fn walk_dir<T>(
        &mut self,
        ino: u32,
        mut f: impl FnMut(&[u8], u32, u8) -> Option<T>,
    ) -> R<Option<T>, D> {
        let inode = self.inode(ino)?;
        if !inode.is_dir() {
            return Err(Error::NotADirectory);
        }
        let bs = self.block_size();
        if inode.size % bs != 0 {
            return Err(Error::BadInode {
                inode: ino,
                why: "directory size not a block multiple",
            });
        }
        let filetype = self.sb.feature_incompat & INCOMPAT_FILETYPE != 0;
        let mut block = vec![0u8; bs as usize];
        let mut meta = MapCache::new(bs as usize);
        for lb in 0..inode.size / bs {
            match self.map_block(&inode, lb, &mut meta)? {
                Some(pb) => self.read_fs_block(pb, &mut block)?,
                None => {
                    return Err(Error::BadDirEntry {
                        inode: ino,
                        offset: lb * bs,
                        why: "hole",
                    });
                }
            }
            let mut off = 0usize;
            while off < bs as usize {
                let at = lb * bs + off as u64;
                let bad = |why| Error::BadDirEntry {
                    inode: ino,
                    offset: at,
                    why,
                };
                if off + 8 > bs as usize {
                    return Err(bad("entry header past the block"));
                }
                let e_ino = le32(&block, off);
                let rec_len = usize::from(le16(&block, off + 4));
                let (name_len, ftype) = if filetype {
                    (usize::from(block[off + 6]), block[off + 7])
                } else {
                    (usize::from(le16(&block, off + 6)), 0)
                };
                if rec_len < 8 || rec_len % 4 != 0 {
                    return Err(bad("rec_len"));
                }
                if off + rec_len > bs as usize {
                    return Err(bad("rec_len past the block"));
                }
                if e_ino != 0 {
                    if 8 + name_len > rec_len || name_len == 0 {
                        return Err(bad("name_len"));
                    }
                    if e_ino > self.sb.inodes_count {
                        return Err(bad("inode number out of range"));
                    }
                    if let Some(t) = f(&block[off + 8..off + 8 + name_len], e_ino, ftype) {
                        return Ok(Some(t));
                    }
                }
                off += rec_len;
            }
        }
        Ok(None)
    }

    /// The entries of directory `ino` (including `.` and `..`).
    pub fn read_dir_inode(&mut self, ino: u32) -> R<Vec<DirEntry>, D> {
        let mut out = Vec::new();
        self.walk_dir(ino, |name, inode, file_type| {
            out.push(DirEntry {
                inode,
                name: name.to_vec(),
                file_type,
            });
            None::<()>
        })?;
        Ok(out)
    }

    /// The entries of the directory at `path`.
    pub fn read_dir(&mut self, path: &str) -> R<Vec<DirEntry>, D> {
        let ino = self.lookup(path)?;
        self.read_dir_inode(ino)
    }

    /// Finds `name` in directory `dir`.
    pub fn find_in_dir(&mut self, dir: u32, name: &[u8]) -> R<u32, D> {
        self.walk_dir(dir, |n, ino, _| (n == name).then_some(ino))?
            .ok_or(Error::NotFound)
    }

    /// Resolves an absolute path (`/a/b/c`; empty components and `.` are
    /// skipped, `..` uses the directory's own entry; symlinks are not
    /// followed) to an inode number.
    pub fn lookup(&mut self, path: &str) -> R<u32, D> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err(Error::InvalidPath);
        };
        let mut ino = ROOT_INODE;
        for comp in rest.split('/') {
            if comp.is_empty() || comp == "." {
                continue;
            }
            ino = self.find_in_dir(ino, comp.as_bytes())?;
        }
        Ok(ino)
    }
}

impl<D: BlockDeviceMut> Ext2<D> {
    /// Overwrites `data.len()` bytes of regular file `ino` at `offset`, in
    /// the blocks the file already has. Every block is mapped before the
    /// first byte is written, so a write that fails with
    /// [`Error::WouldAllocate`] (past the end, or into a hole) changes
    /// nothing. The inode is not touched: size and times stay as they were.
    pub fn write_inode(&mut self, ino: u32, offset: u64, data: &[u8]) -> R<(), D> {
        let inode = self.inode(ino)?;
        if inode.file_type() != FileType::Regular {
            return Err(Error::WrongFileType);
        }
        if data.is_empty() {
            return Ok(());
        }
        let end = offset.checked_add(data.len() as u64).ok_or(Error::WouldAllocate { inode: ino })?;
        if end > inode.size {
            return Err(Error::WouldAllocate { inode: ino });
        }
        let bs = self.block_size();
        let mut bufs = self.take_read_bufs();
        let mut blocks = Vec::new();
        let mapped = (offset / bs..=(end - 1) / bs).try_for_each(|lb| match self.map_block(&inode, lb, &mut bufs.meta)? {
            Some(pb) => {
                blocks.push(pb);
                Ok(())
            }
            None => Err(Error::WouldAllocate { inode: ino }),
        });
        self.read_bufs = Some(bufs);
        mapped?;
        for (pb, p) in blocks.into_iter().zip(pieces(offset, data.len(), bs)) {
            self.write_bytes(pb * bs + p.within as u64, &data[p.at..p.at + p.len])?;
        }
        Ok(())
    }

    /// Writes `data` at byte `offset` of the device; device blocks it only
    /// partly covers are read, patched and written back.
    fn write_bytes(&mut self, offset: u64, data: &[u8]) -> R<(), D> {
        let dbs = self.scratch.len() as u64;
        for p in pieces(offset, data.len(), dbs) {
            if p.block >= self.dev.block_count() {
                return Err(Error::BadDevice("write past the end of the device"));
            }
            let part = &data[p.at..p.at + p.len];
            if p.whole(dbs) {
                self.dev.write_block(p.block, part).map_err(Error::Device)?;
            } else {
                self.dev.read_block(p.block, &mut self.scratch).map_err(Error::Device)?;
                self.scratch[p.within..p.within + p.len].copy_from_slice(part);
                self.dev.write_block(p.block, &self.scratch).map_err(Error::Device)?;
            }
        }
        Ok(())
    }
}
