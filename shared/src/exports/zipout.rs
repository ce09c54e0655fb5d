//! A ZIP written as a stream into an [`Upload`]: the `zip` crate writes into a
//! small shared buffer which is drained into the upload as it fills, hashing
//! the archive and each entry on the way. Memory stays at about one drain
//! chunk plus the upload's part buffer, whatever the pack's size.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

use crate::objects::{ObjectError, Upload};

/// Drain into the upload once this much compressed output is waiting.
const DRAIN_AT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ZipOutError {
    #[error("zip: {0}")]
    Zip(String),
    #[error(transparent)]
    Object(#[from] ObjectError),
}

impl From<zip::result::ZipError> for ZipOutError {
    fn from(e: zip::result::ZipError) -> Self {
        Self::Zip(e.to_string())
    }
}

impl From<std::io::Error> for ZipOutError {
    fn from(e: std::io::Error) -> Self {
        Self::Zip(e.to_string())
    }
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take_if(&self, at_least: usize) -> Option<Vec<u8>> {
        let mut buf = self.0.lock().expect("buffer lock");
        (buf.len() >= at_least.max(1)).then(|| std::mem::take(&mut *buf))
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One file of the archive: its uncompressed size and SHA-256.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

struct Open {
    path: String,
    hasher: Sha256,
    bytes: u64,
}

pub struct ZipOut<'u> {
    zip: ZipWriter<StreamWriter<SharedBuf>>,
    out: SharedBuf,
    upload: &'u mut dyn Upload,
    hasher: Sha256,
    bytes: u64,
    files: Vec<FileEntry>,
    open: Option<Open>,
}

impl<'u> ZipOut<'u> {
    pub fn new(upload: &'u mut dyn Upload) -> Self {
        let out = SharedBuf::default();
        Self {
            zip: ZipWriter::new_stream(out.clone()),
            out,
            upload,
            hasher: Sha256::new(),
            bytes: 0,
            files: Vec::new(),
            open: None,
        }
    }

    /// Start an entry (ending the previous one).
    pub fn start(&mut self, path: &str) -> Result<(), ZipOutError> {
        self.end();
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        self.zip.start_file(path, options)?;
        self.open = Some(Open {
            path: path.to_owned(),
            hasher: Sha256::new(),
            bytes: 0,
        });
        Ok(())
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), ZipOutError> {
        self.zip.write_all(data)?;
        if let Some(open) = &mut self.open {
            open.hasher.update(data);
            open.bytes += data.len() as u64;
        }
        Ok(())
    }

    /// Record the open entry's size and hash.
    pub fn end(&mut self) {
        if let Some(open) = self.open.take() {
            self.files.push(FileEntry {
                path: open.path,
                bytes: open.bytes,
                sha256: hex::encode(open.hasher.finalize()),
            });
        }
    }

    /// Ship waiting output to the upload when enough has accumulated.
    pub async fn pump(&mut self) -> Result<(), ZipOutError> {
        self.drain(DRAIN_AT).await
    }

    async fn drain(&mut self, at_least: usize) -> Result<(), ZipOutError> {
        if let Some(data) = self.out.take_if(at_least) {
            self.hasher.update(&data);
            self.bytes += data.len() as u64;
            self.upload.write(&data).await?;
        }
        Ok(())
    }

    /// A whole small file.
    pub async fn file(&mut self, path: &str, data: &[u8]) -> Result<(), ZipOutError> {
        self.start(path)?;
        self.write(data)?;
        self.end();
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
        self.end();
        let Self {
            zip,
            out,
            upload,
            mut hasher,
            mut bytes,
            ..
        } = self;
        zip.finish()?;
        if let Some(data) = out.take_if(1) {
            hasher.update(&data);
            bytes += data.len() as u64;
            upload.write(&data).await?;
        }
        Ok((bytes, hex::encode(hasher.finalize())))
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
