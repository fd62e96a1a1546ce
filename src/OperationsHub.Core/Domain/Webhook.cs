namespace OperationsHub.Core.Domain;

/// <summary>
/// A tenant's webhook: an address the hub posts run events to, signed with the endpoint's secret. Registered by an
/// Owner; the filters pick which events (queued, completed), types and outcomes it hears.
/// </summary>
public sealed class WebhookEndpoint
{
    public const int MaxNameLength = 80;
    public const int MaxUrlLength = 2048;

    public long Id { get; set; }

    public long TenantId { get; set; }

    public required string Name { get; set; }

    /// <summary>An absolute https address (http only to a loopback host), validated when registered and at every connect.</summary>
    public required string Url { get; set; }

    /// <summary>The signing secret, protected with the hub's Data Protection key ring (never stored in clear).</summary>
    public required string ProtectedSecret { get; set; }

    /// <summary>The secret's first characters, to tell endpoints' secrets apart.</summary>
    public required string SecretHint { get; set; }

    public WebhookEvents Events { get; set; }

    /// <summary>Run types it hears as <c>,type,type,</c>; null for every type.</summary>
    public string? TypeFilter { get; set; }

    /// <summary>Outcomes its "completed" events are for, as <c>,Succeeded,Failed,</c>; null for every outcome.</summary>
    public string? OutcomeFilter { get; set; }

    public long? CreatedByUserId { get; set; }

    public DateTime CreatedAt { get; set; }

    /// <summary>When it was switched off (nothing more is queued for it; queued deliveries are not sent); null while on.</summary>
    public DateTime? DisabledAt { get; set; }
}

[Flags]
public enum WebhookEvents
{
    None = 0,
    Queued = 1,
    Completed = 2,
}

/// <summary>
/// One event for one endpoint: an outbox row written in the same commit as the run's transition, sent (and re-sent
/// with backoff) by the webhook sender on any node.
/// </summary>
public sealed class WebhookDelivery
{
    public long Id { get; set; }

    public long EndpointId { get; set; }

    public long TenantId { get; set; }

    public long RunId { get; set; }

    /// <summary><c>run.queued</c> or <c>run.completed</c>.</summary>
    public required string Event { get; set; }

    /// <summary>The run as the event saw it (JSON): the body is built from it, the same on every attempt.</summary>
    public required string PayloadJson { get; set; }

    public WebhookDeliveryStatus Status { get; set; }

    public int Attempts { get; set; }

    public DateTime NextAttemptAt { get; set; }

    /// <summary>The node sending it and until when; another node may take it after that.</summary>
    public string? ClaimedBy { get; set; }

    public DateTime? ClaimedUntil { get; set; }

    public int? LastStatusCode { get; set; }

    public string? LastError { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? CompletedAt { get; set; }
}

public enum WebhookDeliveryStatus
{
    Pending,
    Delivered,
    Failed,
}

/// <summary>One try of a delivery, for its log: when, the answer's status code (or why there was none), how long.</summary>
public sealed class WebhookAttempt
{
    public const int MaxErrorLength = 500;

    public long Id { get; set; }

    public long DeliveryId { get; set; }

    public DateTime At { get; set; }

    public int? StatusCode { get; set; }

    public string? Error { get; set; }

    public int DurationMs { get; set; }
}
