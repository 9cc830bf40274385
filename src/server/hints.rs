//! What `serve` tells the operator (in its log) and the other side (in a reply) when a
//! connection does something this node was not configured for, with the command that
//! would configure it.

use std::net::IpAddr;

/// An IHAVE feed from an address no `[[nntp_peer]]` lists.
pub fn unlisted_feeder(ip: IpAddr) -> String {
    format!(
        "IHAVE from {ip}, which no [[nntp_peer]] lists: a news server feeding this node needs \
         `newsmesh peer add NAME --nntp --hosts {ip}`"
    )
}
