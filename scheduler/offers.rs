// SPDX-License-Identifier: GPL-2.0
//! Moves offered to their destination before they start (`SchedOffer`,
//! `proto::sched::Offer`): the source's side ([`SchedService::offer`],
//! for the balancer and the placer) and the destination's
//! ([`SchedService::on_offer`], which judges the move on its own load
//! and counts a move it takes at once).

use super::{kernel_ms, status::Load, SchedService};
use crate::{
    cluster::Cluster,
    proto::{
        sched::{Offer, OfferReply},
        wire::MsgType,
    },
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// How long a source waits for a destination's answer to an offer.
const OFFER_TIMEOUT_MS: u32 = 1_000;

impl SchedService {
    /// Offers a move to node `dest`, which judges it on its own load:
    /// whether it takes it. A destination that declines, does not answer
    /// or answers nonsense is not sent the process; one that declined
    /// stands in the next decisions with the load it gave.
    #[inline(never)]
    pub(crate) fn offer(&self, cluster: &Cluster, dest: u16, offer: &Offer) -> bool {
        let mut body = [0u8; Offer::LEN];
        let Ok(n) = offer.encode(&mut body) else { return false };
        let reply = cluster.call(dest, MsgType::SchedOffer, &body[..n], OFFER_TIMEOUT_MS);
        let r = match reply.as_deref().map(OfferReply::decode) {
            Ok(Ok(r)) => r,
            Ok(Err(_)) | Err(_) => {
                self.stats.offers_sent_unanswered.fetch_add(1, Ordering::Relaxed);
                self.state.lock().say(format_args!("node {} did not answer the offer of pid {}", dest, offer.pid));
                return false;
            }
        };
        if r.taken {
            self.stats.offers_sent_taken.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.stats.offers_sent_declined.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock();
        st.declined(dest, r.load, kernel_ms());
        st.say(format_args!(
            "node {} declined pid {}: its load would be {} ({} here after)",
            dest,
            offer.pid,
            Load(r.load_after),
            Load(offer.source_after)
        ));
        false
    }

    /// Answers a `SchedOffer` request of node `from`: this node judges
    /// the move on its own load (`balancer::State::judge_offer`).
    #[inline(never)]
    pub(super) fn on_offer(&self, from: u16, body: &[u8]) -> Result<KVec<u8>> {
        let offer = Offer::decode(body).map_err(|e| {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            if MALFORMED_LOG.allow() {
                pr_warn!("scheduler: malformed offer from node {}: {:?}\n", from, e);
            }
            EINVAL
        })?;
        let params = self.config().params.policy;
        let r = self.state.lock().judge_offer(self.own_node(), &offer, &params, kernel_ms());
        let counter = if r.taken { &self.stats.offers_received_taken } else { &self.stats.offers_received_declined };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut out = [0u8; OfferReply::LEN];
        let n = r.encode(&mut out).map_err(|_| EINVAL)?;
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        v.extend_from_slice(&out[..n], GFP_KERNEL)?;
        Ok(v)
    }
}
