//! Marker-driven paging, shared by every listing (ListObjects,
//! ListObjectVersions, ListParts, ListMultipartUploads): a guard that
//! refuses a server whose markers never end the listing, and the stream of
//! pages the two `*_stream` listings are built on.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;

use futures_util::Stream;

use super::Error;

/// Guards a marker-driven listing against a server that never ends it: every
/// next marker must be one not seen before in this listing (a cycle of any
/// length is caught, not only a repeat of the previous marker), and the
/// listing stops after `max_pages` pages. Either ends in a protocol error
/// naming the operation and the marker.
///
/// A marker is whatever identifies the next page: a key or part number
/// (`String`), or a pair such as ListObjectVersions' key and version id.
pub(crate) struct Markers<M = String> {
    operation: &'static str,
    seen: HashSet<M>,
    pages: u64,
    max_pages: u64,
    /// How a marker reads in an error ("marker \"k\"").
    describe: fn(&M) -> String,
}

impl<M: Eq + Hash> Markers<M> {
    /// A listing called `operation` that may take up to `max_pages` pages;
    /// `start` is the marker of the first page, if any, and counts as seen.
    pub(crate) fn with(
        operation: &'static str,
        max_pages: u64,
        start: Option<M>,
        describe: fn(&M) -> String,
    ) -> Self {
        Markers {
            operation,
            seen: start.into_iter().collect(),
            pages: 1,
            max_pages,
            describe,
        }
    }

    /// Accepts `next` as the marker of the following page, or refuses it.
    pub(crate) fn advance(&mut self, next: M) -> Result<(), Error> {
        let op = self.operation;
        if self.pages >= self.max_pages {
            return Err(Error::protocol(format!(
                "{op} is still truncated after {} pages (next {}); giving up",
                self.pages,
                (self.describe)(&next)
            )));
        }
        if self.seen.contains(&next) {
            return Err(Error::protocol(format!(
                "{op} sent {} a second time: the listing would never end",
                (self.describe)(&next)
            )));
        }
        self.seen.insert(next);
        self.pages += 1;
        Ok(())
    }
}

impl Markers<String> {
    /// [`with`](Self::with) for a listing whose marker is one string.
    pub(crate) fn new(operation: &'static str, max_pages: u64, start: Option<&str>) -> Self {
        Markers::with(operation, max_pages, start.map(str::to_string), |m| {
            format!("marker {m:?}")
        })
    }

    /// Accepts the next marker a truncated page gave; none (or an empty
    /// one) is an error.
    pub(crate) fn next(&mut self, next: Option<&str>) -> Result<(), Error> {
        match next {
            Some(m) if !m.is_empty() => self.advance(m.to_string()),
            _ => Err(no_next_marker(self.operation)),
        }
    }
}

/// The error of a page that says it is truncated but names no next marker.
pub(crate) fn no_next_marker(operation: &str) -> Error {
    Error::protocol(format!(
        "{operation} says the listing is truncated but gives no next marker"
    ))
}

/// What a listing's `follow` step says after a page: the options of the
/// next page and the marker that leads there, `None` after the last page.
pub(crate) type NextPage<O, M> = Result<Option<(O, M)>, Error>;

/// Every page of a listing, fetched one after another as the stream is
/// polled, so memory holds one page (plus the markers seen so far).
///
/// `fetch(&opts)` reads the page `opts` asks for. `follow(opts, &page)`
/// gives the options of the page after it with the marker that leads there,
/// `None` when `page` is the last, or an error when `page` says it is
/// truncated but names no next marker. The stream ends after the last page,
/// or with the first error: `fetch`'s, `follow`'s, or `markers` refusing a
/// marker (then the page that gave it is not yielded).
pub(crate) fn pages<O, P, M, F, Fut>(
    first: O,
    markers: Markers<M>,
    fetch: F,
    follow: fn(O, &P) -> NextPage<O, M>,
) -> impl Stream<Item = Result<P, Error>> + Send + 'static
where
    O: Send + 'static,
    P: Send + 'static,
    M: Eq + Hash + Send + 'static,
    F: Fn(&O) -> Fut + Send + 'static,
    Fut: Future<Output = Result<P, Error>> + Send + 'static,
{
    enum State<O, M> {
        Next(O, Markers<M>),
        Done,
    }
    futures_util::stream::unfold(State::Next(first, markers), move |state| {
        let step = match state {
            State::Next(opts, markers) => {
                let page = fetch(&opts);
                Some((opts, markers, page))
            }
            State::Done => None,
        };
        async move {
            let (opts, mut markers, page) = step?;
            let page = match page.await {
                Ok(page) => page,
                Err(e) => return Some((Err(e), State::Done)),
            };
            let next = follow(opts, &page).and_then(|next| match next {
                None => Ok(None),
                Some((opts, marker)) => markers.advance(marker).map(|()| Some(opts)),
            });
            match next {
                Err(e) => Some((Err(e), State::Done)),
                Ok(None) => Some((Ok(page), State::Done)),
                Ok(Some(opts)) => Some((Ok(page), State::Next(opts, markers))),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn markers_refuse_any_repeat_and_too_many_pages() {
        let mut m = Markers::new("ListParts", 100, None);
        m.next(Some("1")).unwrap();
        m.next(Some("2")).unwrap();
        let e = m.next(Some("1")).unwrap_err();
        assert!(
            e.to_string()
                .contains("ListParts sent marker \"1\" a second time"),
            "{e}"
        );
        let mut m = Markers::new("ListObjects", 100, Some("a"));
        assert!(
            m.next(Some("a")).is_err(),
            "the starting marker counts as seen"
        );
        assert!(m.next(None).is_err() && m.next(Some("")).is_err());
        let mut m = Markers::new("ListObjects", 3, None);
        m.next(Some("a")).unwrap();
        m.next(Some("b")).unwrap();
        let e = m.next(Some("c")).unwrap_err();
        assert!(
            e.to_string().contains("after 3 pages (next marker \"c\")"),
            "{e}"
        );
    }

    /// Pages are numbers; page `n` leads to `links[n]` (`None`: the last).
    fn follow_links(links: Vec<Option<u32>>) -> impl Stream<Item = Result<u32, Error>> {
        let links = std::sync::Arc::new(links);
        let fetch = move |n: &(u32, std::sync::Arc<Vec<Option<u32>>>)| {
            let n = n.0;
            async move { Ok(n) }
        };
        pages(
            (0, links),
            Markers::with("Test", 100, None, |m: &u32| format!("page {m}")),
            fetch,
            |(n, links), _page| {
                Ok(links
                    .get(n as usize)
                    .copied()
                    .flatten()
                    .map(|next| ((next, links.clone()), next)))
            },
        )
    }

    #[tokio::test]
    async fn the_stream_follows_markers_and_stops_at_a_cycle() {
        let all: Vec<_> = follow_links(vec![Some(1), Some(2), None]).collect().await;
        let all: Vec<u32> = all.into_iter().map(Result::unwrap).collect();
        assert_eq!(all, [0, 1, 2]);
        // 0 → 1 → 2 → 1: the page that repeats a marker is not yielded.
        let cyc: Vec<_> = follow_links(vec![Some(1), Some(2), Some(1)])
            .collect()
            .await;
        assert_eq!(cyc.len(), 3, "{cyc:?}");
        assert_eq!(*cyc[0].as_ref().unwrap(), 0);
        assert_eq!(*cyc[1].as_ref().unwrap(), 1);
        let e = cyc[2].as_ref().unwrap_err().to_string();
        assert!(e.contains("Test sent page 1 a second time"), "{e}");
    }
}
