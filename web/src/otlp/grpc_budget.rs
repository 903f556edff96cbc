//! The request budget on OTLP/gRPC: a tower layer in front of tonic that takes every body
//! byte from the server-wide [`RequestBudget`] as it arrives, before tonic buffers it.
//!
//! tonic reads and decodes a unary message inside the service, so the budget has to sit in
//! the body: [`BudgetedBody`] charges each data frame, and a compressed message (any
//! `grpc-encoding` but identity) is charged the decompressed cap once its first frame
//! arrives, since tonic inflates it whole. Past the budget the body yields `UNAVAILABLE`
//! with RetryInfo, which tonic answers as is. The services' auth interceptor runs before
//! tonic polls the body at all (see `grpc.rs`), so a keyless client holds nothing.
//! Once the message is decoded the handler shrinks the reservation to the message's size
//! ([`GrpcReservation::shrink_to`]) and keeps it until the pipeline has the rows.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tonic::Status;

use sextant_ingest::request_budget::{BudgetReservation, RequestBudget};

use super::refusal::grpc_status;

/// Wraps the gRPC server's services (`Server::builder().layer(…)`).
#[derive(Clone, Debug)]
pub struct GrpcBudgetLayer {
    budget: RequestBudget,
    /// What a compressed message may inflate to: the decoding cap.
    decompressed_limit_bytes: usize,
}

impl GrpcBudgetLayer {
    pub fn new(budget: RequestBudget, decompressed_limit_bytes: usize) -> GrpcBudgetLayer {
        GrpcBudgetLayer {
            budget,
            decompressed_limit_bytes,
        }
    }
}

impl<S> tower::Layer<S> for GrpcBudgetLayer {
    type Service = GrpcBudgetService<S>;

    fn layer(&self, inner: S) -> GrpcBudgetService<S> {
        GrpcBudgetService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcBudgetService<S> {
    inner: S,
    layer: GrpcBudgetLayer,
}

/// The request's reservation, in its extensions for the handler.
#[derive(Clone, Debug)]
pub struct GrpcReservation(Arc<Mutex<BudgetReservation>>);

impl GrpcReservation {
    /// Gives back what is held past `bytes` (the decoded message's size).
    pub fn shrink_to(&self, bytes: usize) {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .shrink_to(bytes);
    }
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for GrpcBudgetService<S>
where
    S: tower::Service<http::Request<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let compressed = request
            .headers()
            .get("grpc-encoding")
            .is_some_and(|encoding| encoding.as_bytes() != b"identity");
        let (mut parts, body) = request.into_parts();
        let reservation = GrpcReservation(Arc::new(Mutex::new(self.layer.budget.empty())));
        parts.extensions.insert(reservation.clone());
        let body = BudgetedBody {
            inner: body,
            reservation,
            inflate_bytes: compressed.then_some(self.layer.decompressed_limit_bytes),
        };
        self.inner.call(http::Request::from_parts(
            parts,
            tonic::body::Body::new(body),
        ))
    }
}

/// A request body that takes its bytes from the budget before handing them on.
struct BudgetedBody {
    inner: tonic::body::Body,
    reservation: GrpcReservation,
    /// Charged with the first data frame of a compressed message.
    inflate_bytes: Option<usize>,
}

impl BudgetedBody {
    fn charge(&mut self, bytes: usize) -> Result<(), Status> {
        let inflate = self.inflate_bytes.take().unwrap_or(0);
        self.reservation
            .0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .grow(bytes + inflate)
            .map_err(|spent| grpc_status(&spent.into()))
    }
}

impl Body for BudgetedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref()
            && let Err(status) = this.charge(data.len())
        {
            return Poll::Ready(Some(Err(status)));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
