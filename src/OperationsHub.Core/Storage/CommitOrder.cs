namespace OperationsHub.Core.Storage;

/// <summary>
/// Ids are not a clock. With several writers (PostgreSQL, several nodes) a row can take its id, or become visible,
/// after a row with a higher id was already read; and a row's creation time is taken by the node that wrote it,
/// shortly before its commit. Readers that must not miss a row (a toast, "N new runs", a time range) therefore never
/// ask for "ids above X": they ask for "created since T minus <see cref="Slack"/>" and remember what they have seen.
/// </summary>
public static class CommitOrder
{
    /// <summary>
    /// How much earlier than its visibility a row's creation time may be, or how far two nodes' clocks may differ:
    /// a write's wait in a group commit and a commit itself take milliseconds, a busy timeout seconds, clock drift
    /// under NTP milliseconds. Two minutes leaves room for all of them at once.
    /// </summary>
    public static readonly TimeSpan Slack = TimeSpan.FromMinutes(2);
}
