namespace OperationsHub.Core.Domain;

/// <summary>An in-app notification for the user who started a run: one when it was queued, one when it ended.</summary>
public sealed class UserNotification
{
    public long Id { get; set; }

    public long UserId { get; set; }

    public long TenantId { get; set; }

    public long RunId { get; set; }

    public OperationRun? Run { get; set; }

    public required string Kind { get; set; }

    public RunOutcome Outcome { get; set; }

    public required string Title { get; set; }

    public required string Body { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? ReadAt { get; set; }
}

public static class NotificationKinds
{
    public const string Queued = "queued";
    public const string Completed = "completed";
}
