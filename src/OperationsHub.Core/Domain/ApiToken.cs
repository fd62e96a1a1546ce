namespace OperationsHub.Core.Domain;

/// <summary>
/// A hub API token: how another app calls the API of one tenant with one role, without a browser. The secret is shown
/// once, when it is created; the database keeps only its SHA-256 (a token is 256 random bits, so a fast hash is
/// enough and a lookup by hash is the whole check) and a short hint to tell tokens apart in the list.
/// </summary>
public sealed class ApiToken
{
    public const int MaxNameLength = 80;

    public long Id { get; set; }

    public long TenantId { get; set; }

    /// <summary>What the token is for, unique among the tenant's tokens ("ci-pipeline").</summary>
    public required string Name { get; set; }

    /// <summary>The most the token may do; at use it is capped by its creator's role in the tenant at that moment.</summary>
    public TenantRole Role { get; set; }

    /// <summary>Lower-case hex SHA-256 of the whole token text.</summary>
    public required string SecretHash { get; set; }

    /// <summary>The token's first characters ("opshub_k3Xz"), for the list and for matching a leaked token.</summary>
    public required string Hint { get; set; }

    /// <summary>Who created it: runs it starts are theirs (notifications go to them), and it acts with at most their role.</summary>
    public long CreatedByUserId { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime ExpiresAt { get; set; }

    /// <summary>When a request last authenticated with it (written within seconds, off the request path).</summary>
    public DateTime? LastUsedAt { get; set; }

    public DateTime? RevokedAt { get; set; }

    public string? RevokedBy { get; set; }
}

/// <summary>
/// Who did what to a tenant's settings, outside any run (a run's own trail is its timeline): created or revoked an API
/// token. Written in the same commit as the change it records.
/// </summary>
public sealed class AuditEvent
{
    public long Id { get; set; }

    public long TenantId { get; set; }

    public DateTime At { get; set; }

    /// <summary>The person who acted (null when they have since been deleted).</summary>
    public long? ActorUserId { get; set; }

    public required string ActorName { get; set; }

    /// <summary>A stable name for the kind of change: see <see cref="AuditActions"/>.</summary>
    public required string Action { get; set; }

    /// <summary>What changed, in a sentence an admin reads ("Created API token 'ci-pipeline' (Operator, expires 2027-03-01).").</summary>
    public required string Detail { get; set; }
}

public static class AuditActions
{
    public const string ApiTokenCreated = "api_token.created";
    public const string ApiTokenRevoked = "api_token.revoked";
    public const string WebhookCreated = "webhook.created";
    public const string WebhookDeleted = "webhook.deleted";
    public const string WebhookDeliveryResent = "webhook.delivery_resent";
}
