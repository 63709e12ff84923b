//! Test support shared by the workspace's integration tests (a dev-dependency only).
//!
//! - [`pcap`]: writes a TCP conversation as a pcap file (libpcap format, LINKTYPE_ETHERNET) so tshark
//!   can judge what our codecs encode.

pub mod pcap;
