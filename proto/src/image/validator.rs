//! Order and consistency checks over a whole image: [`ImageValidator`]
//! takes the header and each section's summary and refuses what is out
//! of order or disagrees; [`ImageSummary`] is what it saw.

use super::body_mm::{check_page_run, pages_end};
use super::codec::is_page_aligned;
use super::consts::*;
use super::error::ImageError;
use super::header::*;
use super::section::*;

/// Where an [`ImageValidator`] is in the section order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing seen: expects Process.
    Start,
    /// After Process: expects Parent (incremental) or Signals.
    Process,
    /// After Parent: expects Signals.
    Parent,
    /// After Signals: expects Mm.
    Signals,
    /// After Mm: Vmas, then Threads.
    Vmas,
    /// After the first Thread.
    Threads,
    /// After the first File.
    Files,
    /// After the first Pages.
    Pages,
    /// After End: nothing more.
    Ended,
}

/// What a complete image held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageSummary {
    /// [`ImageHeader::image_id`].
    pub image_id: u64,
    /// [`ImageHeader::parent_id`] (0 unless incremental).
    pub parent_id: u64,
    /// Sections before End.
    pub sections: u32,
    /// Thread sections.
    pub threads: u32,
    /// Vma sections.
    pub vmas: u32,
    /// File sections.
    pub files: u32,
    /// Pages sections.
    pub page_runs: u32,
    /// Pages in all Pages sections.
    pub total_pages: u64,
}

/// Checks the order and consistency of an image's sections, with counters
/// only (no allocation): feed it each section's index and summary with
/// [`ImageValidator::accept`], then call [`ImageValidator::finish`].
///
/// Rules: Process first (its pid and uid equal the header's); Parent next
/// iff the image is incremental (its id equals the header's `parent_id`);
/// Signals; Mm; exactly `nr_vmas` Vmas, in increasing address order, not
/// overlapping; exactly `nr_threads` Threads with indices 0, 1, 2, ...;
/// any Files with strictly increasing descriptors; any Pages runs in
/// increasing address order, not overlapping; End, whose counts must match,
/// last. Indices count 0, 1, 2, ... across all sections.
///
/// That each page run lies inside a VMA is not checked here (the validator
/// does not keep the VMAs): the restarting kernel checks it against the
/// VMAs it has rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageValidator {
    incremental: bool,
    image_id: u64,
    parent_id: u64,
    pid: u32,
    uid: u32,
    stage: Stage,
    next_index: u32,
    threads_expected: u32,
    threads_seen: u32,
    vmas_expected: u32,
    vmas_seen: u32,
    /// End of the last VMA seen.
    vma_end: Option<u64>,
    /// Last descriptor seen.
    last_fd: Option<u32>,
    files_seen: u32,
    /// End of the last page run seen.
    pages_end: Option<u64>,
    page_runs: u32,
    total_pages: u64,
}

impl ImageValidator {
    /// A validator for the sections of the image with header `header`.
    pub fn new(header: &ImageHeader) -> ImageValidator {
        ImageValidator {
            incremental: header.is_incremental(),
            image_id: header.image_id,
            parent_id: header.parent_id,
            pid: header.pid,
            uid: header.uid,
            stage: Stage::Start,
            next_index: 0,
            threads_expected: 0,
            threads_seen: 0,
            vmas_expected: 0,
            vmas_seen: 0,
            vma_end: None,
            last_fd: None,
            files_seen: 0,
            pages_end: None,
            page_runs: 0,
            total_pages: 0,
        }
    }

    /// The index the next section must have (also the number of sections
    /// accepted so far).
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    /// Pages accepted so far.
    pub fn total_pages(&self) -> u64 {
        self.total_pages
    }

    /// Whether End has been accepted (nothing may follow).
    pub fn is_complete(&self) -> bool {
        self.stage == Stage::Ended
    }

    /// Whether a section of `kind` may come next.
    fn kind_allowed(&self, kind: SectionKind) -> Result<(), ImageError> {
        use SectionKind as K;
        let threads_done = self.threads_seen >= self.threads_expected;
        let ok = match self.stage {
            Stage::Ended => return Err(ImageError::DataAfterEnd),
            Stage::Start => kind == K::Process,
            Stage::Process => {
                kind == if self.incremental {
                    K::Parent
                } else {
                    K::Signals
                }
            }
            Stage::Parent => kind == K::Signals,
            Stage::Signals => kind == K::Mm,
            Stage::Vmas if self.vmas_seen < self.vmas_expected => kind == K::Vma,
            Stage::Vmas => kind == K::Thread,
            Stage::Threads if !threads_done => kind == K::Thread,
            Stage::Threads | Stage::Files => matches!(kind, K::File | K::Pages | K::End),
            Stage::Pages => matches!(kind, K::Pages | K::End),
        };
        if ok {
            Ok(())
        } else {
            Err(ImageError::SectionOutOfOrder)
        }
    }

    /// Whether a section with this index and kind may come next: what can
    /// be checked from its header alone, before its body is read.
    pub fn check_next(&self, index: u32, kind: SectionKind) -> Result<(), ImageError> {
        if self.stage == Stage::Ended {
            return Err(ImageError::DataAfterEnd);
        }
        if index != self.next_index {
            return Err(ImageError::SectionIndexMismatch {
                expected: self.next_index,
                found: index,
            });
        }
        self.kind_allowed(kind)
    }

    /// Accepts section `index` with summary `s`, or says why it may not
    /// come here. On error the validator is unchanged.
    pub fn accept(&mut self, index: u32, s: &SectionSummary) -> Result<(), ImageError> {
        self.check_next(index, s.kind())?;
        let mut next = *self;
        next.apply(s)?;
        next.next_index = self
            .next_index
            .checked_add(1)
            .ok_or(ImageError::CountTooLarge)?;
        *self = next;
        Ok(())
    }

    /// Applies a section already known to be allowed here.
    fn apply(&mut self, s: &SectionSummary) -> Result<(), ImageError> {
        match *s {
            SectionSummary::Process {
                pid,
                uid,
                nr_threads,
            } => {
                if pid != self.pid || uid != self.uid {
                    return Err(ImageError::HeaderMismatch);
                }
                if nr_threads == 0 || nr_threads > MAX_THREADS {
                    return Err(ImageError::InvalidValue);
                }
                self.threads_expected = nr_threads;
                self.stage = Stage::Process;
            }
            SectionSummary::Parent { parent_id } => {
                if parent_id != self.parent_id {
                    return Err(ImageError::HeaderMismatch);
                }
                self.stage = Stage::Parent;
            }
            SectionSummary::Signals => self.stage = Stage::Signals,
            SectionSummary::Mm { nr_vmas } => {
                if nr_vmas > MAX_VMAS {
                    return Err(ImageError::CountTooLarge);
                }
                self.vmas_expected = nr_vmas;
                self.stage = Stage::Vmas;
            }
            SectionSummary::Vma { start, end } => {
                if start >= end || !is_page_aligned(start) || !is_page_aligned(end) {
                    return Err(ImageError::InvalidRange);
                }
                if self.vma_end.is_some_and(|prev| start < prev) {
                    return Err(ImageError::VmaOverlap);
                }
                self.vma_end = Some(end);
                self.vmas_seen = self.vmas_seen.saturating_add(1);
            }
            SectionSummary::Thread { index } => {
                if index != self.threads_seen {
                    return Err(ImageError::ThreadOutOfOrder);
                }
                self.threads_seen = self.threads_seen.saturating_add(1);
                self.stage = Stage::Threads;
            }
            SectionSummary::File { fd } => {
                if fd >= MAX_FDS {
                    return Err(ImageError::InvalidValue);
                }
                if self.last_fd.is_some_and(|prev| fd <= prev) {
                    return Err(ImageError::FdNotIncreasing);
                }
                self.last_fd = Some(fd);
                self.files_seen = self.files_seen.saturating_add(1);
                self.stage = Stage::Files;
            }
            SectionSummary::Pages { start, npages } => {
                check_page_run(start, npages)?;
                let end = pages_end(start, npages).ok_or(ImageError::InvalidRange)?;
                if self.pages_end.is_some_and(|prev| start < prev) {
                    return Err(ImageError::PagesOverlap);
                }
                self.pages_end = Some(end);
                self.page_runs = self.page_runs.saturating_add(1);
                self.total_pages = self
                    .total_pages
                    .checked_add(u64::from(npages))
                    .ok_or(ImageError::CountTooLarge)?;
                self.stage = Stage::Pages;
            }
            SectionSummary::End {
                section_count,
                total_pages,
            } => {
                if section_count != self.next_index || total_pages != self.total_pages {
                    return Err(ImageError::EndMismatch);
                }
                self.stage = Stage::Ended;
            }
        }
        Ok(())
    }

    /// Checks that the image is complete (its End was accepted), and says
    /// what it held. [`ImageError::Truncated`] if End is missing.
    pub fn finish(&self) -> Result<ImageSummary, ImageError> {
        if self.stage != Stage::Ended {
            return Err(ImageError::Truncated);
        }
        Ok(ImageSummary {
            image_id: self.image_id,
            parent_id: self.parent_id,
            // End's own index is the number of sections before it.
            sections: self.next_index.saturating_sub(1),
            threads: self.threads_seen,
            vmas: self.vmas_seen,
            files: self.files_seen,
            page_runs: self.page_runs,
            total_pages: self.total_pages,
        })
    }
}
