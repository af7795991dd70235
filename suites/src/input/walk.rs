//! Which inputs to read, and how: files, directories, standard input.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::vec;

use super::http::decode_http_request;
use super::json::{decode_document, parse_json};
use super::model::{InputError, Item, Limits, Location};
use super::ndjson::NdjsonReader;

/// One input to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (named `-` on the command line).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("<stdin>"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// How a file is decoded, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// One JSON document ([`decode_document`]); the default.
    Document,
    /// A stream of lines (`.ndjson`, `.jsonl`): [`NdjsonReader`].
    Ndjson,
    /// An HTTP request capture (`.http`): [`decode_http_request`].
    HttpCapture,
}

impl InputKind {
    /// The kind of the file at `path`, from its extension (any case).
    pub fn for_path(path: &Path) -> Self {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("ndjson" | "jsonl") => InputKind::Ndjson,
            Some("http") => InputKind::HttpCapture,
            _ => InputKind::Document,
        }
    }
}

/// Why a path could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The path or a directory under it cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// More files than [`Limits::max_files`]; the walk stops.
    #[error("more than {limit} files to check; name fewer paths or raise the limit")]
    TooManyFiles {
        /// The limit.
        limit: usize,
    },
}

/// The sources named by `paths`, in order: `-` is standard input, a file is itself, and a
/// directory is every `.json`, `.ndjson`, `.jsonl` and `.http` file under it, recursively,
/// sorted by path, skipping names that start with `.`. Symbolic links are followed, but no
/// directory is entered twice, so link loops end. Files are listed, never read; one
/// directory's names are held at a time per level.
pub fn walk_paths(paths: &[PathBuf], limits: &Limits) -> Walk {
    Walk {
        roots: paths.iter().cloned().collect(),
        stack: Vec::new(),
        visited: HashSet::new(),
        yielded: 0,
        max_files: limits.max_files,
        done: false,
    }
}

/// Iterator of [`walk_paths`].
#[derive(Debug)]
pub struct Walk {
    roots: VecDeque<PathBuf>,
    stack: Vec<vec::IntoIter<PathBuf>>,
    visited: HashSet<PathBuf>,
    yielded: usize,
    max_files: usize,
    done: bool,
}

impl Iterator for Walk {
    type Item = Result<Source, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (path, named) = match self.stack.last_mut() {
                Some(listing) => match listing.next() {
                    Some(path) => (path, false),
                    None => {
                        self.stack.pop();
                        continue;
                    }
                },
                None => (self.roots.pop_front()?, true),
            };
            if named && path.as_os_str() == "-" {
                return Some(self.count(Source::Stdin));
            }
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(source) => return Some(Err(WalkError::Io { path, source })),
            };
            if meta.is_dir() {
                if let Err(source) = self.enter(&path) {
                    return Some(Err(WalkError::Io { path, source }));
                }
            } else if named || (meta.is_file() && is_event_file(&path)) {
                return Some(self.count(Source::File(path)));
            }
        }
        None
    }
}

impl Walk {
    fn count(&mut self, source: Source) -> Result<Source, WalkError> {
        self.yielded += 1;
        if self.yielded > self.max_files {
            self.done = true;
            return Err(WalkError::TooManyFiles {
                limit: self.max_files,
            });
        }
        Ok(source)
    }

    fn enter(&mut self, dir: &Path) -> io::Result<()> {
        if !self.visited.insert(fs::canonicalize(dir)?) {
            return Ok(());
        }
        let mut listing = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_name().to_string_lossy().starts_with('.') {
                listing.push(entry.path());
            }
        }
        listing.sort();
        self.stack.push(listing.into_iter());
        Ok(())
    }
}

fn is_event_file(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(ext.as_deref(), Some("json" | "ndjson" | "jsonl" | "http"))
}

/// The items of one source. Files are decoded by [`InputKind::for_path`]; standard input
/// by [`decode_reader`]. A file that cannot be read yields one [`InputError::Io`] item.
pub fn decode_source(source: &Source, limits: &Limits) -> Box<dyn Iterator<Item = Item>> {
    match source {
        Source::Stdin => decode_reader(io::stdin().lock(), Location::file("<stdin>"), limits),
        Source::File(path) => decode_file(path, limits),
    }
}

/// The items of the file at `path`, decoded by its [`InputKind`]. Only NDJSON is streamed;
/// other files are read whole, up to [`Limits::max_document_bytes`] (checked before reading).
pub fn decode_file(path: &Path, limits: &Limits) -> Box<dyn Iterator<Item = Item>> {
    let location = Location::file(path.display().to_string());
    let fail = |location, err| -> Box<dyn Iterator<Item = Item>> {
        Box::new(std::iter::once(Item::new(location, Err(err))))
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return fail(location, InputError::Io(e)),
    };
    let kind = InputKind::for_path(path);
    if kind == InputKind::Ndjson {
        let reader = BufReader::new(file);
        return Box::new(NdjsonReader::new(reader, location, limits.clone()));
    }
    let too_large = file
        .metadata()
        .is_ok_and(|m| m.len() > limits.max_document_bytes as u64);
    let bytes = if too_large {
        Err(too_large_document(limits))
    } else {
        read_bounded(file, limits)
    };
    let items = match (bytes, kind) {
        (Err(err), _) => vec![Item::new(location, Err(err))],
        (Ok(bytes), InputKind::HttpCapture) => decode_http_request(&bytes, location, limits),
        (Ok(bytes), _) => decode_document(&bytes, location, limits),
    };
    Box::new(items.into_iter())
}

/// The items of a stream of unknown kind, such as standard input. It is NDJSON when its
/// first non-blank line starts with `{` or `[` and is a complete JSON value by itself (then
/// it is streamed); otherwise it is one document (read up to
/// [`Limits::max_document_bytes`]), which may be an HTTP capture.
pub fn decode_reader<R: BufRead + 'static>(
    mut reader: R,
    location: Location,
    limits: &Limits,
) -> Box<dyn Iterator<Item = Item>> {
    let cap = limits.max_event_bytes;
    let mut prefix = Vec::new();
    let mut ndjson = false;
    while prefix.len() <= cap {
        let start = prefix.len();
        let mut line = (&mut reader).take((cap as u64).saturating_add(1));
        match line.read_until(b'\n', &mut prefix) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Box::new(std::iter::once(Item::new(location, Err(e.into())))),
        }
        let line = &prefix[start..];
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let complete = line.len() <= cap;
        ndjson = complete
            && matches!(text.first(), Some(b'{' | b'['))
            && parse_json(text, limits).is_ok();
        break;
    }
    let reader = Cursor::new(prefix).chain(reader);
    if ndjson {
        return Box::new(NdjsonReader::new(reader, location, limits.clone()));
    }
    let items = match read_bounded(reader, limits) {
        Ok(bytes) => decode_document(&bytes, location, limits),
        Err(err) => vec![Item::new(location, Err(err))],
    };
    Box::new(items.into_iter())
}

fn read_bounded(reader: impl Read, limits: &Limits) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take((limits.max_document_bytes as u64).saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > limits.max_document_bytes {
        return Err(too_large_document(limits));
    }
    Ok(bytes)
}

fn too_large_document(limits: &Limits) -> InputError {
    InputError::TooLarge {
        what: "file",
        limit: limits.max_document_bytes,
    }
}
