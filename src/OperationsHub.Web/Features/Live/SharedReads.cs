using OperationsHub.Core.Feed;

namespace OperationsHub.Web.Features.Live;

/// <summary>
/// Lets live pages that show the same thing share one database read per change. When a change lands, every circuit
/// watching the tenant re-queries its view; a hundred admins on the default runs grid would send a hundred identical
/// queries. Here the first caller after a change runs the query and the others await the same result. A result is
/// reused only if its read started after the caller's latest change was published (so it already reflects it) and only
/// for a short while (so time-based figures, such as "failed in the last 24 h", stay current).
/// </summary>
public sealed class SharedReads(IRunChangeFeed feed, TimeProvider time)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);
    private const int MaxEntries = 1024;

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>
    /// The result of <paramref name="read"/> for <paramref name="key"/>, shared with other callers of the same key that
    /// arrive before the next change. The read itself is not cancelled by one caller leaving; only the wait is.
    /// </summary>
    public Task<T> GetAsync<T>(string key, Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        var sequence = feed.Sequence; // observed before the read starts: the read reflects at least this change
        var now = time.GetTimestamp();
        Task<T> shared;
        TaskCompletionSource<T>? mine = null;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Sequence >= sequence
                && time.GetElapsedTime(entry.StartedAt, now) < MaxAge
                && entry.Task is Task<T> { IsFaulted: false, IsCanceled: false } existing)
            {
                shared = existing;
            }
            else
            {
                if (_entries.Count >= MaxEntries)
                {
                    _entries.Clear();
                }

                // Completions run asynchronously: the reader's thread must not go on to render every waiting circuit.
                mine = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
                shared = mine.Task;
                _entries[key] = new Entry(sequence, now, shared);
            }
        }

        if (mine is not null)
        {
            // Outside the lock: SQLite reads complete synchronously, so a read started under it would hold it throughout.
            _ = ReadIntoAsync(mine, read);
        }

        return shared.WaitAsync(cancellationToken);
    }

    private static async Task ReadIntoAsync<T>(TaskCompletionSource<T> target, Func<CancellationToken, Task<T>> read)
    {
        try
        {
            target.SetResult(await read(CancellationToken.None));
        }
        catch (Exception ex)
        {
            target.SetException(ex);
        }
    }

    private sealed record Entry(long Sequence, long StartedAt, Task Task);
}
