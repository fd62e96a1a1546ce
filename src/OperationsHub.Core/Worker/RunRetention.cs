using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Storage;
using Quartz;

namespace OperationsHub.Core.Worker;

public sealed class RetentionOptions
{
    public const string SectionName = "Retention";

    /// <summary>Completed runs older than this are deleted, with their events and notifications.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(90);

    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Runs deleted per transaction: small enough that the writer lock is never held for long.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>Batches per pass; the rest waits for the next pass.</summary>
    public int MaxBatchesPerPass { get; set; } = 200;
}

internal sealed class ValidateRetentionOptions : IValidateOptions<RetentionOptions>
{
    public ValidateOptionsResult Validate(string? name, RetentionOptions o)
    {
        var failures = new List<string>();
        if (o.MaxAge < TimeSpan.FromHours(1))
        {
            failures.Add("Retention:MaxAge must be at least one hour.");
        }

        if (o.Interval < TimeSpan.FromSeconds(1))
        {
            failures.Add("Retention:Interval must be at least one second.");
        }

        if (o.BatchSize is < 1 or > 10_000)
        {
            failures.Add("Retention:BatchSize must be between 1 and 10000.");
        }

        if (o.MaxBatchesPerPass < 1)
        {
            failures.Add("Retention:MaxBatchesPerPass must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// Deletes completed runs past their retention age in bounded batches (one commit each, so the writer is never held
/// for long), and tells open pages. Active runs are never touched.
/// </summary>
internal sealed partial class RunRetention(
    IRunStore store,
    IRunChangeFeed feed,
    IOptions<RetentionOptions> options,
    TimeProvider time,
    ILogger<RunRetention> logger)
{
    public async Task<int> PruneAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var cutoff = time.GetUtcNow().UtcDateTime - settings.MaxAge;
        var deleted = 0;
        for (var batch = 0; batch < settings.MaxBatchesPerPass; batch++)
        {
            var pruned = await store.PruneAsync(cutoff, settings.BatchSize, ct);
            deleted += pruned.Count;
            foreach (var run in pruned)
            {
                // Version 0: the run is gone. Pages showing it re-query and drop it.
                feed.Publish(new RunChanged(run.RunId, run.TenantId, run.InitiatorUserId, 0));
            }

            if (pruned.Count < settings.BatchSize)
            {
                break;
            }
        }

        if (deleted > 0)
        {
            LogPruned(logger, deleted, settings.MaxAge.TotalDays);
        }

        return deleted;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Retention deleted {Count} completed runs older than {Days} days")]
    private static partial void LogPruned(ILogger logger, int count, double days);
}

[DisallowConcurrentExecution]
internal sealed class RetentionJob(RunRetention retention) : IJob
{
    public static readonly JobKey Key = new("retention", "operationshub");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        await retention.PruneAsync(cancellationToken);
}
