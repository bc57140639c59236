//! Scraping: the manager runs one loop per target of each job; each loop
//! fetches, parses (see [`textparse`]) and appends to the database.

mod cache;
pub mod client;
mod error;
mod manager;
mod scrape_loop;
mod target;

pub use manager::{ScrapeManager, ScrapePool};
pub use scrape_loop::{StopMode, ACCEPT_HEADER, EXEMPLARS_OUT_OF_ORDER};
pub use target::{DroppedTarget, Health, Metadata, ScrapeStatus, Target};
