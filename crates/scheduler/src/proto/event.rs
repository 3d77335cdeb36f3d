//! `mesos.v1.scheduler.Event`.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{is_empty, Id, Offer, TaskStatus};

string_enum!(
    /// `Event.Type`. Unknown types MUST be ignored by a client (PROTOCOL.md §1).
    EventType {
        Subscribed = "SUBSCRIBED",
        Offers = "OFFERS",
        InverseOffers = "INVERSE_OFFERS",
        Rescind = "RESCIND",
        RescindInverseOffer = "RESCIND_INVERSE_OFFER",
        Update = "UPDATE",
        UpdateOperationStatus = "UPDATE_OPERATION_STATUS",
        Message = "MESSAGE",
        Failure = "FAILURE",
        Error = "ERROR",
        Heartbeat = "HEARTBEAT",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    pub framework_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_info: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Offers {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub offers: Vec<Offer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescind {
    pub offer_id: Id,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub message: String,
}

/// `mesos.v1.scheduler.Event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<Offers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_offers: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind: Option<Rescind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind_inverse_offer: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_operation_status: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorMessage>,
}

impl Event {
    pub fn bare(kind: EventType) -> Self {
        Self {
            kind,
            subscribed: None,
            offers: None,
            inverse_offers: None,
            rescind: None,
            rescind_inverse_offer: None,
            update: None,
            update_operation_status: None,
            message: None,
            failure: None,
            error: None,
        }
    }

    pub fn heartbeat() -> Self {
        Self::bare(EventType::Heartbeat)
    }

    pub fn subscribed(framework_id: Id, heartbeat_interval_seconds: f64) -> Self {
        Self {
            subscribed: Some(Subscribed {
                framework_id,
                heartbeat_interval_seconds: Some(heartbeat_interval_seconds),
                master_info: None,
            }),
            ..Self::bare(EventType::Subscribed)
        }
    }

    pub fn offers(offers: Vec<Offer>) -> Self {
        Self {
            offers: Some(Offers { offers }),
            ..Self::bare(EventType::Offers)
        }
    }

    pub fn rescind(offer_id: Id) -> Self {
        Self {
            rescind: Some(Rescind { offer_id }),
            ..Self::bare(EventType::Rescind)
        }
    }

    pub fn update(status: TaskStatus) -> Self {
        Self {
            update: Some(Update { status }),
            ..Self::bare(EventType::Update)
        }
    }

    pub fn failure(agent_id: Id) -> Self {
        Self {
            failure: Some(Failure {
                agent_id: Some(agent_id),
                executor_id: None,
                status: None,
            }),
            ..Self::bare(EventType::Failure)
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self {
            error: Some(ErrorMessage {
                message: message.into(),
            }),
            ..Self::bare(EventType::Error)
        }
    }
}
