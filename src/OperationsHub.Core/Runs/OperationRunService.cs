using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OperationsHub.Core.Data;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Worker;

namespace OperationsHub.Core.Runs;

/// <summary>
/// The one way to start work. Every start surface (a button, the HTTP API, the demo seed) calls
/// <see cref="StartAsync"/> and gets a run back at once: a new one, or the active run of the same identity.
/// </summary>
public sealed partial class OperationRunService
{
    // A completed run can free its identity between our failed insert and our look-up; a few retries settle it.
    private const int MaxInsertAttempts = 5;
    private const int SqliteConstraintUnique = 2067;

    // The run, queued, with its counters at zero; the partial unique index on active identities decides dedupe.
    private const string InsertRunSql =
        "INSERT INTO operation_runs (tenant_id, type, status, outcome, run_identity_hash, target, context_json,"
        + " total_count, processed_count, succeeded_count, failed_count, skipped_count, failure_total,"
        + " initiator_user_id, initiator_name, created_at, updated_at, attempt, version)"
        + " VALUES (@tenant_id, @type, 'Queued', 'Pending', @hash, @target, @context, 0, 0, 0, 0, 0, 0,"
        + " @initiator_user_id, @initiator_name, @now, @now, 0, 1) RETURNING id";

    private readonly IDbContextFactory<HubDbContext> _dbFactory;
    private readonly WriteGate _writeGate;
    private readonly RunTransitions _transitions;
    private readonly IRunDispatcher _dispatcher;
    private readonly IRunChangeFeed _feed;
    private readonly OperationTypeRegistry _registry;
    private readonly HubMetrics _metrics;
    private readonly ILogger<OperationRunService> _logger;

    internal OperationRunService(
        IDbContextFactory<HubDbContext> dbFactory,
        WriteGate writeGate,
        RunTransitions transitions,
        IRunDispatcher dispatcher,
        IRunChangeFeed feed,
        OperationTypeRegistry registry,
        HubMetrics metrics,
        ILogger<OperationRunService> logger)
    {
        _dbFactory = dbFactory;
        _writeGate = writeGate;
        _transitions = transitions;
        _dispatcher = dispatcher;
        _feed = feed;
        _registry = registry;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>
    /// Records a run (or finds the active run of the same identity) and hands it to the worker.
    /// Insert first: the partial unique index decides dedupe, so concurrent identical starts yield one run.
    /// If the hand-off throws, the run is failed with <c>dispatch_failed</c> before this method returns.
    /// </summary>
    /// <exception cref="UnknownOperationTypeException">No handler is registered for the type.</exception>
    public async Task<StartRunResult> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_registry.TryGet(request.Type, out var descriptor))
        {
            throw new UnknownOperationTypeException(request.Type);
        }

        var hash = RunIdentity.ComputeHash(request.TenantId, request.Type, request.IdentityInputs);
        var context = SanitizeContext(request);
        var contextJson = RunJson.SerializeContext(context);

        for (var attempt = 1; ; attempt++)
        {
            var inserted = await TryInsertAsync(request, descriptor, hash, context.Target, contextJson, cancellationToken);
            if (inserted is not null)
            {
                _metrics.RunStarted(request.Type);
                _feed.Publish(new RunChanged(inserted.Id, inserted.TenantId, inserted.InitiatorUserId, 1));
                LogRunCreated(_logger, inserted.Id, request.Type, request.TenantId);
                return new StartRunResult(await DispatchAsync(inserted, cancellationToken), Deduped: false);
            }

            var active = await FindActiveAsync(request.TenantId, hash, cancellationToken);
            if (active is not null)
            {
                _metrics.RunDeduped(request.Type);
                LogRunDeduped(_logger, active.Id, request.Type, request.TenantId);
                return new StartRunResult(active, Deduped: true);
            }

            if (attempt >= MaxInsertAttempts)
            {
                throw new InvalidOperationException(
                    "The run could not be started: its identity stayed taken but no active run was found.");
            }
        }
    }

    /// <summary>
    /// Cancels a run: a queued run ends as Cancelled at once; a running run is asked to stop and ends as Cancelled
    /// when its handler observes it. Returns false when the run is already completed (or already cancelling).
    /// The caller checks the user's right to cancel before calling.
    /// </summary>
    public async Task<bool> CancelAsync(long runId, string requestedBy, CancellationToken cancellationToken = default)
    {
        var who = Sanitizer.SanitizeText(requestedBy, 200);
        if (await _transitions.TryCancelQueuedAsync(runId, who, cancellationToken) is { } cancelled)
        {
            _metrics.RunCompleted(cancelled.Type, RunOutcome.Cancelled);
            return true;
        }

        return await _transitions.TryRequestCancelAsync(runId, who, cancellationToken) is not null;
    }

    private async Task<RunSummary?> TryInsertAsync(
        StartRunRequest request, OperationTypeDescriptor descriptor, string hash, string? target, string contextJson, CancellationToken ct)
    {
        var now = _transitions.UtcNow;
        var initiatorName = request.Initiator is null ? null : Sanitizer.SanitizeText(request.Initiator.DisplayName, 200);
        var by = initiatorName is null ? "by the system" : $"by {initiatorName}";
        var id = await _writeGate.WriteAsync<long?>(writer =>
        {
            var insert = writer.Command(InsertRunSql);
            insert.Parameters.AddWithValue("@tenant_id", request.TenantId);
            insert.Parameters.AddWithValue("@type", request.Type);
            insert.Parameters.AddWithValue("@hash", hash);
            insert.Parameters.AddWithValue("@target", (object?)target ?? DBNull.Value);
            insert.Parameters.AddWithValue("@context", contextJson);
            insert.Parameters.AddWithValue("@initiator_user_id", (object?)request.Initiator?.UserId ?? DBNull.Value);
            insert.Parameters.AddWithValue("@initiator_name", (object?)initiatorName ?? DBNull.Value);
            insert.Parameters.AddWithValue("@now", now);
            long runId;
            try
            {
                runId = (long)insert.ExecuteScalar()!;
            }
            catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteConstraintUnique)
            {
                return null; // an active run of the same identity exists (the failed statement wrote nothing)
            }

            RunTransitions.InsertEvent(writer, runId, RunEventKinds.Created, $"Queued {by}.", now);
            if (request.Initiator is { } initiator)
            {
                RunTransitions.InsertNotification(writer, initiator.UserId, request.TenantId, runId, NotificationKinds.Queued,
                    RunOutcome.Pending, RunTexts.QueuedTitle(descriptor.DisplayName),
                    target is null ? "Queued." : $"Queued for {target}.", now);
            }

            return runId;
        }, ct);

        if (id is not { } newId)
        {
            return null;
        }

        return new RunSummary(newId, request.TenantId, request.Type, RunStatus.Queued, RunOutcome.Pending, now, request.Initiator?.UserId);
    }

    private async Task<RunSummary> DispatchAsync(RunSummary run, CancellationToken ct)
    {
        try
        {
            await _dispatcher.DispatchAsync(run.Id, ct);
            return run;
        }
        catch (Exception ex)
        {
            // No run may sit in "Queued" for work nobody will do: fail it before the caller sees it.
            var message = Sanitizer.SanitizeText($"The run could not be handed to the worker: {ex.Message}");
            LogDispatchFailed(_logger, run.Id, run.Type, message);
            var failed = await _transitions.TryFailQueuedAsync(
                run.Id, new RunFailure(RunFailureCodes.DispatchFailed, message), CancellationToken.None);
            if (failed is null)
            {
                // Someone else moved it on (recovery dispatched it after all); report what it is now.
                return await FindByIdAsync(run.Id, CancellationToken.None) ?? run;
            }

            _metrics.RunCompleted(run.Type, RunOutcome.Failed);
            return run with { Status = failed.Status, Outcome = failed.Outcome };
        }
    }

    private async Task<RunSummary?> FindActiveAsync(long tenantId, string hash, CancellationToken ct)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking()
            .Where(r => r.TenantId == tenantId && r.RunIdentityHash == hash && r.Status != RunStatus.Completed)
            .Select(r => new RunSummary(r.Id, r.TenantId, r.Type, r.Status, r.Outcome, r.CreatedAt, r.InitiatorUserId))
            .FirstOrDefaultAsync(ct);
    }

    private async Task<RunSummary?> FindByIdAsync(long runId, CancellationToken ct)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking()
            .Where(r => r.Id == runId)
            .Select(r => new RunSummary(r.Id, r.TenantId, r.Type, r.Status, r.Outcome, r.CreatedAt, r.InitiatorUserId))
            .FirstOrDefaultAsync(ct);
    }

    private static RunContext SanitizeContext(StartRunRequest request)
    {
        var inputs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Inputs.Concat(request.IdentityInputs))
        {
            var cleanKey = Sanitizer.SanitizeKey(key);
            inputs[cleanKey] = Sanitizer.SanitizeValue(cleanKey, value);
        }

        var target = request.Target is null ? null : Sanitizer.SanitizeText(request.Target, Sanitizer.MaxValueLength);
        return new RunContext(target, inputs);
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Run {RunId} ({Type}) created for tenant {TenantId}")]
    private static partial void LogRunCreated(ILogger logger, long runId, string type, long tenantId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Start of {Type} for tenant {TenantId} deduped to active run {RunId}")]
    private static partial void LogRunDeduped(ILogger logger, long runId, string type, long tenantId);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "Run {RunId} ({Type}) could not be dispatched and was failed: {Reason}")]
    private static partial void LogDispatchFailed(ILogger logger, long runId, string type, string reason);
}
