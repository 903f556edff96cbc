//! One budget of in-flight request bytes for every entry point that reads a body (OTLP/HTTP,
//! OTLP/gRPC, the model gateway).
//!
//! Each request's cap bounds one request; this bounds all of them together. Bytes are
//! taken from the budget *before* they are held: as each chunk of a body arrives, as each
//! chunk of a gzip body is inflated, and up front for what a gRPC message may inflate to.
//! When the budget is spent the request is answered 503 (`UNAVAILABLE`) with Retry-After
//! at once, never queued, so a burst of large requests costs the server at most the budget
//! and never an out-of-memory kill. Bytes go back when the request's [`BudgetReservation`]
//! is dropped: after its rows are in the pipeline, which counts them from there on
//! (`max_pending_bytes`).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{IngestError, Result};

/// The default budget: 512 MiB of bodies, raw and inflated, in flight at once.
pub const DEFAULT_REQUEST_BUDGET_BYTES: usize = 512 * 1024 * 1024;

/// How long a client told to back off waits before retrying.
const RETRY_AFTER_SECS: u64 = 1;

/// The server-wide budget; cheap to clone (one shared semaphore of bytes).
#[derive(Clone, Debug)]
pub struct RequestBudget {
    bytes: Arc<Semaphore>,
    total_bytes: usize,
}

impl RequestBudget {
    pub fn new(total_bytes: usize) -> RequestBudget {
        let total_bytes = total_bytes.clamp(1, Semaphore::MAX_PERMITS);
        RequestBudget {
            bytes: Arc::new(Semaphore::new(total_bytes)),
            total_bytes,
        }
    }

    /// The whole budget in bytes.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Bytes not reserved by any request now.
    pub fn available_bytes(&self) -> usize {
        self.bytes.available_permits()
    }

    /// A reservation holding nothing yet, to grow as bytes arrive.
    pub fn empty(&self) -> BudgetReservation {
        BudgetReservation {
            budget: self.clone(),
            permit: None,
        }
    }

    /// A reservation of `bytes` (may be 0, to grow later), or `Overloaded` at once.
    pub fn reserve(&self, bytes: usize) -> Result<BudgetReservation> {
        let mut reservation = self.empty();
        reservation.grow(bytes)?;
        Ok(reservation)
    }
}

/// Bytes a request holds; returned to the budget when dropped.
#[derive(Debug)]
pub struct BudgetReservation {
    budget: RequestBudget,
    permit: Option<OwnedSemaphorePermit>,
}

impl BudgetReservation {
    /// Takes `bytes` more, or `Overloaded` (what was held stays held until drop).
    pub fn grow(&mut self, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let overloaded = || IngestError::Overloaded {
            reason: "the in-flight request budget is spent",
            retry_after_secs: RETRY_AFTER_SECS,
        };
        let wanted = u32::try_from(bytes).map_err(|_| overloaded())?;
        let permit = self
            .budget
            .bytes
            .clone()
            .try_acquire_many_owned(wanted)
            .map_err(|_| overloaded())?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        Ok(())
    }

    /// Gives back what is held past `bytes`.
    pub fn shrink_to(&mut self, bytes: usize) {
        if let Some(held) = &mut self.permit {
            let excess = held.num_permits().saturating_sub(bytes);
            drop(held.split(excess));
        }
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.permit
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn reservations_take_from_one_budget_and_give_back_on_drop() {
        let budget = RequestBudget::new(100);
        let mut first = budget.reserve(60).expect("fits");
        let refused = budget.reserve(50).expect_err("past the budget");
        assert_eq!(refused.code(), ErrorCode::Overloaded);
        assert!(refused.to_string().contains("retry after 1 s"), "{refused}");
        first.grow(40).expect("the rest fits");
        assert_eq!(first.held_bytes(), 100);
        assert!(first.grow(1).is_err());
        assert_eq!(
            first.held_bytes(),
            100,
            "a refused growth keeps what was held"
        );
        first.shrink_to(30);
        assert_eq!(budget.available_bytes(), 70);
        drop(first);
        assert_eq!(budget.available_bytes(), 100);
        assert!(budget.reserve(0).is_ok());
    }
}
