//! The bounded request queue between aggregation and sending.
//!
//! The request being attempted stays at the front until it succeeds or is rejected, so
//! when CloudWatch is down the queue fills; at capacity the *oldest* request is dropped
//! (counted in `node_agent_sink_dropped_events_total{reason="queue_full"}`), even if it is
//! the one being retried: recent data is worth more than old data for alarms.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::sinks::cloudwatch::aggregate::Datum;
use crate::sinks::telemetry::SinkTelemetry;

/// A request and the id that tells the sender whether it is still queued.
pub type Entry = (u64, Arc<Vec<Datum>>);

#[derive(Default)]
struct State {
    items: VecDeque<Entry>,
    next_id: u64,
    closed: bool,
}

/// A drop-oldest queue of PutMetricData requests.
pub struct RequestQueue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    telemetry: SinkTelemetry,
}

impl RequestQueue {
    /// A queue holding at most `capacity` requests.
    pub fn new(capacity: usize, telemetry: SinkTelemetry) -> Self {
        RequestQueue {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            capacity,
            telemetry,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("queue lock poisoned")
    }

    /// Appends a request, dropping the oldest if full.
    pub fn push(&self, request: Vec<Datum>) {
        let mut state = self.lock();
        if state.items.len() >= self.capacity
            && let Some((_, dropped)) = state.items.pop_front()
        {
            self.telemetry
                .dropped_queue_full
                .inc_by(dropped.len() as f64);
            tracing::warn!(
                datums = dropped.len(),
                "CloudWatch queue full, dropped the oldest request"
            );
        }
        let id = state.next_id;
        state.next_id += 1;
        state.items.push_back((id, Arc::new(request)));
        self.telemetry.queue_requests.set(state.items.len() as f64);
        drop(state);
        self.notify.notify_one();
    }

    /// The oldest request, waiting for one; `None` once closed and empty.
    pub async fn front(&self) -> Option<Entry> {
        loop {
            let notified = self.notify.notified();
            {
                let state = self.lock();
                if let Some((id, request)) = state.items.front() {
                    return Some((*id, request.clone()));
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Removes request `id` after it was sent or rejected (no-op if it was dropped meanwhile).
    pub fn complete(&self, id: u64) {
        let mut state = self.lock();
        if state.items.front().is_some_and(|(front, _)| *front == id) {
            state.items.pop_front();
        }
        self.telemetry.queue_requests.set(state.items.len() as f64);
    }

    /// No more requests will come; `front` returns `None` once the queue is empty.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Drops everything still queued (the shutdown deadline passed); returns the datum count.
    pub fn abandon(&self) -> usize {
        let mut state = self.lock();
        let datums = state.items.drain(..).map(|(_, r)| r.len()).sum::<usize>();
        self.telemetry.dropped_shutdown.inc_by(datums as f64);
        self.telemetry.queue_requests.set(0.0);
        datums
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::cloudwatch::aggregate::Unit;
    use crate::telemetry::Registry;
    use std::time::SystemTime;

    fn request(n: usize) -> Vec<Datum> {
        let datum = Datum {
            name: "m".into(),
            dimensions: Vec::new(),
            unit: Unit::None,
            sample_count: 1.0,
            sum: 1.0,
            minimum: 1.0,
            maximum: 1.0,
            timestamp: SystemTime::UNIX_EPOCH,
        };
        vec![datum; n]
    }

    #[tokio::test]
    async fn overflow_drops_the_oldest_and_counts_its_datums() {
        let telemetry = SinkTelemetry::new(&Registry::new(), "test");
        let queue = RequestQueue::new(2, telemetry.clone());
        queue.push(request(1));
        let (first, _) = queue.front().await.unwrap();
        queue.push(request(2));
        assert_eq!(
            telemetry.dropped_queue_full.get(),
            0.0,
            "no drop below capacity"
        );
        queue.push(request(3));
        assert_eq!(
            telemetry.dropped_queue_full.get(),
            1.0,
            "the in-flight oldest request was dropped"
        );
        queue.complete(first);
        let (_, front) = queue.front().await.unwrap();
        assert_eq!(
            front.len(),
            2,
            "completing a dropped request does not remove another"
        );
        assert_eq!(telemetry.queue_requests.get(), 2.0);
    }

    #[tokio::test]
    async fn closed_queue_drains_then_ends() {
        let telemetry = SinkTelemetry::new(&Registry::new(), "test");
        let queue = RequestQueue::new(4, telemetry.clone());
        queue.push(request(5));
        queue.close();
        let (id, _) = queue.front().await.unwrap();
        queue.complete(id);
        assert!(queue.front().await.is_none());
        queue.push(request(7));
        assert_eq!(queue.abandon(), 7);
        assert_eq!(telemetry.dropped_shutdown.get(), 7.0);
    }
}
