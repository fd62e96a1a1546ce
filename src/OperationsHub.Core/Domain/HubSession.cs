namespace OperationsHub.Core.Domain;

/// <summary>
/// One sign-in, held on the server so it can be ended: the cookie carries a random token and this row is keyed by
/// the token's SHA-256, so the database never holds a usable credential. A session is live while it has not ended,
/// was seen within the idle lifetime and is younger than the absolute lifetime; every request, every circuit
/// revalidation and every action asks.
/// </summary>
public sealed class HubSession
{
    /// <summary>Lower-case hex SHA-256 of the cookie's session token.</summary>
    public required string Id { get; set; }

    public long UserId { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime LastSeenAt { get; set; }

    public DateTime? EndedAt { get; set; }

    /// <summary>Why the session ended, shown to the user whose open page notices it.</summary>
    public SessionEndReason? EndReason { get; set; }
}

public enum SessionEndReason
{
    SignedOut = 1,
    LockedOut = 2,
    Revoked = 3,
}
