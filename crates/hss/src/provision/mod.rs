//! Provisioning: validated subscriber input ([`SubscriberInput`]), bulk import of CSV and JSON
//! ([`import`]) and the demo subscribers ([`demo`]).

pub mod demo;
pub mod import;
mod input;
mod patch;
mod view;

pub use input::{ImpuInput, SubscriberInput};
pub use patch::{ImpiPatch, ImpuPatch};
pub use view::{PrivateIdentityView, SubscriptionView};
