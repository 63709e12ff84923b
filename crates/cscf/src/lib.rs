//! IMS call session control functions (3GPP TS 24.229): P-CSCF, I-CSCF and S-CSCF.
//!
//! This first slice holds the [`store`]: the registration store (S-CSCF registrar bindings, the
//! P-CSCF's record of its registered UEs) and the S-CSCF's IMS-AKA challenge state, behind one
//! async trait with in-memory, SQLite and Redis backends. The CSCF roles build on it.

pub mod cx_client;
pub mod error;
pub mod icscf;
pub mod identity;
pub mod node;
pub mod pcscf;
pub mod scscf;
pub mod store;

pub use error::CscfError;
