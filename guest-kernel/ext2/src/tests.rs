//! Host tests: images made by `mke2fs -d` at test time, compared with the
//! directory they were made from; targeted and random corruptions.

extern crate std;

use crate::*;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{eprintln, format, fs};

/// An image in memory, served in blocks of `bs` bytes.
#[derive(Clone)]
struct MemDevice {
    data: Vec<u8>,
    bs: usize,
    reads: u64,
}

impl BlockDevice for MemDevice {
    type Error = ();
    fn block_size(&self) -> usize {
        self.bs
    }
    fn block_count(&self) -> u64 {
        (self.data.len() / self.bs) as u64
    }
    fn read_block(&mut self, n: u64, buf: &mut [u8]) -> core::result::Result<(), ()> {
        let start = usize::try_from(n)
            .map_err(|_| ())?
            .checked_mul(self.bs)
            .ok_or(())?;
        let src = self.data.get(start..start + self.bs).ok_or(())?;
        self.reads += 1;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl BlockDeviceMut for MemDevice {
    fn write_block(&mut self, n: u64, buf: &[u8]) -> core::result::Result<(), ()> {
        let start = usize::try_from(n)
            .map_err(|_| ())?
            .checked_mul(self.bs)
            .ok_or(())?;
        let dst = self.data.get_mut(start..start + self.bs).ok_or(())?;
        dst.copy_from_slice(buf);
        Ok(())
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrite-ext2-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// Deterministic bytes.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The tree every image is made from.
fn populate(root: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::create_dir_all(root.join("many")).unwrap();
    fs::write(root.join("small.txt"), b"hello, ferrite\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("a/b/c/deep.txt"), b"deep down\n").unwrap();
    fs::write(root.join("a/twelve"), pattern(12 * 1024, 3)).unwrap(); // exactly the direct blocks
    fs::write(root.join("a/b/single"), pattern(100 * 1024 + 7, 4)).unwrap(); // single indirect
    fs::write(root.join("big.bin"), pattern(300 * 1024 + 123, 5)).unwrap(); // double indirect
    for i in 0..120 {
        fs::write(
            root.join(format!("many/file-with-a-longish-name-{i:03}")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    fs::set_permissions(root.join("small.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("small.txt", root.join("link")).unwrap();
}

/// The host tree an image was made from; removed when dropped.
struct HostTree {
    dir: PathBuf,
    root: PathBuf,
}

impl Drop for HostTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Builds an image with mke2fs (plus `args`); panics if mke2fs is missing
/// (install e2fsprogs), since without it these tests would check nothing.
fn mkfs_with(
    name: &str,
    args: &[&str],
    block_size: u32,
    blocks: u32,
    extra: impl Fn(&Path),
) -> (HostTree, Vec<u8>) {
    let dir = scratch_dir(name);
    let root = dir.join("root");
    fs::create_dir_all(&root).unwrap();
    populate(&root);
    extra(&root);
    let img = dir.join("img");
    let out = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-b", &format!("{block_size}")])
        .args(args)
        .arg("-d")
        .arg(&root)
        .arg(&img)
        .arg(format!("{blocks}"))
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let data = fs::read(&img).unwrap();
            (HostTree { dir, root }, data)
        }
        Ok(o) => panic!("mke2fs failed: {}", String::from_utf8_lossy(&o.stderr)),
        // The images come from the real mke2fs: without it these tests would check nothing.
        Err(e) => panic!("mke2fs not available ({e}); install e2fsprogs"),
    }
}

fn mkfs(
    name: &str,
    block_size: u32,
    blocks: u32,
    extra: impl Fn(&Path),
) -> (HostTree, Vec<u8>) {
    mkfs_with(name, &[], block_size, blocks, extra)
}

fn mount(data: Vec<u8>, bs: usize) -> Ext2<MemDevice> {
    Ext2::mount(MemDevice { data, bs, reads: 0 }).unwrap()
}

/// Reads a whole file in chunks of `chunk` bytes.
fn read_all(fs: &mut Ext2<MemDevice>, path: &str, chunk: usize) -> Vec<u8> {
    let size = fs.metadata(path).unwrap().size as usize;
    let mut out = vec![0u8; size];
    let mut off = 0;
    while off < size {
        let end = (off + chunk).min(size);
        let n = fs.read(path, off as u64, &mut out[off..end]).unwrap();
        assert_eq!(n, end - off);
        off = end;
    }
    let mut probe = [0u8; 8];
    assert_eq!(fs.read(path, size as u64, &mut probe).unwrap(), 0, "EOF");
    out
}

/// Compares the image's tree with the host tree, recursively; returns the
/// number of files compared.
fn compare_tree(fs: &mut Ext2<MemDevice>, host: &Path, path: &str) -> usize {
    let mut compared = 0;
    let entries = fs.read_dir(path).unwrap();
    let names: BTreeSet<String> = entries
        .iter()
        .map(|e| String::from_utf8(e.name.clone()).unwrap())
        .collect();
    let mut want: BTreeSet<String> = fs::read_dir(host)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    want.insert(".".into());
    want.insert("..".into());
    if path == "/" {
        want.insert("lost+found".into());
    }
    assert_eq!(names, want, "listing of {path}");
    for name in want {
        if name == "." || name == ".." || (path == "/" && name == "lost+found") {
            continue;
        }
        let child = if path == "/" {
            format!("/{name}")
        } else {
            format!("{path}/{name}")
        };
        let hp = host.join(&name);
        let hmeta = fs::symlink_metadata(&hp).unwrap();
        let meta = fs.metadata(&child).unwrap();
        assert_eq!(
            u32::from(meta.mode),
            hmeta.permissions().mode() & 0xffff,
            "{child} mode"
        );
        if hmeta.is_dir() {
            assert!(meta.is_dir());
            compared += compare_tree(fs, &hp, &child);
        } else if hmeta.file_type().is_symlink() {
            assert_eq!(meta.file_type, FileType::Symlink);
            let target = fs::read_link(&hp).unwrap();
            assert_eq!(
                fs.read_link(&child).unwrap(),
                target.to_str().unwrap().as_bytes()
            );
        } else {
            assert!(meta.is_file() && !meta.is_dir());
            assert_eq!(meta.size, hmeta.len(), "{child} size");
            let want = fs::read(&hp).unwrap();
            assert_eq!(read_all(fs, &child, 4096), want, "{child}");
            assert_eq!(read_all(fs, &child, 1000), want, "{child} (odd chunks)");
            compared += 1;
        }
    }
    compared
}

#[test]
fn reads_mke2fs_image_1k_blocks() {
    let (tree, img) = mkfs("1k", 1024, 2048, |_| {});
    let mut fs = mount(img, 1024);
    assert_eq!(fs.superblock().block_size, 1024);
    assert_eq!(compare_tree(&mut fs, &tree.root, "/"), 126);
}

#[test]
fn reads_revision_0_image_without_filetype() {
    let (tree, img) = mkfs_with("rev0", &["-r", "0"], 1024, 2048, |_| {});
    let mut fs = mount(img, 1024);
    assert_eq!(fs.superblock().rev_level, 0);
    assert_eq!(fs.superblock().inode_size, 128);
    assert_eq!(compare_tree(&mut fs, &tree.root, "/"), 126);
    assert!(fs.read_dir("/").unwrap().iter().all(|e| e.file_type == 0));
}

#[test]
fn reads_mke2fs_image_4k_blocks_on_512_byte_device() {
    let (tree, img) = mkfs("4k", 4096, 1024, |_| {});
    let mut fs = mount(img, 512);
    assert_eq!(fs.superblock().block_size, 4096);
    assert_eq!(compare_tree(&mut fs, &tree.root, "/"), 126);
}

#[test]
fn reads_sparse_file_through_triple_indirect_block() {
    // 1 KiB blocks: direct 12 + single 256 + double 65536 blocks = 65804 KiB;
    // data at 70 MiB needs the triple-indirect block. The file is sparse.
    let at = 70u64 << 20;
    let tail = pattern(5000, 9);
    let (_, img) = mkfs("triple", 1024, 4096, |root| {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::File::create(root.join("sparse")).unwrap();
        f.write_all(b"head").unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&tail).unwrap();
    });
    let mut fs = mount(img, 1024);
    let ino = fs.lookup("/sparse").unwrap();
    let inode = fs.inode(ino).unwrap();
    assert_ne!(inode.block[14], 0, "uses the triple-indirect block");
    assert_eq!(fs.metadata("/sparse").unwrap().size, at + tail.len() as u64);
    let mut buf = vec![0u8; tail.len()];
    assert_eq!(fs.read("/sparse", at, &mut buf).unwrap(), tail.len());
    assert_eq!(buf, tail);
    let mut head = [0xffu8; 8];
    fs.read("/sparse", 0, &mut head).unwrap();
    assert_eq!(&head, b"head\0\0\0\0", "a hole reads as zeros");
    let mut hole = vec![0xffu8; 3000];
    fs.read("/sparse", 40 << 20, &mut hole).unwrap();
    assert!(hole.iter().all(|&b| b == 0));
}

/// What e2fsprogs sees in `img` at `path` (debugfs `cat`), after checking
/// the file system with `e2fsck -fn` (read-only, forced).
fn e2fsprogs_view(dir: &Path, img: &[u8], path: &str) -> Vec<u8> {
    let file = dir.join("written.img");
    fs::write(&file, img).unwrap();
    let fsck = Command::new("e2fsck").arg("-fn").arg(&file).output().expect("e2fsck (e2fsprogs)");
    assert!(
        fsck.status.success(),
        "e2fsck: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let cat = Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat {path}"))
        .arg(&file)
        .output()
        .expect("debugfs (e2fsprogs)");
    assert!(cat.status.success(), "debugfs: {}", String::from_utf8_lossy(&cat.stderr));
    cat.stdout
}

#[test]
fn overwrites_in_place_as_e2fsprogs_sees_them() {
    // 1 KiB file-system blocks on a 512-byte device and 4 KiB blocks on a
    // 4 KiB device; unaligned writes (partial device blocks are patched)
    // that span direct, single- and double-indirect blocks.
    for (name, fs_bs, dev_bs, blocks) in [("w1k", 1024, 512, 2048), ("w4k", 4096, 4096, 1024)] {
        let (tree, img) = mkfs(name, fs_bs, blocks, |_| {});
        let mut fs = mount(img, dev_bs);
        let ino = fs.lookup("/big.bin").unwrap();
        let mut want = fs::read(tree.root.join("big.bin")).unwrap();
        for (i, (at, len)) in [(0usize, 10usize), (11_000, 5000), (150_000, 70_001), (want.len() - 3, 3)]
            .into_iter()
            .enumerate()
        {
            let data = pattern(len, 100 + i as u64);
            fs.write_inode(ino, at as u64, &data).unwrap();
            want[at..at + len].copy_from_slice(&data);
        }
        assert_eq!(read_all(&mut fs, "/big.bin", 4096), want);
        let small = fs::read(tree.root.join("small.txt")).unwrap();
        assert_eq!(read_all(&mut fs, "/small.txt", 4096), small, "other files untouched");
        let img = fs.into_device().data;
        assert_eq!(e2fsprogs_view(&tree.dir, &img, "/big.bin"), want, "{name}");
    }
}

#[test]
fn writes_that_would_allocate_change_nothing() {
    let (tree, img) = mkfs("walloc", 1024, 4096, |root| {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::File::create(root.join("sparse")).unwrap();
        f.write_all(b"head").unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(b"tail").unwrap();
    });
    let mut fs = mount(img.clone(), 1024);
    let big = fs.lookup("/big.bin").unwrap();
    let size = fs.metadata("/big.bin").unwrap().size;
    let past_end = fs.write_inode(big, size - 2, b"four");
    assert_eq!(past_end, Err(Error::WouldAllocate { inode: big }));
    assert_eq!(fs.write_inode(big, u64::MAX, b"x"), Err(Error::WouldAllocate { inode: big }));
    let sparse = fs.lookup("/sparse").unwrap();
    // Starts in the file's first block, runs into the hole after it.
    let into_hole = fs.write_inode(sparse, 0, &[7u8; 3000]);
    assert_eq!(into_hole, Err(Error::WouldAllocate { inode: sparse }));
    let dir = fs.lookup("/a").unwrap();
    assert_eq!(fs.write_inode(dir, 0, b"x"), Err(Error::WrongFileType));
    assert_eq!(fs.into_device().data, img, "the image is unchanged");
    drop(tree);
}

#[test]
fn sequential_read_fetches_each_indirect_block_once() {
    let (tree, img) = mkfs("count", 1024, 2048, |_| {});
    let mut fs = mount(img, 1024);
    let ino = fs.lookup("/big.bin").unwrap();
    let size = fs.metadata_inode(ino).unwrap().size as usize;
    let before = fs.device().reads;
    let mut buf = vec![0u8; size];
    assert_eq!(fs.read_inode(ino, 0, &mut buf).unwrap(), size);
    let reads = fs.device().reads - before;
    // 301 data blocks + single + double + one child of the double (the
    // inode was read by metadata_inode, and is kept).
    assert_eq!(reads, 301 + 3);
    assert_eq!(buf, fs::read(tree.root.join("big.bin")).unwrap());
}

#[test]
fn a_read_of_a_mapped_block_costs_one_device_read() {
    // The page-cache hot path: once a file's inode and leaf indirect blocks
    // were read, reading any block of it reads that block and nothing else.
    let (tree, img) = mkfs("onelookup", 1024, 2048, |_| {});
    let host = fs::read(tree.root.join("big.bin")).unwrap();
    let mut fs = mount(img, 1024);
    let ino = fs.lookup("/big.bin").unwrap();
    let size = fs.metadata_inode(ino).unwrap().size as usize;
    let mut all = vec![0u8; size];
    fs.read_inode(ino, 0, &mut all).unwrap();
    let mut block = vec![0u8; 1024];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..500 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let lb = x % (size as u64 / 1024);
        let before = fs.device().reads;
        assert_eq!(fs.read_inode(ino, lb * 1024, &mut block).unwrap(), 1024);
        assert_eq!(fs.device().reads - before, 1, "block {lb}");
        assert_eq!(block, host[lb as usize * 1024..][..1024], "block {lb}");
    }
    // In-place writes go through the same map and change no inode or map.
    let data = vec![0xa5u8; 1024];
    fs.write_inode(ino, 270 * 1024, &data).unwrap();
    let before = fs.device().reads;
    fs.read_inode(ino, 270 * 1024, &mut block).unwrap();
    assert_eq!((block, fs.device().reads - before), (data, 1));
}

#[test]
fn lookup_and_errors() {
    let (_, img) = mkfs("lookup", 1024, 2048, |_| {});
    let mut fs = mount(img, 1024);
    let deep = fs.lookup("/a/b/c/deep.txt").unwrap();
    assert_eq!(fs.lookup("//a/./b/c/../c/deep.txt").unwrap(), deep);
    assert_eq!(fs.lookup("/").unwrap(), ROOT_INODE);
    assert_eq!(fs.lookup("/a/nope"), Err(Error::NotFound));
    assert_eq!(fs.lookup("a/b"), Err(Error::InvalidPath));
    assert_eq!(fs.lookup("/small.txt/x"), Err(Error::NotADirectory));
    assert_eq!(fs.read_dir("/small.txt"), Err(Error::NotADirectory));
    assert_eq!(fs.read_link("/small.txt"), Err(Error::WrongFileType));
    assert!(fs.metadata("/a").unwrap().is_dir());
    assert_eq!(fs.metadata("/small.txt").unwrap().permissions(), 0o640);
    let n = fs.superblock().inodes_count;
    assert_eq!(fs.inode(0), Err(Error::InodeOutOfRange(0)));
    assert_eq!(fs.inode(n + 1), Err(Error::InodeOutOfRange(n + 1)));
    let mut buf = [0u8; 4];
    assert_eq!(
        fs.read_inode(u32::MAX, 0, &mut buf),
        Err(Error::InodeOutOfRange(u32::MAX))
    );
}

// ---- corruption ------------------------------------------------------------

fn put16(img: &mut [u8], off: usize, v: u16) {
    img[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(img: &mut [u8], off: usize, v: u32) {
    img[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn get32(img: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(img[off..off + 4].try_into().unwrap())
}

/// Byte offset of inode `ino` in a 1 KiB-block, single-group image.
fn inode_offset(img: &[u8], ino: u32) -> usize {
    let ipg = get32(img, 1024 + 40);
    assert_eq!((ino - 1) / ipg, 0, "test inode in group 0");
    let table = get32(img, 2 * 1024 + 8) as usize;
    let isz = u16::from_le_bytes([img[1024 + 88], img[1024 + 89]]) as usize;
    table * 1024 + (ino as usize - 1) * isz
}

fn mount_err(img: Vec<u8>) -> Error<()> {
    match Ext2::mount(MemDevice {
        data: img,
        bs: 1024,
        reads: 0,
    }) {
        Ok(_) => panic!("corrupted image mounted"),
        Err(e) => e,
    }
}

#[test]
fn corrupted_superblocks_are_rejected() {
    let (_, img) = mkfs("sb", 1024, 2048, |_| {});
    type Case = (&'static str, fn(&mut Vec<u8>), Error<()>);
    let cases: Vec<Case> = vec![
        (
            "magic",
            |i| put16(i, 1024 + 56, 0x1234),
            Error::BadMagic(0x1234),
        ),
        (
            "block size",
            |i| put32(i, 1024 + 24, 20),
            Error::BadBlockSize(20),
        ),
        (
            "revision",
            |i| put32(i, 1024 + 76, 7),
            Error::UnsupportedRevision(7),
        ),
        (
            "inode size",
            |i| put16(i, 1024 + 88, 100),
            Error::BadInodeSize(100),
        ),
        (
            "inode size > block",
            |i| put16(i, 1024 + 88, 2048),
            Error::BadInodeSize(2048),
        ),
        (
            "extents",
            |i| put32(i, 1024 + 96, 0x42),
            Error::UnsupportedFeature(0x40),
        ),
        (
            "blocks per group",
            |i| put32(i, 1024 + 32, 0),
            Error::BadSuperblock("s_blocks_per_group"),
        ),
        (
            "inodes per group",
            |i| put32(i, 1024 + 40, 1 << 20),
            Error::BadSuperblock("s_inodes_per_group"),
        ),
        (
            "inodes count",
            |i| put32(i, 1024, u32::MAX),
            Error::BadSuperblock("s_inodes_count"),
        ),
        (
            "first data block",
            |i| put32(i, 1024 + 20, 5),
            Error::BadSuperblock("s_first_data_block"),
        ),
        (
            "blocks count",
            |i| put32(i, 1024 + 4, 1 << 30),
            Error::BadDevice("file system larger than the device"),
        ),
        (
            "truncated",
            |i| i.truncate(1536),
            Error::BadDevice("read past the end of the device"),
        ),
        (
            "inode table",
            |i| put32(i, 2048 + 8, 1 << 30),
            Error::BadGroupDescriptor {
                group: 0,
                why: "bg_inode_table",
            },
        ),
    ];
    for (what, corrupt, want) in cases {
        let mut bad = img.clone();
        corrupt(&mut bad);
        assert_eq!(mount_err(bad), want, "{what}");
    }
    // An empty device.
    assert_eq!(
        mount_err(Vec::new()),
        Error::BadDevice("read past the end of the device")
    );
}

#[test]
fn corrupted_directories_and_block_pointers_are_rejected() {
    let (_, img) = mkfs("dirs", 1024, 2048, |_| {});
    let mut fs = mount(img.clone(), 1024);
    let root_block = fs.inode(ROOT_INODE).unwrap().block[0] as usize * 1024;
    let big = fs.lookup("/big.bin").unwrap();
    let big_off = inode_offset(&img, big);
    assert_eq!(get32(&img, big_off + 40), fs.inode(big).unwrap().block[0]);

    let dir_err = |img: Vec<u8>| mount(img, 1024).read_dir("/").unwrap_err();
    let mut bad = img.clone();
    put16(&mut bad, root_block + 4, 0);
    assert!(matches!(
        dir_err(bad),
        Error::BadDirEntry { why: "rec_len", .. }
    ));
    let mut bad = img.clone();
    put16(&mut bad, root_block + 4, 2000);
    assert!(matches!(
        dir_err(bad),
        Error::BadDirEntry {
            why: "rec_len past the block",
            ..
        }
    ));
    let mut bad = img.clone();
    bad[root_block + 6] = 200; // name_len beyond rec_len
    assert!(matches!(
        dir_err(bad),
        Error::BadDirEntry {
            why: "name_len",
            ..
        }
    ));
    let mut bad = img.clone();
    put32(&mut bad, root_block, u32::MAX); // "." points to a nonexistent inode
    assert!(matches!(
        dir_err(bad),
        Error::BadDirEntry {
            why: "inode number out of range",
            ..
        }
    ));

    let read_err = |img: Vec<u8>, off: u64| {
        let mut fs = mount(img, 1024);
        let mut buf = [0u8; 16];
        fs.read_inode(big, off, &mut buf).unwrap_err()
    };
    for (slot, off) in [(0usize, 0u64), (12, 12 * 1024), (13, (12 + 256) * 1024)] {
        let mut bad = img.clone();
        put32(&mut bad, big_off + 40 + 4 * slot, 0xffff_ff00);
        assert_eq!(
            read_err(bad, off),
            Error::BlockOutOfRange {
                inode: big,
                block: 0xffff_ff00
            },
            "i_block[{slot}]"
        );
    }
    // A pointer inside the double-indirect block's first child.
    let mut bad = img.clone();
    let dind = get32(&img, big_off + 40 + 13 * 4) as usize;
    let child = get32(&img, dind * 1024) as usize;
    put32(&mut bad, child * 1024, 5_000_000);
    assert_eq!(
        read_err(bad, (12 + 256) * 1024),
        Error::BlockOutOfRange {
            inode: big,
            block: 5_000_000
        }
    );
    // Extents flag on an inode.
    let mut bad = img.clone();
    put32(&mut bad, big_off + 32, 0x80000);
    assert!(matches!(read_err(bad, 0), Error::BadInode { .. }));
}

/// Walks the whole tree, with limits, returning how many files were read;
/// errors are fine, panics are not.
fn explore(fs: &mut Ext2<MemDevice>, ino: u32, depth: u32, budget: &mut u32, errors: &mut u32) {
    if depth > 6 || *budget == 0 {
        return;
    }
    let entries = match fs.read_dir_inode(ino) {
        Ok(e) => e,
        Err(_) => {
            *errors += 1;
            return;
        }
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let Ok(meta) = fs.metadata_inode(e.inode) else {
            *errors += 1;
            continue;
        };
        if meta.is_dir() {
            explore(fs, e.inode, depth + 1, budget, errors);
        } else {
            let mut buf = vec![0u8; 64 * 1024];
            let a = fs.read_inode(e.inode, 0, &mut buf).is_err();
            let b = fs
                .read_inode(e.inode, meta.size.saturating_sub(10), &mut buf[..10])
                .is_err();
            *errors += u32::from(a || b);
        }
    }
    let _ = fs.lookup("/a/b/c/deep.txt");
    let _ = fs.read_link("/link");
}

#[test]
fn random_byte_flips_never_panic() {
    let (_, img) = mkfs("fuzz", 1024, 2048, |_| {});
    // Metadata lives in the first blocks: superblock, descriptors, bitmaps,
    // inode table, directories; aim most flips there.
    let hot = img.len().min(96 * 1024);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut mounted, mut rejected, mut errors) = (0, 0, 0u32);
    for _ in 0..3000 {
        let mut bad = img.clone();
        for _ in 0..1 + next() % 8 {
            // 1/4 superblock and descriptors, 5/8 other metadata, 1/8 anywhere.
            let at = match next() % 8 {
                0 | 1 => 1024 + (next() % 2048) as usize,
                2 => (next() % bad.len() as u64) as usize,
                _ => (next() % hot as u64) as usize,
            };
            bad[at] ^= 1 << (next() % 8);
            if next() % 4 == 0 {
                bad[at] = next() as u8;
            }
        }
        match Ext2::mount(MemDevice {
            data: bad,
            bs: 1024,
            reads: 0,
        }) {
            Ok(mut fs) => {
                mounted += 1;
                let mut budget = 400;
                explore(&mut fs, ROOT_INODE, 0, &mut budget, &mut errors);
            }
            Err(_) => rejected += 1,
        }
    }
    eprintln!(
        "random flips: {mounted} mounted and explored ({errors} errors while exploring), \
         {rejected} rejected at mount"
    );
    assert!(mounted > 0 && rejected > 0 && errors > 0);
}
