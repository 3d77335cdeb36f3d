//! `mesos.v1.scheduler.Call`.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{is_empty, FrameworkInfo, Id, KillPolicy, TaskInfo};

string_enum!(
    /// `Call.Type`.
    CallType {
        Subscribe = "SUBSCRIBE",
        Teardown = "TEARDOWN",
        Accept = "ACCEPT",
        Decline = "DECLINE",
        AcceptInverseOffers = "ACCEPT_INVERSE_OFFERS",
        DeclineInverseOffers = "DECLINE_INVERSE_OFFERS",
        Revive = "REVIVE",
        Kill = "KILL",
        Shutdown = "SHUTDOWN",
        Acknowledge = "ACKNOWLEDGE",
        AcknowledgeOperationStatus = "ACKNOWLEDGE_OPERATION_STATUS",
        Reconcile = "RECONCILE",
        ReconcileOperations = "RECONCILE_OPERATIONS",
        Message = "MESSAGE",
        Request = "REQUEST",
        Suppress = "SUPPRESS",
        UpdateFramework = "UPDATE_FRAMEWORK",
    }
);

string_enum!(
    /// `Offer.Operation.Type`.
    OperationType {
        Launch = "LAUNCH",
        LaunchGroup = "LAUNCH_GROUP",
        Reserve = "RESERVE",
        Unreserve = "UNRESERVE",
        Create = "CREATE",
        Destroy = "DESTROY",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribe {
    pub framework_info: FrameworkInfo,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub suppressed_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_constraints: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_seconds: Option<f64>,
}

impl Filters {
    pub fn refuse(seconds: f64) -> Self {
        Self {
            refuse_seconds: Some(seconds),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Launch {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub task_infos: Vec<TaskInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    #[serde(rename = "type")]
    pub kind: OperationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_group: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreserve: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy: Option<Json>,
}

impl Operation {
    pub fn launch(task_infos: Vec<TaskInfo>) -> Self {
        Self {
            kind: OperationType::Launch,
            id: None,
            launch: Some(Launch { task_infos }),
            launch_group: None,
            reserve: None,
            unreserve: None,
            create: None,
            destroy: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accept {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub offer_ids: Vec<Id>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decline {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub offer_ids: Vec<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

/// Body of REVIVE and SUPPRESS: the field is `roles` (array); the doc's `role` is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Roles {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    pub task_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledge {
    pub agent_id: Id,
    pub task_id: Id,
    /// Copied verbatim from `TaskStatus.uuid` (base64 of 16 bytes).
    pub uuid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileTask {
    pub task_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Id>,
}

/// `reconcile` MUST be present even when `tasks` is empty (implicit reconciliation).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reconcile {
    #[serde(default)]
    pub tasks: Vec<ReconcileTask>,
}

/// `mesos.v1.scheduler.Call`. Exactly one payload matching `type` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<Id>,
    #[serde(rename = "type")]
    pub kind: CallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Subscribe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Accept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<Decline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revive: Option<Roles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<Roles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Kill>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<Acknowledge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<Reconcile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_inverse_offers: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_inverse_offers: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_operation_status: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_operations: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_framework: Option<Json>,
}

impl Call {
    /// A call of `kind` with no payload; the constructors below fill one in.
    pub fn bare(kind: CallType, framework_id: Option<Id>) -> Self {
        Self {
            framework_id,
            kind,
            subscribe: None,
            accept: None,
            decline: None,
            revive: None,
            suppress: None,
            kill: None,
            acknowledge: None,
            reconcile: None,
            shutdown: None,
            message: None,
            request: None,
            accept_inverse_offers: None,
            decline_inverse_offers: None,
            acknowledge_operation_status: None,
            reconcile_operations: None,
            update_framework: None,
        }
    }

    /// SUBSCRIBE; on re-subscribe the id goes in both `framework_id` and
    /// `framework_info.id`, which the master requires to match.
    pub fn subscribe(framework_info: FrameworkInfo) -> Self {
        let id = framework_info.id.clone();
        Self {
            subscribe: Some(Subscribe {
                framework_info,
                suppressed_roles: Vec::new(),
                offer_constraints: None,
            }),
            ..Self::bare(CallType::Subscribe, id)
        }
    }

    pub fn accept(
        fid: &Id,
        offer_ids: Vec<Id>,
        operations: Vec<Operation>,
        filters: Filters,
    ) -> Self {
        Self {
            accept: Some(Accept {
                offer_ids,
                operations,
                filters: Some(filters),
            }),
            ..Self::bare(CallType::Accept, Some(fid.clone()))
        }
    }

    pub fn decline(fid: &Id, offer_ids: Vec<Id>, filters: Filters) -> Self {
        Self {
            decline: Some(Decline {
                offer_ids,
                filters: Some(filters),
            }),
            ..Self::bare(CallType::Decline, Some(fid.clone()))
        }
    }

    pub fn suppress(fid: &Id, roles: Vec<String>) -> Self {
        Self {
            suppress: Some(Roles { roles }),
            ..Self::bare(CallType::Suppress, Some(fid.clone()))
        }
    }

    pub fn revive(fid: &Id, roles: Vec<String>) -> Self {
        Self {
            revive: Some(Roles { roles }),
            ..Self::bare(CallType::Revive, Some(fid.clone()))
        }
    }

    pub fn kill(fid: &Id, task_id: Id, agent_id: Option<Id>) -> Self {
        Self {
            kill: Some(Kill {
                task_id,
                agent_id,
                kill_policy: None,
            }),
            ..Self::bare(CallType::Kill, Some(fid.clone()))
        }
    }

    pub fn acknowledge(fid: &Id, agent_id: Id, task_id: Id, uuid: String) -> Self {
        Self {
            acknowledge: Some(Acknowledge {
                agent_id,
                task_id,
                uuid,
            }),
            ..Self::bare(CallType::Acknowledge, Some(fid.clone()))
        }
    }

    pub fn reconcile(fid: &Id, tasks: Vec<ReconcileTask>) -> Self {
        Self {
            reconcile: Some(Reconcile { tasks }),
            ..Self::bare(CallType::Reconcile, Some(fid.clone()))
        }
    }

    pub fn teardown(fid: &Id) -> Self {
        Self::bare(CallType::Teardown, Some(fid.clone()))
    }
}
