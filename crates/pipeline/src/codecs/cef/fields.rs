//! The CEF extension dictionary: every ArcSight field with its full name, its abbreviated
//! key, the ECS field it maps to, a legacy alias, an encoder priority and whether it holds
//! a timestamp. The table follows the one logstash-codec-cef 6.x builds
//! (`generate_mappings!`); `{device}` stands for the `device` option (`observer` or `host`).

/// One CEF extension field.
pub(crate) struct CefField {
    /// The full CEF name (`sourceAddress`); the legacy-mode event field.
    pub name: &'static str,
    /// The abbreviated key (`src`); `None` when the full name is the key.
    pub key: Option<&'static str>,
    /// The ECS field reference; `{device}` is replaced by the `device` option.
    pub ecs: &'static str,
    /// An older name accepted on decode and passed through on encode.
    pub legacy: Option<&'static str>,
    /// When several fields map to one ECS field, the highest priority wins on encode.
    pub priority: u8,
    /// Normalised into a timestamp in ECS mode.
    pub timestamp: bool,
}

const fn f(name: &'static str, key: Option<&'static str>, ecs: &'static str) -> CefField {
    CefField {
        name,
        key,
        ecs,
        legacy: None,
        priority: 0,
        timestamp: false,
    }
}

const fn ts(mut c: CefField) -> CefField {
    c.timestamp = true;
    c
}

const fn prio(mut c: CefField) -> CefField {
    c.priority = 10;
    c
}

const fn legacy(mut c: CefField, l: &'static str) -> CefField {
    c.legacy = Some(l);
    c
}

/// The fields that are not numbered (the `deviceCustom*` families are generated).
pub(crate) static FIELDS: &[CefField] = &[
    f("agentAddress", Some("agt"), "[agent][ip]"),
    prio(f("agentDnsDomain", None, "[cef][agent][registered_domain]")),
    f("agentHostName", Some("ahost"), "[agent][name]"),
    f("agentId", Some("aid"), "[agent][id]"),
    f("agentMacAddress", Some("amac"), "[agent][mac]"),
    f("agentNtDomain", None, "[cef][agent][registered_domain]"),
    ts(f("agentReceiptTime", Some("art"), "[event][created]")),
    f("agentTimeZone", Some("atz"), "[cef][agent][timezone]"),
    f("agentTranslatedAddress", None, "[cef][agent][nat][ip]"),
    f(
        "agentTranslatedZoneExternalID",
        None,
        "[cef][agent][translated_zone][external_id]",
    ),
    f(
        "agentTranslatedZoneURI",
        None,
        "[cef][agent][translated_zone][uri]",
    ),
    f("agentType", Some("at"), "[agent][type]"),
    f("agentVersion", Some("av"), "[agent][version]"),
    f(
        "agentZoneExternalID",
        None,
        "[cef][agent][zone][external_id]",
    ),
    f("agentZoneURI", None, "[cef][agent][zone][uri]"),
    f("applicationProtocol", Some("app"), "[network][protocol]"),
    f("baseEventCount", Some("cnt"), "[cef][base_event_count]"),
    f("bytesIn", Some("in"), "[source][bytes]"),
    f("bytesOut", Some("out"), "[destination][bytes]"),
    f("categoryDeviceType", Some("catdt"), "[cef][device_type]"),
    f("customerExternalID", None, "[organization][id]"),
    f("customerURI", None, "[organization][name]"),
    f("destinationAddress", Some("dst"), "[destination][ip]"),
    prio(f(
        "destinationDnsDomain",
        None,
        "[destination][registered_domain]",
    )),
    legacy(
        f(
            "destinationGeoLatitude",
            Some("dlat"),
            "[destination][geo][location][lat]",
        ),
        "destinationLatitude",
    ),
    legacy(
        f(
            "destinationGeoLongitude",
            Some("dlong"),
            "[destination][geo][location][lon]",
        ),
        "destinationLongitude",
    ),
    f(
        "destinationHostName",
        Some("dhost"),
        "[destination][domain]",
    ),
    f("destinationMacAddress", Some("dmac"), "[destination][mac]"),
    f(
        "destinationNtDomain",
        Some("dntdom"),
        "[destination][registered_domain]",
    ),
    f("destinationPort", Some("dpt"), "[destination][port]"),
    f(
        "destinationProcessId",
        Some("dpid"),
        "[destination][process][pid]",
    ),
    f(
        "destinationProcessName",
        Some("dproc"),
        "[destination][process][name]",
    ),
    f(
        "destinationServiceName",
        None,
        "[destination][service][name]",
    ),
    f(
        "destinationTranslatedAddress",
        None,
        "[destination][nat][ip]",
    ),
    f(
        "destinationTranslatedPort",
        None,
        "[destination][nat][port]",
    ),
    f(
        "destinationTranslatedZoneExternalID",
        None,
        "[cef][destination][translated_zone][external_id]",
    ),
    f(
        "destinationTranslatedZoneURI",
        None,
        "[cef][destination][translated_zone][uri]",
    ),
    f("destinationUserId", Some("duid"), "[destination][user][id]"),
    f(
        "destinationUserName",
        Some("duser"),
        "[destination][user][name]",
    ),
    f(
        "destinationUserPrivileges",
        Some("dpriv"),
        "[destination][user][group][name]",
    ),
    f(
        "destinationZoneExternalID",
        None,
        "[cef][destination][zone][external_id]",
    ),
    f("destinationZoneURI", None, "[cef][destination][zone][uri]"),
    f("deviceAction", Some("act"), "[event][action]"),
    f("deviceAddress", Some("dvc"), "[{device}][ip]"),
    f("deviceDirection", None, "[network][direction]"),
    prio(f("deviceDnsDomain", None, "[{device}][registered_domain]")),
    f("deviceEventCategory", Some("cat"), "[cef][category]"),
    // `[host][id]` with `device => host`, `[observer][name]` otherwise (see `ecs_of`).
    f("deviceExternalId", None, "{device_external_id}"),
    f("deviceFacility", None, "[log][syslog][facility][code]"),
    // `[host][name]` with `device => host`, `[observer][hostname]` otherwise.
    f("deviceHostName", Some("dvchost"), "{device_host_name}"),
    f(
        "deviceInboundInterface",
        None,
        "[observer][ingress][interface][name]",
    ),
    f("deviceMacAddress", Some("dvcmac"), "[{device}][mac]"),
    f("deviceNtDomain", None, "[cef][nt_domain]"),
    f(
        "deviceOutboundInterface",
        None,
        "[observer][egress][interface][name]",
    ),
    f("devicePayloadId", None, "[cef][payload_id]"),
    f("deviceProcessId", Some("dvcpid"), "[process][pid]"),
    f("deviceProcessName", None, "[process][name]"),
    ts(f("deviceReceiptTime", Some("rt"), "@timestamp")),
    legacy(
        f("deviceTimeZone", Some("dtz"), "[event][timezone]"),
        "destinationTimeZone",
    ),
    f("deviceTranslatedAddress", None, "[host][nat][ip]"),
    f(
        "deviceTranslatedZoneExternalID",
        None,
        "[cef][translated_zone][external_id]",
    ),
    f(
        "deviceTranslatedZoneURI",
        None,
        "[cef][translated_zone][uri]",
    ),
    f("deviceVersion", None, "[observer][version]"),
    f("deviceZoneExternalID", None, "[cef][zone][external_id]"),
    f("deviceZoneURI", None, "[cef][zone][uri]"),
    ts(f("endTime", Some("end"), "[event][end]")),
    f("eventId", None, "[event][id]"),
    f("eventOutcome", Some("outcome"), "[event][outcome]"),
    f("externalId", None, "[cef][external_id]"),
    f("fileCreateTime", None, "[file][created]"),
    f("fileHash", None, "[file][hash]"),
    f("fileId", None, "[file][inode]"),
    ts(f("fileModificationTime", None, "[file][mtime]")),
    f("fileName", Some("fname"), "[file][name]"),
    f("filePath", None, "[file][path]"),
    f("filePermission", None, "[file][group]"),
    f("fileSize", Some("fsize"), "[file][size]"),
    f("fileType", None, "[file][extension]"),
    ts(f("managerReceiptTime", Some("mrt"), "[event][ingested]")),
    f("message", Some("msg"), "[message]"),
    ts(f("oldFileCreateTime", None, "[cef][old_file][created]")),
    f("oldFileHash", None, "[cef][old_file][hash]"),
    f("oldFileId", None, "[cef][old_file][inode]"),
    ts(f("oldFileModificationTime", None, "[cef][old_file][mtime]")),
    f("oldFileName", None, "[cef][old_file][name]"),
    f("oldFilePath", None, "[cef][old_file][path]"),
    f("oldFilePermission", None, "[cef][old_file][group]"),
    f("oldFileSize", None, "[cef][old_file][size]"),
    f("oldFileType", None, "[cef][old_file][extension]"),
    f("rawEvent", None, "[event][original]"),
    f("Reason", Some("reason"), "[event][reason]"),
    f("requestClientApplication", None, "[user_agent][original]"),
    f("requestContext", None, "[http][request][referrer]"),
    f("requestCookies", None, "[cef][request][cookies]"),
    f("requestMethod", None, "[http][request][method]"),
    f("requestUrl", Some("request"), "[url][original]"),
    f("sourceAddress", Some("src"), "[source][ip]"),
    prio(f("sourceDnsDomain", None, "[source][registered_domain]")),
    legacy(
        f(
            "sourceGeoLatitude",
            Some("slat"),
            "[source][geo][location][lat]",
        ),
        "sourceLatitude",
    ),
    legacy(
        f(
            "sourceGeoLongitude",
            Some("slong"),
            "[source][geo][location][lon]",
        ),
        "sourceLongitude",
    ),
    f("sourceHostName", Some("shost"), "[source][domain]"),
    f("sourceMacAddress", Some("smac"), "[source][mac]"),
    f(
        "sourceNtDomain",
        Some("sntdom"),
        "[source][registered_domain]",
    ),
    f("sourcePort", Some("spt"), "[source][port]"),
    f("sourceProcessId", Some("spid"), "[source][process][pid]"),
    f(
        "sourceProcessName",
        Some("sproc"),
        "[source][process][name]",
    ),
    f("sourceServiceName", None, "[source][service][name]"),
    f("sourceTranslatedAddress", None, "[source][nat][ip]"),
    f("sourceTranslatedPort", None, "[source][nat][port]"),
    f(
        "sourceTranslatedZoneExternalID",
        None,
        "[cef][source][translated_zone][external_id]",
    ),
    f(
        "sourceTranslatedZoneURI",
        None,
        "[cef][source][translated_zone][uri]",
    ),
    f("sourceUserId", Some("suid"), "[source][user][id]"),
    f("sourceUserName", Some("suser"), "[source][user][name]"),
    f(
        "sourceUserPrivileges",
        Some("spriv"),
        "[source][user][group][name]",
    ),
    f(
        "sourceZoneExternalID",
        None,
        "[cef][source][zone][external_id]",
    ),
    f("sourceZoneURI", None, "[cef][source][zone][uri]"),
    ts(f("startTime", Some("start"), "[event][start]")),
    f("transportProtocol", Some("proto"), "[network][transport]"),
    f("type", None, "[cef][type]"),
];

/// One resolved field: names already expanded for the `device` option.
pub(crate) struct Resolved {
    pub name: String,
    pub key: String,
    pub ecs: String,
    pub legacy: Option<String>,
    pub priority: u8,
    pub timestamp: bool,
}

/// Every field, the numbered `deviceCustom*` families included, with `{device}` resolved.
pub(crate) fn all(device_is_host: bool) -> Vec<Resolved> {
    let device = if device_is_host { "host" } else { "observer" };
    let ecs_of = |e: &str| match e {
        "{device_external_id}" if device_is_host => "[host][id]".to_string(),
        "{device_external_id}" => "[observer][name]".to_string(),
        "{device_host_name}" if device_is_host => "[host][name]".to_string(),
        "{device_host_name}" => "[observer][hostname]".to_string(),
        other => other.replace("{device}", device),
    };
    let mut out: Vec<Resolved> = Vec::with_capacity(FIELDS.len() + 15 * 8);
    let mut push = |name: String, key: Option<String>, ecs: String| {
        out.push(Resolved {
            key: key.unwrap_or_else(|| name.clone()),
            name,
            ecs,
            legacy: None,
            priority: 0,
            timestamp: false,
        })
    };
    for i in 1..=15 {
        for (long, short, ecs) in [
            (
                "deviceCustomFloatingPoint",
                "cfp",
                "device_custom_floating_point",
            ),
            (
                "deviceCustomIPv6Address",
                "c6a",
                "device_custom_ipv6_address",
            ),
            ("deviceCustomNumber", "cn", "device_custom_number"),
            ("deviceCustomString", "cs", "device_custom_string"),
        ] {
            push(
                format!("{long}{i}"),
                Some(format!("{short}{i}")),
                format!("[cef][{ecs}_{i}][value]"),
            );
            push(
                format!("{long}{i}Label"),
                Some(format!("{short}{i}Label")),
                format!("[cef][{ecs}_{i}][label]"),
            );
        }
    }
    for c in FIELDS {
        out.push(Resolved {
            name: c.name.to_string(),
            key: c.key.unwrap_or(c.name).to_string(),
            ecs: ecs_of(c.ecs),
            legacy: c.legacy.map(str::to_string),
            priority: c.priority,
            timestamp: c.timestamp,
        });
    }
    // Lower priorities first, so the higher one overwrites it in the encode mapping.
    out.sort_by_key(|r| r.priority);
    out
}
