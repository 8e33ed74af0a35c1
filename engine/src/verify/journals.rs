//! The journals one verification reads: a whole run's, or those of the segments of one
//! run ([`crate::segment`]), each written by its own process. Their headers are checked
//! to be of one run before any entry is read; the union of their entries is what the
//! run wrote. Segments without a journal (a process killed and its journal lost) leave
//! the others checkable: only the documents the given journals wrote are then checked.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::VerifyError;
use crate::journal::{Header, JournalError, Reader, probe};
use crate::segment::Segment;

/// Why journals are not of one run. Each names two of the files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOneRun {
    #[error("journals '{}' and '{}' are not of one run: they wrote to {} and {}", .first.display(), .other.display(), .values.0, .values.1)]
    Namespace { first: PathBuf, other: PathBuf, values: (String, String) },
    #[error("journals '{}' and '{}' are not of one run: their seeds are {} and {}", .first.display(), .other.display(), .values.0, .values.1)]
    Seed { first: PathBuf, other: PathBuf, values: (u64, u64) },
    #[error("journals '{}' and '{}' are not of one run: one records a whole run, the other {segment}", .whole.display(), .split.display())]
    WholeAndSegment { whole: PathBuf, split: PathBuf, segment: Segment },
    #[error("journals '{}' and '{}' are not of one run: they split it into {} and {} segments", .first.display(), .other.display(), .values.0, .values.1)]
    SegmentCount { first: PathBuf, other: PathBuf, values: (u64, u64) },
    #[error("journals '{}' and '{}' are not of one run: their content hashes leave out {} and {}", .first.display(), .other.display(), field(&.values.0), field(&.values.1))]
    ServerTimeField { first: PathBuf, other: PathBuf, values: (Option<String>, Option<String>) },
    #[error("journals '{}' and '{}' both record {}", .first.display(), .other.display(), which(.segment))]
    SameSegment { first: PathBuf, other: PathBuf, segment: Segment },
}

fn field(f: &Option<String>) -> String {
    f.as_ref().map_or("no field".into(), |f| format!("'{f}'"))
}

fn which(s: &Segment) -> String {
    if s.is_whole() { "the whole run".into() } else { s.to_string() }
}

/// A directory that was searched for journals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    pub dir: PathBuf,
    /// Journals found in it.
    pub journals: usize,
    /// Other files, passed over.
    pub others: usize,
}

/// The journals of one run, by segment.
#[derive(Debug)]
pub struct Journals {
    /// In segment order.
    list: Vec<(PathBuf, Header)>,
    searched: Vec<Searched>,
}

impl Journals {
    /// The journals at `paths`: a file is a journal (or an error), a directory holds
    /// journals among other files (the files whose first line is a journal header; not
    /// its subdirectories).
    pub fn find(paths: &[PathBuf]) -> Result<Self, VerifyError> {
        let mut list = Vec::new();
        let mut searched = Vec::new();
        for path in paths {
            if !path.is_dir() {
                let reader =
                    Reader::open(path).map_err(|source| VerifyError::Journal { journal: path.clone(), source })?;
                list.push((path.clone(), reader.header().clone()));
                continue;
            }
            let in_dir = journals_in(path)?;
            let others = in_dir.1;
            if in_dir.0.is_empty() {
                return Err(VerifyError::NoJournalIn { dir: path.clone() });
            }
            searched.push(Searched { dir: path.clone(), journals: in_dir.0.len(), others });
            list.extend(in_dir.0);
        }
        let mut journals = Journals::new(list)?;
        journals.searched = searched;
        Ok(journals)
    }

    /// Journals whose headers were read: refused unless they are of one run, each
    /// segment once.
    pub fn new(list: Vec<(PathBuf, Header)>) -> Result<Self, VerifyError> {
        let Some((first, head)) = list.first() else { return Err(VerifyError::NoJournal) };
        let mut by_segment: BTreeMap<u64, &Path> = BTreeMap::new();
        for (path, h) in &list {
            let pair = || (first.clone(), path.clone());
            if h.namespace != head.namespace {
                let (first, other) = pair();
                return Err(NotOneRun::Namespace {
                    first,
                    other,
                    values: (head.namespace.clone(), h.namespace.clone()),
                }
                .into());
            }
            if h.seed != head.seed {
                let (first, other) = pair();
                return Err(NotOneRun::Seed { first, other, values: (head.seed, h.seed) }.into());
            }
            if h.segment.count != head.segment.count {
                let (first, other) = pair();
                return Err(match (head.segment.is_whole(), h.segment.is_whole()) {
                    (true, _) => NotOneRun::WholeAndSegment { whole: first, split: other, segment: h.segment },
                    (_, true) => NotOneRun::WholeAndSegment { whole: other, split: first, segment: head.segment },
                    _ => NotOneRun::SegmentCount { first, other, values: (head.segment.count, h.segment.count) },
                }
                .into());
            }
            // One run hashes alike everywhere; the comparison leaves out one field for all.
            if h.server_time_field != head.server_time_field {
                let (first, other) = pair();
                let values = (head.server_time_field.clone(), h.server_time_field.clone());
                return Err(NotOneRun::ServerTimeField { first, other, values }.into());
            }
            if let Some(earlier) = by_segment.insert(h.segment.index, path) {
                let (first, other) = (earlier.to_path_buf(), path.clone());
                return Err(NotOneRun::SameSegment { first, other, segment: h.segment }.into());
            }
        }
        let mut list = list;
        list.sort_by_key(|(_, h)| h.segment.index);
        Ok(Journals { list, searched: Vec::new() })
    }

    /// The journals, in segment order.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Header)> {
        self.list.iter().map(|(p, h)| (p.as_path(), h))
    }

    /// How many journals there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Never: there is at least one journal.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first journal's header: namespace, seed and segment count are all journals'.
    pub fn header(&self) -> &Header {
        &self.list[0].1
    }

    /// The directories searched, with what they held.
    pub fn searched(&self) -> &[Searched] {
        &self.searched
    }

    /// How many segments the run was split into (1: not split).
    pub fn segment_count(&self) -> u64 {
        self.header().segment.count
    }

    /// The segments that have a journal here, in order.
    pub fn segments(&self) -> Vec<u64> {
        self.list.iter().map(|(_, h)| h.segment.index).collect()
    }

    /// The segments of the run that have no journal here.
    pub fn missing(&self) -> Vec<u64> {
        let have = self.segments();
        (0..self.segment_count()).filter(|k| !have.contains(k)).collect()
    }

    /// Whether the collection held documents before the run: every journal says its
    /// collection held documents when it started. One that found it empty proves that
    /// no document from before the run is left (segments delete only the documents they
    /// wrote or own, so one from before would have been there); the others may have
    /// seen the documents of segments that started before them.
    pub fn preexisting(&self) -> bool {
        self.list.iter().all(|(_, h)| h.preexisting)
    }

    /// Where a change stream that sees every journal's writes starts: the earliest
    /// start of the journals; the error names a journal that has none.
    pub fn start_operation_time(&self) -> Result<(u32, u32), &Path> {
        self.list
            .iter()
            .map(|(p, h)| h.start_operation_time.ok_or(p.as_path()))
            .try_fold((u32::MAX, u32::MAX), |min, t| t.map(|t| min.min(t)))
    }
}

/// The journals in `dir`, in file-name order, and how many other files it holds.
fn journals_in(dir: &Path) -> Result<(Vec<(PathBuf, Header)>, usize), VerifyError> {
    let listing = |source| VerifyError::Directory { dir: dir.to_path_buf(), source };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(listing)? {
        let path = entry.map_err(listing)?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut journals = Vec::new();
    let mut others = 0;
    for path in files {
        match probe(&path) {
            Ok(Some(header)) => journals.push((path, header)),
            Ok(None) => others += 1,
            Err(source @ (JournalError::Version(_) | JournalError::Io(_))) => {
                return Err(VerifyError::Journal { journal: path, source });
            }
            Err(_) => others += 1,
        }
    }
    Ok((journals, others))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(segment: (u64, u64)) -> Header {
        Header {
            forge_journal: crate::journal::VERSION,
            namespace: "db.c".into(),
            seed: 7,
            started_at: String::new(),
            server_time_field: None,
            start_operation_time: Some((100, 1)),
            preexisting: false,
            segment: Segment::new(segment.0, segment.1).unwrap(),
            schema_versions: Vec::new(),
            documents: false,
        }
    }

    fn named(name: &str, header: Header) -> (PathBuf, Header) {
        (PathBuf::from(name), header)
    }

    fn refusal(list: Vec<(PathBuf, Header)>) -> String {
        match Journals::new(list) {
            Err(VerifyError::NotOneRun(e)) => e.to_string(),
            other => panic!("not refused as of several runs: {other:?}"),
        }
    }

    #[test]
    fn segments_of_one_run_come_in_segment_order_and_the_absent_ones_are_named() {
        let list = vec![named("c", header((2, 4))), named("a", header((0, 4))), named("b", header((3, 4)))];
        let journals = Journals::new(list).unwrap();
        assert_eq!(journals.iter().map(|(p, _)| p.to_str().unwrap()).collect::<Vec<_>>(), ["a", "c", "b"]);
        assert_eq!((journals.segment_count(), journals.segments(), journals.missing()), (4, vec![0, 2, 3], vec![1]));
        let whole = Journals::new(vec![named("w", header((0, 1)))]).unwrap();
        assert_eq!((whole.segment_count(), whole.missing()), (1, vec![]));
    }

    #[test]
    fn journals_of_different_runs_are_refused_naming_both_files() {
        let other = |f: fn(&mut Header)| {
            let mut h = header((1, 3));
            f(&mut h);
            vec![named("a.jsonl", header((0, 3))), named("b.jsonl", h)]
        };
        assert_eq!(
            refusal(other(|h| h.namespace = "db.d".into())),
            "journals 'a.jsonl' and 'b.jsonl' are not of one run: they wrote to db.c and db.d"
        );
        assert_eq!(
            refusal(other(|h| h.seed = 8)),
            "journals 'a.jsonl' and 'b.jsonl' are not of one run: their seeds are 7 and 8"
        );
        assert_eq!(
            refusal(other(|h| h.segment = Segment::new(1, 4).unwrap())),
            "journals 'a.jsonl' and 'b.jsonl' are not of one run: they split it into 3 and 4 segments"
        );
        assert_eq!(
            refusal(other(|h| h.server_time_field = Some("deletedAt".into()))),
            "journals 'a.jsonl' and 'b.jsonl' are not of one run: their content hashes leave out no field and 'deletedAt'"
        );
        assert_eq!(
            refusal(other(|h| h.segment = Segment::new(0, 3).unwrap())),
            "journals 'a.jsonl' and 'b.jsonl' both record segment 0 of 3"
        );
    }

    #[test]
    fn a_whole_run_mixed_with_segments_is_refused_either_way_round() {
        let says = "journals 'w' and 's' are not of one run: one records a whole run, the other segment 2 of 3";
        assert_eq!(refusal(vec![named("w", header((0, 1))), named("s", header((2, 3)))]), says);
        let says_too = "journals 'w' and 's' are not of one run: one records a whole run, the other segment 0 of 3";
        assert_eq!(refusal(vec![named("s", header((0, 3))), named("w", header((0, 1)))]), says_too);
        assert_eq!(
            refusal(vec![named("w", header((0, 1))), named("v", header((0, 1)))]),
            "journals 'w' and 'v' both record the whole run"
        );
    }

    #[test]
    fn the_same_segment_twice_names_its_first_journal_not_the_run_s_first() {
        let list = vec![named("a", header((0, 3))), named("b", header((2, 3))), named("c", header((2, 3)))];
        assert_eq!(refusal(list), "journals 'b' and 'c' both record segment 2 of 3");
        assert!(matches!(Journals::new(vec![]), Err(VerifyError::NoJournal)));
    }

    #[test]
    fn the_stream_starts_at_the_earliest_start_and_needs_every_start() {
        let at = |k, t: Option<(u32, u32)>| {
            let mut h = header((k, 3));
            h.start_operation_time = t;
            named(&format!("s{k}"), h)
        };
        let journals = Journals::new(vec![at(0, Some((100, 9))), at(1, Some((99, 20))), at(2, Some((99, 3)))]);
        assert_eq!(journals.unwrap().start_operation_time(), Ok((99, 3)));
        let journals = Journals::new(vec![at(0, Some((100, 9))), at(1, None)]).unwrap();
        assert_eq!(journals.start_operation_time(), Err(Path::new("s1")));
    }

    #[test]
    fn the_collection_held_documents_before_the_run_only_if_no_journal_found_it_empty() {
        let with = |k: u64, preexisting| named(&k.to_string(), Header { preexisting, ..header((k, 3)) });
        assert!(!Journals::new(vec![with(0, false), with(1, true), with(2, true)]).unwrap().preexisting());
        assert!(Journals::new(vec![with(0, true), with(2, true)]).unwrap().preexisting());
    }

    #[test]
    fn a_directory_yields_its_journals_and_passes_over_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let line = |h: &Header| serde_json::to_string(h).unwrap() + "\n";
        std::fs::write(dir.path().join("s1.jsonl"), line(&header((1, 3)))).unwrap();
        std::fs::write(dir.path().join("s0.jsonl"), line(&header((0, 3)))).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a journal\n").unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/s2.jsonl"), line(&header((2, 3)))).unwrap();
        let journals = Journals::find(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!((journals.segments(), journals.missing()), (vec![0, 1], vec![2]));
        assert_eq!(journals.searched(), [Searched { dir: dir.path().to_path_buf(), journals: 2, others: 2 }]);

        // Files and directories together: the subdirectory's journal completes the run.
        let journals = Journals::find(&[dir.path().join("sub/s2.jsonl"), dir.path().to_path_buf()]).unwrap();
        assert_eq!((journals.segments(), journals.missing()), (vec![0, 1, 2], vec![]));

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(Journals::find(&[empty.path().to_path_buf()]), Err(VerifyError::NoJournalIn { .. })));
        let named_file = Journals::find(&[dir.path().join("notes.txt")]).unwrap_err();
        assert!(matches!(named_file, VerifyError::Journal { source: JournalError::NotAJournal(_), .. }));
    }
}
