//! A compile prints thousands of lines a second; the web page wants a few
//! larger messages instead (Tauri's docs: batch channel data every 50–100 ms).

use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::MissedTickBehavior;

/// How often a build's events reach the page. A line waits at most this long
/// in the batch, then ~20 ms to cross and ~20 ms to paint, so the oldest line
/// of a batch still shows within the 100 ms a person notices.
pub const PERIOD: Duration = Duration::from_millis(40);

/// Hands everything `rx` receives to `send`, in order, at most one batch per
/// `period`; when every sender is gone, flushes what is left and returns.
pub async fn forward<T>(
    mut rx: UnboundedReceiver<T>,
    period: Duration,
    mut send: impl FnMut(Vec<T>),
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut batch = Vec::new();
        let closed = loop {
            match rx.try_recv() {
                Ok(v) => batch.push(v),
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if !batch.is_empty() {
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
        let mut batches: Vec<Vec<u32>> = Vec::new();
        forward(rx, Duration::from_millis(50), |b| batches.push(b)).await;
        producer.await.unwrap();
        let all: Vec<u32> = batches.iter().flatten().copied().collect();
        assert_eq!(all, (0..2000).collect::<Vec<_>>());
        // ~200 ms of sending at 50 ms per batch: a handful of messages, not 2000.
        assert!(batches.len() <= 10, "{} batches", batches.len());
    }
}
