//! Policy audits of images: a YAML policy file names the rules a team requires, and
//! [`evaluate`] checks them against what is known of one image ([`ImageFacts`]), returning
//! a pass/fail result with evidence for each rule.
//!
//! The crate is pure: the caller gathers the facts (config, history, sizes, which layers hold
//! which secrets, whether a signature verified, the scan's findings, the attachments) from
//! wherever the image lives, and this crate decides.
//!
//! - [`policy`]: the file format, parsed strictly (unknown keys are errors naming the file).
//! - [`secrets`]: finds private keys, cloud credentials and tokens in layer files and in
//!   history/ENV, by pattern and by entropy.
//! - [`rules`]: the evaluation.

mod error;
pub mod facts;
pub mod policy;
pub mod rules;
pub mod secrets;
pub mod size;

pub use error::{Error, Result};
pub use facts::ImageFacts;
pub use policy::Policy;
pub use rules::{evaluate, Outcome, RuleResult, Status};
