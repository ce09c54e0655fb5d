//! The bytes of a streamed ZIP archive (PKWARE APPNOTE 6.3.10): each member a
//! local header, its deflated data and a data descriptor (sizes are known only
//! at its end), then the central directory. ZIP64 records appear only where a
//! size, an offset or the member count outgrows the classic fields, so a pack
//! of any size is one archive. Every member has the same fixed time
//! (1980-01-01 00:00, DOS epoch): a member's bytes depend on its content only.
//!
//! Written here rather than with the `zip` crate's stream writer because a
//! member whose data was deflated elsewhere (on another thread, into a spool)
//! must be copied in as it is, and because an archive's state must be a plain
//! value (offsets and entries) to be carried on; the crate still reads packs.

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
const ZIP64_EXTRA: u16 = 0x0001;
/// Bit 3: crc and sizes in the data descriptor; bit 11: names are UTF-8.
const FLAGS: u16 = 1 << 3 | 1 << 11;
const DEFLATE: u16 = 8;
/// 1980-01-01 in DOS date form (time 00:00 is 0).
const DOS_DATE: u16 = 1 << 5 | 1;
/// Made by Unix (so the external attributes hold a mode), spec 4.5.
const MADE_BY: u16 = 3 << 8 | 45;
/// A regular file, rw-r--r--.
const MODE: u32 = 0o100_644 << 16;
const MAX16: u64 = 0xFFFF;
const MAX32: u64 = 0xFFFF_FFFF;

/// One member as the central directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Offset of its local header in the archive.
    pub offset: u64,
    pub crc32: u32,
    pub compressed: u64,
    pub size: u64,
}

impl Entry {
    fn zip64(&self) -> bool {
        self.compressed >= MAX32 || self.size >= MAX32
    }

    fn version_needed(&self) -> u16 {
        if self.zip64() || self.offset >= MAX32 {
            45
        } else {
            20
        }
    }
}

struct Out(Vec<u8>);

impl Out {
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
}

/// `v` in a classic field, or the all-ones marker that sends readers to ZIP64.
fn clamp32(v: u64) -> u32 {
    v.min(MAX32) as u32
}

/// The local header of member `name`; crc and sizes follow in its descriptor.
pub fn local_header(name: &str) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(30 + name.len()));
    o.u32(LOCAL)
        .u16(45)
        .u16(FLAGS)
        .u16(DEFLATE)
        .u16(0)
        .u16(DOS_DATE)
        .u32(0)
        .u32(0)
        .u32(0)
        .u16(name.len() as u16)
        .u16(0)
        .bytes(name.as_bytes());
    o.0
}

/// The data descriptor closing `entry`'s data: 8-byte sizes when it is ZIP64.
pub fn data_descriptor(entry: &Entry) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(24));
    o.u32(DESCRIPTOR).u32(entry.crc32);
    if entry.zip64() {
        o.u64(entry.compressed).u64(entry.size);
    } else {
        o.u32(entry.compressed as u32).u32(entry.size as u32);
    }
    o.0
}

/// The central directory of `entries`, starting at archive offset `at`, and
/// the end records: the archive's last bytes.
pub fn central_directory(entries: &[Entry], at: u64) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(entries.len() * 100 + 120));
    for e in entries {
        let mut extra = Out(Vec::new());
        if e.zip64() || e.offset >= MAX32 {
            extra
                .u16(ZIP64_EXTRA)
                .u16(24)
                .u64(e.size)
                .u64(e.compressed)
                .u64(e.offset);
        }
        let (sizes, offset) = if extra.0.is_empty() {
            ((e.compressed as u32, e.size as u32), e.offset as u32)
        } else {
            ((u32::MAX, u32::MAX), u32::MAX)
        };
        o.u32(CENTRAL)
            .u16(MADE_BY)
            .u16(e.version_needed())
            .u16(FLAGS)
            .u16(DEFLATE)
            .u16(0)
            .u16(DOS_DATE)
            .u32(e.crc32)
            .u32(sizes.0)
            .u32(sizes.1)
            .u16(e.name.len() as u16)
            .u16(extra.0.len() as u16)
            .u16(0)
            .u16(0)
            .u16(0)
            .u32(MODE)
            .u32(offset)
            .bytes(e.name.as_bytes())
            .bytes(&extra.0);
    }
    let size = o.0.len() as u64;
    let count = entries.len() as u64;
    if count >= MAX16 || size >= MAX32 || at >= MAX32 {
        let end64 = at + size;
        o.u32(END64)
            .u64(44)
            .u16(MADE_BY)
            .u16(45)
            .u32(0)
            .u32(0)
            .u64(count)
            .u64(count)
            .u64(size)
            .u64(at);
        o.u32(LOCATOR64).u32(0).u64(end64).u32(1);
    }
    let count16 = count.min(MAX16) as u16;
    o.u32(END)
        .u16(0)
        .u16(0)
        .u16(count16)
        .u16(count16)
        .u32(clamp32(size))
        .u32(clamp32(at))
        .u16(0);
    o.0
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read, Write};

    use super::*;

    /// An archive of `members` written with these records, as ZipOut does.
    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut entries = Vec::new();
        for (name, data) in members {
            let offset = out.len() as u64;
            out.extend(local_header(name));
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
            enc.write_all(data).unwrap();
            let deflated = enc.finish().unwrap();
            out.extend(&deflated);
            let entry = Entry {
                name: (*name).to_owned(),
                offset,
                crc32: crc32fast::hash(data),
                compressed: deflated.len() as u64,
                size: data.len() as u64,
            };
            out.extend(data_descriptor(&entry));
            entries.push(entry);
        }
        let at = out.len() as u64;
        out.extend(central_directory(&entries, at));
        out
    }

    #[test]
    fn the_zip_crate_reads_what_is_written() {
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let members: [(&str, &[u8]); 4] = [
            ("manifest.json", b"{\"a\": 1}\n"),
            ("empty.txt", b""),
            ("exports/focus-v1.2.csv", &big),
            ("naïve/ü.txt", "ü".as_bytes()),
        ];
        let bytes = archive(&members);
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(zip.len(), members.len());
        for (name, data) in members {
            let mut file = zip.by_name(name).unwrap();
            assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
            assert_eq!(file.unix_mode(), Some(0o100_644));
            let mut read = Vec::new();
            file.read_to_end(&mut read).unwrap();
            assert_eq!(read, data, "{name}");
            assert_eq!(file.crc32(), crc32fast::hash(data));
        }
    }

    #[test]
    fn the_same_members_give_the_same_bytes() {
        let members: [(&str, &[u8]); 2] = [("a", b"one"), ("b", b"two")];
        assert_eq!(archive(&members), archive(&members));
    }

    #[test]
    fn large_sizes_and_offsets_go_to_zip64_records() {
        let entry = Entry {
            name: "big.csv".into(),
            offset: 5 << 32,
            crc32: 7,
            compressed: 4 << 32,
            size: 9 << 32,
        };
        let d = data_descriptor(&entry);
        assert_eq!(d.len(), 24, "8-byte sizes");
        assert_eq!(u64::from_le_bytes(d[8..16].try_into().unwrap()), 4 << 32);
        let at = 10 << 32;
        let cd = central_directory(std::slice::from_ref(&entry), at);
        // The entry's classic fields are all-ones; its extra holds the truth.
        assert_eq!(&cd[20..28], &[0xFF; 8]);
        assert_eq!(&cd[42..46], &[0xFF; 4]);
        let extra = 46 + entry.name.len();
        assert_eq!(u16::from_le_bytes([cd[extra], cd[extra + 1]]), ZIP64_EXTRA);
        let field = |i: usize| {
            let s = extra + 4 + 8 * i;
            u64::from_le_bytes(cd[s..s + 8].try_into().unwrap())
        };
        assert_eq!((field(0), field(1), field(2)), (9 << 32, 4 << 32, 5 << 32));
        // Then the ZIP64 end record, its locator, and the classic end record.
        let end64 = extra + 28;
        assert_eq!(&cd[end64..end64 + 4], &END64.to_le_bytes());
        let cd_offset = u64::from_le_bytes(cd[end64 + 48..end64 + 56].try_into().unwrap());
        assert_eq!(cd_offset, at);
        assert_eq!(&cd[end64 + 56..end64 + 60], &LOCATOR64.to_le_bytes());
        let end = end64 + 56 + 20;
        assert_eq!(&cd[end..end + 4], &END.to_le_bytes());
        assert_eq!(&cd[end + 16..end + 20], &[0xFF; 4], "offset clamped");
        assert_eq!(cd.len(), end + 22);
    }

    #[test]
    fn small_archives_have_no_zip64_records() {
        let bytes = archive(&[("a", b"x")]);
        let sig = END64.to_le_bytes();
        assert!(!bytes.windows(4).any(|w| w == sig));
        assert_eq!(&bytes[bytes.len() - 22..][..4], &END.to_le_bytes());
    }
}
