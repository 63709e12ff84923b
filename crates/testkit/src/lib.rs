//! Test support shared by the workspace's integration tests (a dev-dependency only).
//!
//! - [`pcap`]: writes a TCP conversation as a pcap file (libpcap format, LINKTYPE_ETHERNET) so tshark
//!   can judge what our codecs encode.
//! - [`scratch`]: temporary directories and free loopback ports.
//! - [`netns`]: network namespaces joined by veth pairs, dumpcap captures and tshark field dumps.
//! - [`ims_ue`]: a minimal UE registering with IMS-AKA over UDP through a P-CSCF.

pub mod ims_ue;
pub mod netns;
pub mod pcap;
pub mod scratch;
