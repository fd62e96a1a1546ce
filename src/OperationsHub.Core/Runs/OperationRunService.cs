using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OperationsHub.Core.Data;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
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
    // A completed run can free its identity between our refused insert and our look-up; a few retries settle it.
    private const int MaxInsertAttempts = 5;

    private readonly IDbContextFactory<HubDbContext> _dbFactory;
    private readonly RunTransitions _transitions;
    private readonly IRunDispatcher _dispatcher;
    private readonly OperationTypeRegistry _registry;
    private readonly HubMetrics _metrics;
    private readonly ILogger<OperationRunService> _logger;
    private readonly Dictionary<string, IOperationStartValidator> _validators;

    internal OperationRunService(
        IDbContextFactory<HubDbContext> dbFactory,
        RunTransitions transitions,
        IRunDispatcher dispatcher,
        OperationTypeRegistry registry,
        HubMetrics metrics,
        ILogger<OperationRunService> logger,
        IEnumerable<IOperationStartValidator>? validators = null)
    {
        _validators = (validators ?? []).ToDictionary(v => v.Type, StringComparer.Ordinal);
        _dbFactory = dbFactory;
        _transitions = transitions;
        _dispatcher = dispatcher;
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
    /// <exception cref="StartRejectedException">The type's validator refused the request; nothing was recorded.</exception>
    public async Task<StartRunResult> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_registry.TryGet(request.Type, out var descriptor))
        {
            throw new UnknownOperationTypeException(request.Type);
        }

        if (_validators.TryGetValue(request.Type, out var validator)
            && await validator.ValidateAsync(request, cancellationToken) is { } rejection)
        {
            throw new StartRejectedException(rejection);
        }

        var hash = RunIdentity.ComputeHash(request.TenantId, request.Type, request.IdentityInputs);
        var context = SanitizeContext(request);
        using var activity = HubTracing.StartRun(request.TenantId, request.Type);
        var traceParent = HubTracing.TraceParentOf(activity);

        for (var attempt = 1; ; attempt++)
        {
            var inserted = await _transitions.TryInsertQueuedAsync(request, descriptor, hash, context, traceParent, cancellationToken);
            if (inserted is not null)
            {
                LogRunCreated(_logger, inserted.Id, request.Type, request.TenantId);
                activity?.SetTag(HubTracing.RunIdTag, inserted.Id).SetTag(HubTracing.DedupedTag, false);
                return new StartRunResult(await DispatchAsync(inserted, cancellationToken), Deduped: false);
            }

            var active = await FindActiveAsync(request.TenantId, hash, cancellationToken);
            if (active is not null)
            {
                _metrics.RunDeduped(request.Type);
                LogRunDeduped(_logger, active.Id, request.Type, request.TenantId);
                activity?.SetTag(HubTracing.RunIdTag, active.Id).SetTag(HubTracing.DedupedTag, true);
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
    /// when its handler observes it. Who asked and the reason they gave (optional) go into its timeline. Returns false
    /// when the run is already completed (or already cancelling). The caller checks the user's right to cancel.
    /// </summary>
    public async Task<bool> CancelAsync(long runId, string requestedBy, string? reason = null, CancellationToken cancellationToken = default)
    {
        var who = Sanitizer.SanitizeText(requestedBy, 200);
        var why = string.IsNullOrWhiteSpace(reason) ? null : Sanitizer.SanitizeText(reason, MaxReasonLength);
        return await _transitions.TryCancelQueuedAsync(runId, who, why, cancellationToken) is not null
            || await _transitions.TryRequestCancelAsync(runId, who, why, cancellationToken) is not null;
    }

    /// <summary>How long a reason given for an action (a cancellation) may be.</summary>
    public const int MaxReasonLength = 500;

    private async Task<RunSummary> DispatchAsync(RunSummary run, CancellationToken ct)
    {
        try
        {
            await _dispatcher.DispatchAsync(run.Id, ct);
            return run;
        }
        catch (Exception ex)
        {
            if (await _transitions.FailDispatchAsync(run.Id, ex) is { } failed)
            {
                return run with { Status = failed.Status, Outcome = failed.Outcome };
            }

            // Someone else moved it on (recovery dispatched it after all); report what it is now.
            return await FindByIdAsync(run.Id, CancellationToken.None) ?? run;
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
            // Names are caller text too: scrubbed like values, so a secret typed as a name is not stored or shown.
            var cleanKey = Sanitizer.SanitizeName(key);
            inputs[cleanKey] = Sanitizer.SanitizeValue(cleanKey, value);
        }

        var target = request.Target is null ? null : Sanitizer.SanitizeText(request.Target, Sanitizer.MaxValueLength);
        var items = request.Items is null ? null : request.Items.Select(item => Sanitizer.SanitizeText(item, Sanitizer.MaxValueLength)).ToList();
        var identity = request.IdentityInputs.Count == 0
            ? null
            : request.IdentityInputs.Keys.Select(key => Sanitizer.SanitizeName(key)).Order(StringComparer.Ordinal).ToList();
        return new RunContext(target, inputs, items, identity);
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Run {RunId} ({Type}) created for tenant {TenantId}")]
    private static partial void LogRunCreated(ILogger logger, long runId, string type, long tenantId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Start of {Type} for tenant {TenantId} deduped to active run {RunId}")]
    private static partial void LogRunDeduped(ILogger logger, long runId, string type, long tenantId);
}
