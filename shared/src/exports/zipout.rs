//! A ZIP written as a stream into an [`Upload`] (records in `zipwrite`): each
//! member is deflated as it is written, and the archive and each member are
//! hashed on the way. Memory stays at about one drain chunk plus the upload's
//! part buffer, whatever the pack's size. A large member can instead be
//! deflated on a thread of its own while its rows are still being read
//! ([`Spool`]) and copied in whole when complete ([`ZipOut::spooled`]).

use std::io::{Read, Seek, SeekFrom, Write};

use flate2::Compression;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::zipwrite::{self, Entry};
use crate::objects::{ObjectError, Upload};

/// Drain into the upload once this much compressed output is waiting.
const DRAIN_AT: usize = 1024 * 1024;
/// `gzip -6`'s level: the usual balance of size and time.
const LEVEL: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum ZipOutError {
    #[error("zip: {0}")]
    Zip(String),
    #[error(transparent)]
    Object(#[from] ObjectError),
}

impl From<std::io::Error> for ZipOutError {
    fn from(e: std::io::Error) -> Self {
        Self::Zip(e.to_string())
    }
}

/// One file of the archive: its uncompressed size and SHA-256.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A member's data as it is written: deflated, and counted and hashed raw.
struct Member {
    deflate: DeflateEncoder<Vec<u8>>,
    crc: crc32fast::Hasher,
    sha: Sha256,
    size: u64,
    compressed: u64,
}

impl Member {
    fn new() -> Self {
        Self {
            deflate: DeflateEncoder::new(Vec::new(), Compression::new(LEVEL)),
            crc: crc32fast::Hasher::new(),
            sha: Sha256::new(),
            size: 0,
            compressed: 0,
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.deflate.write_all(data)?;
        self.crc.update(data);
        self.sha.update(data);
        self.size += data.len() as u64;
        Ok(())
    }

    /// Deflated output waiting so far.
    fn take(&mut self) -> Vec<u8> {
        let out = std::mem::take(self.deflate.get_mut());
        self.compressed += out.len() as u64;
        out
    }

    /// The rest of the output, and the member's crc, sizes and SHA-256.
    fn finish(mut self) -> std::io::Result<(Vec<u8>, Done)> {
        self.deflate.try_finish()?;
        let rest = self.take();
        Ok((
            rest,
            Done {
                crc32: self.crc.finalize(),
                compressed: self.compressed,
                size: self.size,
                sha256: hex::encode(self.sha.finalize()),
            },
        ))
    }
}

/// A finished member's figures.
struct Done {
    crc32: u32,
    compressed: u64,
    size: u64,
    sha256: String,
}

/// A member deflated on a blocking thread into a temporary file while the
/// caller goes on producing its data: the two halves of a large export (the
/// rows read and formatted, their compression) use two cores. Dropped, it
/// discards the file.
pub struct Spool {
    chunks: mpsc::Sender<Vec<u8>>,
    thread: Option<tokio::task::JoinHandle<std::io::Result<Spooled>>>,
}

/// A spool's deflated data, ready to be copied in.
pub struct Spooled {
    file: std::fs::File,
    done: Done,
}

impl Spool {
    pub fn start() -> std::io::Result<Self> {
        let mut file = tempfile::tempfile()?;
        // A few chunks queued keep both sides busy without holding the file in memory.
        let (chunks, mut rx) = mpsc::channel::<Vec<u8>>(4);
        let thread = tokio::task::spawn_blocking(move || {
            let mut member = Member::new();
            while let Some(chunk) = rx.blocking_recv() {
                member.write(&chunk)?;
                file.write_all(&member.take())?;
            }
            let (rest, done) = member.finish()?;
            file.write_all(&rest)?;
            Ok(Spooled { file, done })
        });
        Ok(Self {
            chunks,
            thread: Some(thread),
        })
    }

    /// Hand over the next chunk of the member's data (waits while the
    /// compressor is four chunks behind).
    pub async fn write(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        if self.chunks.send(chunk).await.is_ok() {
            return Ok(());
        }
        // The compressor stops early only on an error: that error is the answer.
        let stopped = std::io::Error::other("the spool's compressor stopped");
        match self.thread.take() {
            Some(thread) => Err(join(thread).await.err().unwrap_or(stopped)),
            None => Err(stopped),
        }
    }

    /// All data handed over: wait for the compressor.
    pub async fn finish(mut self) -> std::io::Result<Spooled> {
        let thread = self.thread.take();
        drop(self);
        match thread {
            Some(thread) => join(thread).await,
            None => Err(std::io::Error::other("the spool's compressor stopped")),
        }
    }
}

async fn join(
    thread: tokio::task::JoinHandle<std::io::Result<Spooled>>,
) -> std::io::Result<Spooled> {
    thread
        .await
        .map_err(|e| std::io::Error::other(format!("the spool's compressor failed: {e}")))?
}

struct Open {
    path: String,
    offset: u64,
    member: Member,
}

pub struct ZipOut<'u> {
    upload: &'u mut dyn Upload,
    /// Output not yet shipped to the upload.
    out: Vec<u8>,
    hasher: Sha256,
    /// Archive bytes so far, shipped or waiting: the next record's offset.
    bytes: u64,
    entries: Vec<Entry>,
    files: Vec<FileEntry>,
    open: Option<Open>,
}

impl<'u> ZipOut<'u> {
    pub fn new(upload: &'u mut dyn Upload) -> Self {
        Self {
            upload,
            out: Vec::new(),
            hasher: Sha256::new(),
            bytes: 0,
            entries: Vec::new(),
            files: Vec::new(),
            open: None,
        }
    }

    fn emit(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.out.extend_from_slice(data);
    }

    /// Start an entry (ending the previous one).
    pub fn start(&mut self, path: &str) -> Result<(), ZipOutError> {
        self.end()?;
        let offset = self.bytes;
        self.emit(&zipwrite::local_header(path));
        self.open = Some(Open {
            path: path.to_owned(),
            offset,
            member: Member::new(),
        });
        Ok(())
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), ZipOutError> {
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| ZipOutError::Zip("no entry is open".into()))?;
        open.member.write(data)?;
        let deflated = open.member.take();
        self.emit(&deflated);
        Ok(())
    }

    /// End the open entry: its last output, descriptor, size and hash.
    pub fn end(&mut self) -> Result<(), ZipOutError> {
        if let Some(open) = self.open.take() {
            let (rest, done) = open.member.finish()?;
            self.emit(&rest);
            self.close(open.path, open.offset, done);
        }
        Ok(())
    }

    fn close(&mut self, path: String, offset: u64, done: Done) {
        let entry = Entry {
            name: path.clone(),
            offset,
            crc32: done.crc32,
            compressed: done.compressed,
            size: done.size,
        };
        self.emit(&zipwrite::data_descriptor(&entry));
        self.entries.push(entry);
        self.files.push(FileEntry {
            path,
            bytes: done.size,
            sha256: done.sha256,
        });
    }

    /// A spooled member, copied in as it was deflated; `check` runs between
    /// chunks (the caller's deadline).
    pub async fn spooled<E: From<ZipOutError>>(
        &mut self,
        path: &str,
        spooled: Spooled,
        mut check: impl FnMut() -> Result<(), E>,
    ) -> Result<(), E> {
        self.end()?;
        let Spooled { mut file, done } = spooled;
        let offset = self.bytes;
        self.emit(&zipwrite::local_header(path));
        file.seek(SeekFrom::Start(0)).map_err(ZipOutError::from)?;
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut chunk).map_err(ZipOutError::from)?;
            if n == 0 {
                break;
            }
            self.emit(&chunk[..n]);
            self.pump().await?;
            check()?;
        }
        self.close(path.to_owned(), offset, done);
        Ok(())
    }

    /// Ship waiting output to the upload when enough has accumulated.
    pub async fn pump(&mut self) -> Result<(), ZipOutError> {
        if self.out.len() >= DRAIN_AT {
            self.upload.write(&std::mem::take(&mut self.out)).await?;
        }
        Ok(())
    }

    /// A whole small file.
    pub async fn file(&mut self, path: &str, data: &[u8]) -> Result<(), ZipOutError> {
        self.start(path)?;
        self.write(data)?;
        self.end()?;
        self.pump().await
    }

    /// A JSON file, pretty-printed with sorted keys.
    pub async fn json(&mut self, path: &str, value: &serde_json::Value) -> Result<(), ZipOutError> {
        let mut text =
            serde_json::to_vec_pretty(value).map_err(|e| ZipOutError::Zip(e.to_string()))?;
        text.push(b'\n');
        self.file(path, &text).await
    }

    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Write the central directory and ship everything; the archive's size
    /// and SHA-256.
    pub async fn finish(mut self) -> Result<(u64, String), ZipOutError> {
        self.end()?;
        let directory = zipwrite::central_directory(&self.entries, self.bytes);
        self.emit(&directory);
        if !self.out.is_empty() {
            self.upload.write(&std::mem::take(&mut self.out)).await?;
        }
        Ok((self.bytes, hex::encode(self.hasher.finalize())))
    }
}

/// Append one RFC 4180 record (CRLF) to `out`; cells must already be safe.
pub fn csv_record<S: AsRef<str>>(out: &mut Vec<u8>, cells: &[S]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = cell.as_ref();
        // A lone empty cell is quoted: an empty line is no record to a reader.
        let lone_empty = cells.len() == 1 && cell.is_empty();
        if lone_empty || cell.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use async_trait::async_trait;

    use super::*;

    #[derive(Default)]
    struct Memory(Vec<u8>);

    #[async_trait]
    impl Upload for Memory {
        async fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
            self.0.extend_from_slice(data);
            Ok(())
        }
        async fn finish(self: Box<Self>) -> Result<u64, ObjectError> {
            Ok(self.0.len() as u64)
        }
        async fn abort(self: Box<Self>) {}
    }

    fn csv(rows: usize) -> Vec<u8> {
        (0..rows)
            .flat_map(|i| format!("{i},row {i},{}\r\n", i * 7 % 1000).into_bytes())
            .collect()
    }

    /// Streamed members, a spooled one between them: the archive reads back
    /// with every member's bytes, and the sizes and hashes reported are theirs.
    #[tokio::test]
    async fn members_written_and_spooled_read_back() {
        let big = csv(200_000);
        let mut upload = Memory::default();
        let mut zip = ZipOut::new(&mut upload);
        assert!(
            zip.write(b"lost").is_err(),
            "data outside an entry is refused"
        );
        zip.json("manifest.json", &serde_json::json!({"a": 1}))
            .await
            .unwrap();
        let mut spool = Spool::start().unwrap();
        for chunk in big.chunks(100_000) {
            spool.write(chunk.to_vec()).await.unwrap();
        }
        let spooled = spool.finish().await.unwrap();
        zip.spooled("exports/focus.csv", spooled, || Ok::<_, ZipOutError>(()))
            .await
            .unwrap();
        zip.start("audit_log.csv").unwrap();
        for chunk in big.chunks(70_000).take(3) {
            zip.write(chunk).unwrap();
            zip.pump().await.unwrap();
        }
        zip.end().unwrap();
        zip.file("empty.txt", b"").await.unwrap();
        let files = zip.files().to_vec();
        let (bytes, sha) = zip.finish().await.unwrap();

        assert_eq!(bytes, upload.0.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(&upload.0)));
        assert!(upload.0.len() < big.len() / 3, "deflated");
        let mut archive = zip::ZipArchive::new(Cursor::new(upload.0)).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "manifest.json",
                "exports/focus.csv",
                "audit_log.csv",
                "empty.txt"
            ]
        );
        for f in &files {
            let mut data = Vec::new();
            archive
                .by_name(&f.path)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            assert_eq!(data.len() as u64, f.bytes, "{}", f.path);
            assert_eq!(hex::encode(Sha256::digest(&data)), f.sha256, "{}", f.path);
        }
        let mut focus = Vec::new();
        archive
            .by_name("exports/focus.csv")
            .unwrap()
            .read_to_end(&mut focus)
            .unwrap();
        assert_eq!(focus, big);
    }

    /// A deadline while copying a spool in stops the copy with its error.
    #[tokio::test]
    async fn a_spooled_copy_stops_at_the_check() {
        let mut upload = Memory::default();
        let mut zip = ZipOut::new(&mut upload);
        let mut spool = Spool::start().unwrap();
        // Random-ish bytes deflate poorly: several copy chunks.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..2_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        spool.write(noise).await.unwrap();
        let spooled = spool.finish().await.unwrap();
        let mut checks = 0;
        let stopped = zip
            .spooled("noise.bin", spooled, || {
                checks += 1;
                if checks == 2 {
                    Err(ZipOutError::Zip("out of time".into()))
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(matches!(stopped, Err(ZipOutError::Zip(m)) if m == "out of time"));
        assert!(zip.files().is_empty(), "no entry for a member cut short");
    }
}
