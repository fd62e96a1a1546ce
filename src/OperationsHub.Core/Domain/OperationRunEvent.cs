namespace OperationsHub.Core.Domain;

/// <summary>One entry of a run's timeline, written in the same transaction as the transition it records.</summary>
public sealed class OperationRunEvent
{
    public long Id { get; set; }

    public long RunId { get; set; }

    public OperationRun? Run { get; set; }

    public required string Kind { get; set; }

    public required string Message { get; set; }

    public DateTime At { get; set; }
}

/// <summary>The kinds of timeline events the engine writes.</summary>
public static class RunEventKinds
{
    public const string Created = "created";
    public const string Started = "started";
    public const string Requeued = "requeued";
    public const string CancelRequested = "cancel_requested";
    public const string Completed = "completed";

    /// <summary>A completed run was retried: the event names the new run and who asked.</summary>
    public const string Retried = "retried";

    /// <summary>What a handler reports about its work (directory sync's counts, a restore's assignments).</summary>
    public const string Note = "note";
}
