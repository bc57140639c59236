//! The querier over the whole database: the blocks overlapping the range,
//! then the head, merged series by series. Blocks and head hold disjoint
//! time ranges (the head refuses samples older than the newest block), so
//! merging is concatenation in time order, with equal timestamps dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::block::Block;
use crate::db::Db;
use crate::head::HeadQuerier;
use crate::labels::{Labels, Matcher};
use crate::read::{Querier, ReadError, Sample, Series, VecIterator};

pub(crate) struct DbQuerier<'a> {
    head: HeadQuerier<'a>,
    blocks: Vec<Arc<Block>>,
    mint: i64,
    maxt: i64,
}

fn block_err(e: crate::Error) -> ReadError {
    ReadError::Corruption {
        what: "block".into(),
        detail: e.to_string(),
    }
}

impl<'a> DbQuerier<'a> {
    pub(crate) fn new(db: &'a Db, mint: i64, maxt: i64) -> Self {
        let blocks = db
            .blocks
            .read()
            .iter()
            .filter(|b| b.meta().min_time <= maxt && b.meta().max_time > mint)
            .cloned()
            .collect();
        DbQuerier {
            head: HeadQuerier {
                head: &db.head,
                mint,
                maxt,
            },
            blocks,
            mint,
            maxt,
        }
    }

    /// Appends `more` (in time order) after `into`, dropping samples not
    /// newer than what is there.
    fn extend(into: &mut Vec<Sample>, more: impl Iterator<Item = Sample>) {
        for s in more {
            if into.last().is_none_or(|l| s.0 > l.0) {
                into.push(s);
            }
        }
    }

    fn union(
        &self,
        mut f: impl FnMut(&dyn Querier, Option<&Block>) -> Result<Vec<String>, ReadError>,
    ) -> Result<Vec<String>, ReadError> {
        let mut all = f(&self.head, None)?;
        for b in &self.blocks {
            all.extend(f(&self.head, Some(b))?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}

impl Querier for DbQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        if self.blocks.is_empty() {
            return self.head.select(matchers);
        }
        let mut merged: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for b in &self.blocks {
            for (labels, chunks) in b
                .select(matchers, self.mint, self.maxt)
                .map_err(block_err)?
            {
                let into = merged.entry(labels).or_default();
                for c in chunks {
                    Self::extend(
                        into,
                        c.iter().filter(|(t, _)| *t >= self.mint && *t <= self.maxt),
                    );
                }
            }
        }
        for mut s in self.head.select(matchers)? {
            let into = merged.entry(s.labels).or_default();
            Self::extend(into, std::iter::from_fn(|| s.samples.next()));
        }
        Ok(merged
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(labels, v)| Series {
                labels,
                samples: Box::new(VecIterator::new(v)),
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.union(|head, b| match b {
            None => head.label_names(matchers),
            Some(b) => b.label_names(matchers).map_err(block_err),
        })
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.union(|head, b| match b {
            None => head.label_values(name, matchers),
            Some(b) => b.label_values(name, matchers).map_err(block_err),
        })
    }

    fn series_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, ReadError> {
        let mut all = self.head.series_labels(matchers)?;
        for b in &self.blocks {
            all.extend(
                b.select(matchers, self.mint, self.maxt)
                    .map_err(block_err)?
                    .into_iter()
                    .map(|(l, _)| l),
            );
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}
