//! A compile prints thousands of lines a second; the web page wants a few
//! larger messages instead (Tauri's docs: batch channel data every 50–100 ms).
//! Each message also costs the page's main thread a round trip, so a fixed
//! rate outruns a busy page and its backlog grows without end; the page
//! therefore acknowledges each batch once drawn, and the next waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;

/// How often a build's events reach the page when it keeps up: the oldest
/// line of a batch waits this long, then ~10 ms to cross and ~15 ms to paint.
pub const PERIOD: Duration = Duration::from_millis(40);

/// How long a batch waits for the page's acknowledgement of the one before:
/// a hidden window draws nothing, and then gets a batch a second.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// The acknowledgement signal of each open channel, by channel id.
#[derive(Default)]
pub struct Acks(Mutex<HashMap<u32, Arc<Notify>>>);

impl Acks {
    pub fn register(&self, channel: u32) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        self.map().insert(channel, notify.clone());
        notify
    }

    /// The page has drawn the latest batch of `channel`.
    pub fn ack(&self, channel: u32) {
        if let Some(n) = self.map().get(&channel) {
            n.notify_one();
        }
    }

    pub fn remove(&self, channel: u32) {
        self.map().remove(&channel);
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<Notify>>> {
        self.0.lock().expect("acks lock")
    }
}

/// Hands everything `rx` receives to `send`, in order, at most one batch per
/// `period` and, after the first, only once `ack` fired for the one before (or
/// [`ACK_TIMEOUT`] passed); when every sender is gone, flushes what is left
/// and returns.
pub async fn forward<T>(
    mut rx: UnboundedReceiver<T>,
    period: Duration,
    ack: Arc<Notify>,
    mut send: impl FnMut(Vec<T>),
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut awaiting_ack = false;
    loop {
        tick.tick().await;
        if awaiting_ack {
            // A late acknowledgement leaves a permit, which only makes the next wait short.
            let _ = tokio::time::timeout(ACK_TIMEOUT, ack.notified()).await;
        }
        let mut batch = Vec::new();
        let closed = loop {
            match rx.try_recv() {
                Ok(v) => batch.push(v),
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        awaiting_ack = !batch.is_empty();
        if awaiting_ack {
            send(batch);
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_keep_order_and_flush_at_the_end() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let producer = tokio::spawn(async move {
            for i in 0..2000u32 {
                tx.send(i).unwrap();
                if i % 200 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        let ack = Arc::new(Notify::new());
        let page = ack.clone();
        let mut batches: Vec<Vec<u32>> = Vec::new();
        forward(rx, Duration::from_millis(50), ack, |b| {
            batches.push(b);
            page.notify_one();
        })
        .await;
        producer.await.unwrap();
        let all: Vec<u32> = batches.iter().flatten().copied().collect();
        assert_eq!(all, (0..2000).collect::<Vec<_>>());
        // ~200 ms of sending at 50 ms per batch: a handful of messages, not 2000.
        assert!(batches.len() <= 10, "{} batches", batches.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_that_does_not_acknowledge_gets_fewer_larger_batches() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let producer = tokio::spawn(async move {
            // 3 s of one item every 10 ms.
            for i in 0..300u32 {
                tx.send(i).unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let mut batches: Vec<Vec<u32>> = Vec::new();
        forward(rx, PERIOD, Arc::new(Notify::new()), |b| batches.push(b)).await;
        producer.await.unwrap();
        let all: Vec<u32> = batches.iter().flatten().copied().collect();
        assert_eq!(all, (0..300).collect::<Vec<_>>(), "nothing lost");
        // One batch, then one per ACK_TIMEOUT: 4 or so, where acknowledged
        // batches would have been 75.
        assert!(
            (3..=5).contains(&batches.len()),
            "{} batches",
            batches.len()
        );
    }
}
