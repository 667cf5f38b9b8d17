//! File-system plumbing over the virtio-blk driver: [`CachedDisk`], an
//! `ext2::BlockDevice` whose 4 KiB pages live in a `pagecache::PageCache`
//! (policy from `cache=lru|clock|arc|lecar|qlearn|qrule`, size from
//! `cache_pages=N`), with `block::Readahead` reading sequential runs ahead
//! in one device request; and [`SharedDisk`], the same disk shared by
//! threads on several CPUs, each through its own [`DiskHandle`].

mod cached;
mod shared;

pub use cached::{CachedDisk, PAGE_SIZE};
pub use shared::{DiskHandle, SharedDisk};
