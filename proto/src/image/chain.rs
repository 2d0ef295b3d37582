//! The memory of a chain of incremental images, as one image's.
//!
//! An incremental image holds the pages dirtied since its parent (see
//! "Incremental images" in docs/image-format.md); restoring the newest
//! image of a chain takes every page from the newest image that has it,
//! and only pages inside the newest image's VMAs. [`merge_pages`] walks the
//! page runs of every image of the chain at once and says, in increasing
//! address order, which image each piece of memory comes from, in pieces
//! of at most [`MAX_PAGES_PER_SECTION`] pages that each lie in one run of
//! one image and in one VMA: the Pages sections of the equivalent full
//! image. Allocation-free: the caller's runs and VMAs, a fixed cursor per
//! image.

use super::consts::{MAX_PAGES_PER_SECTION, PAGE_SIZE};

/// The longest chain (a full image and its increments) [`merge_pages`]
/// takes.
pub const MAX_CHAIN: usize = 16;

const PAGE: u64 = PAGE_SIZE as u64;

/// A run of pages of one image: `npages` pages from `start`, whose data
/// begins at byte `at` of that image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRun {
    /// Address of the first page (page-aligned).
    pub start: u64,
    /// Pages (at least 1).
    pub npages: u32,
    /// Where its data begins in its image file.
    pub at: u64,
}

impl PageRun {
    fn end(&self) -> u64 {
        self.start + u64::from(self.npages) * PAGE
    }
}

/// A piece of the merged memory: `npages` pages from `start`, taken from
/// image `image` (an index into the chain given, 0 the newest) at byte
/// `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Which image of the chain (0: the newest).
    pub image: usize,
    /// Address of the first page.
    pub start: u64,
    /// Pages (1..=[`MAX_PAGES_PER_SECTION`]).
    pub npages: u32,
    /// Where its data begins in that image's file.
    pub at: u64,
}

/// Why a chain's memory cannot be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainError {
    /// More than [`MAX_CHAIN`] images, or none.
    BadLength,
    /// An image's runs are not page-aligned, empty, sorted and apart, or
    /// the VMAs are not page-aligned, sorted and apart.
    BadRuns,
}

fn runs_ok(runs: &[PageRun]) -> bool {
    let mut prev_end = 0u64;
    for r in runs {
        if r.npages == 0 || r.start % PAGE != 0 || r.start < prev_end {
            return false;
        }
        match r.start.checked_add(u64::from(r.npages) * PAGE) {
            Some(e) => prev_end = e,
            None => return false,
        }
    }
    true
}

fn vmas_ok(vmas: &[(u64, u64)]) -> bool {
    let mut prev_end = 0u64;
    vmas.iter().all(|&(s, e)| {
        let ok = s % PAGE == 0 && e % PAGE == 0 && s < e && s >= prev_end;
        prev_end = e;
        ok
    })
}

/// Calls `emit` for every piece of the merged memory of `images` (the
/// chain's page runs, newest first, each sorted) within `vmas` (the
/// newest image's mappings, sorted), in increasing address order. Stops
/// at `emit`'s first error.
pub fn merge_pages<E>(
    images: &[&[PageRun]],
    vmas: &[(u64, u64)],
    mut emit: impl FnMut(Piece) -> Result<(), E>,
) -> Result<Result<(), E>, ChainError> {
    if images.is_empty() || images.len() > MAX_CHAIN {
        return Err(ChainError::BadLength);
    }
    if !images.iter().all(|r| runs_ok(r)) || !vmas_ok(vmas) {
        return Err(ChainError::BadRuns);
    }
    // Per image: the first run that may still matter (ends after `addr`).
    let mut cursor = [0usize; MAX_CHAIN];
    let mut v = 0usize;
    let mut addr = 0u64;
    loop {
        // The VMA holding or after `addr`.
        while v < vmas.len() && vmas[v].1 <= addr {
            v += 1;
        }
        let Some(&(vstart, vend)) = vmas.get(v) else {
            return Ok(Ok(()));
        };
        addr = addr.max(vstart);
        for (i, runs) in images.iter().enumerate() {
            while cursor[i] < runs.len() && runs[cursor[i]].end() <= addr {
                cursor[i] += 1;
            }
        }
        // The newest image with a run at `addr`, and where the next newer
        // run starts (it takes over there).
        let mut owner = None;
        let mut limit = vend;
        for (i, runs) in images.iter().enumerate() {
            let Some(r) = runs.get(cursor[i]) else {
                continue;
            };
            if r.start <= addr {
                owner = Some((i, *r));
                limit = limit.min(r.end());
                break;
            }
            limit = limit.min(r.start);
        }
        match owner {
            None => {
                // No image has `addr`: on to the next run start (or VMA).
                let next = images
                    .iter()
                    .enumerate()
                    .filter_map(|(i, runs)| runs.get(cursor[i]).map(|r| r.start))
                    .min();
                match next {
                    Some(n) if n < vend => addr = n,
                    Some(_) => addr = vend,
                    None => return Ok(Ok(())),
                }
            }
            Some((image, run)) => {
                let npages = ((limit - addr) / PAGE).min(u64::from(MAX_PAGES_PER_SECTION)) as u32;
                let at = run.at + (addr - run.start);
                if let Err(e) = emit(Piece {
                    image,
                    start: addr,
                    npages,
                    at,
                }) {
                    return Ok(Err(e));
                }
                addr += u64::from(npages) * PAGE;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const P: u64 = PAGE;

    fn run(first_page: u64, npages: u32, at: u64) -> PageRun {
        PageRun {
            start: first_page * P,
            npages,
            at,
        }
    }

    fn merged(images: &[&[PageRun]], vmas: &[(u64, u64)]) -> Vec<Piece> {
        let mut out = Vec::new();
        merge_pages(images, vmas, |p| {
            out.push(p);
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        out
    }

    #[test]
    fn newest_wins_and_outside_vmas_is_dropped() {
        // Full image: pages 0..10 at offset 1000; increment: pages 3..5
        // at offset 50; VMAs now: pages 0..8 only.
        let full = [run(0, 10, 1000)];
        let inc = [run(3, 2, 50)];
        let pieces = merged(&[&inc, &full], &[(0, 8 * P)]);
        assert_eq!(
            pieces,
            [
                Piece {
                    image: 1,
                    start: 0,
                    npages: 3,
                    at: 1000
                },
                Piece {
                    image: 0,
                    start: 3 * P,
                    npages: 2,
                    at: 50
                },
                Piece {
                    image: 1,
                    start: 5 * P,
                    npages: 3,
                    at: 1000 + 5 * P
                },
            ]
        );
    }

    #[test]
    fn long_runs_are_cut_to_sections() {
        let full = [run(0, 600, 0)];
        let pieces = merged(&[&full], &[(0, 600 * P)]);
        assert_eq!(
            pieces.iter().map(|p| p.npages).collect::<Vec<_>>(),
            [256, 256, 88]
        );
        assert_eq!(pieces[1].at, 256 * P);
    }

    #[test]
    fn bad_input_is_refused() {
        let bad = [run(5, 1, 0), run(4, 1, 0)];
        assert_eq!(
            merge_pages(&[&bad], &[], |_| Ok::<(), ()>(())),
            Err(ChainError::BadRuns)
        );
        assert_eq!(
            merge_pages(&[], &[], |_| Ok::<(), ()>(())),
            Err(ChainError::BadLength)
        );
        let ok = [run(0, 1, 0)];
        assert_eq!(
            merge_pages(&[&ok], &[(0, 3)], |_| Ok::<(), ()>(())),
            Err(ChainError::BadRuns)
        );
    }

    /// Runs of one image from a list of (gap, length) in pages.
    fn runs_from(spec: &[(u64, u32)], image: usize) -> Vec<PageRun> {
        let mut page = 0;
        let mut out = Vec::new();
        for &(gap, len) in spec {
            page += gap;
            out.push(PageRun {
                start: page * P,
                npages: len,
                at: ((image as u64) << 40) | (page * P),
            });
            page += u64::from(len);
        }
        out
    }

    proptest! {
        /// Against a page-by-page model: every page inside a VMA that some
        /// image has comes from the newest image that has it, exactly
        /// once, in increasing order, in pieces of at most 256 pages that
        /// stay in one run and one VMA.
        #[test]
        fn matches_a_page_by_page_model(
            specs in proptest::collection::vec(proptest::collection::vec((0u64..20, 1u32..300), 0..6), 1..5),
            vspec in proptest::collection::vec((0u64..30, 1u64..400), 0..5),
        ) {
            let images: Vec<Vec<PageRun>> = specs.iter().enumerate().map(|(i, s)| runs_from(s, i)).collect();
            let refs: Vec<&[PageRun]> = images.iter().map(|v| v.as_slice()).collect();
            let mut vmas = Vec::new();
            let mut page = 0;
            for &(gap, len) in &vspec {
                page += gap;
                vmas.push((page * P, (page + len) * P));
                page += len;
            }
            let pieces = merged(&refs, &vmas);
            // The model: for each page, the source (image, data offset).
            let source = |pg: u64| -> Option<(usize, u64)> {
                let a = pg * P;
                if !vmas.iter().any(|&(s, e)| s <= a && a < e) {
                    return None;
                }
                images.iter().enumerate().find_map(|(i, runs)| {
                    runs.iter().find(|r| r.start <= a && a < r.end()).map(|r| (i, r.at + (a - r.start)))
                })
            };
            let mut got = Vec::new();
            let mut last_end = 0;
            for p in &pieces {
                prop_assert!(p.npages >= 1 && p.npages <= 256);
                prop_assert!(p.start >= last_end);
                last_end = p.start + u64::from(p.npages) * P;
                prop_assert!(vmas.iter().any(|&(s, e)| s <= p.start && last_end <= e));
                for k in 0..u64::from(p.npages) {
                    got.push((p.start / P + k, (p.image, p.at + k * P)));
                }
            }
            let max_page = images.iter().flatten().map(|r| r.end() / P).max().unwrap_or(0);
            let want: Vec<(u64, (usize, u64))> = (0..max_page).filter_map(|pg| source(pg).map(|s| (pg, s))).collect();
            prop_assert_eq!(got, want);
        }
    }
}
