using System.Diagnostics.Metrics;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Diagnostics;

/// <summary>The "OperationsHub" meter: what an operator graphs to see whether the worker keeps up.</summary>
public sealed class HubMetrics
{
    public const string MeterName = "OperationsHub";

    private readonly Counter<long> _started;
    private readonly Counter<long> _deduped;
    private readonly Counter<long> _completed;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _duration;

    public HubMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _started = meter.CreateCounter<long>("operationshub.runs.started", "{run}", "Runs created (not deduped).");
        _deduped = meter.CreateCounter<long>("operationshub.runs.deduped", "{run}", "Start requests deduped to an active run.");
        _completed = meter.CreateCounter<long>("operationshub.runs.completed", "{run}", "Runs that reached a terminal outcome.");
        _queueWait = meter.CreateHistogram<double>("operationshub.runs.queue_wait", "s", "Time from creation to claim by a worker.");
        _duration = meter.CreateHistogram<double>("operationshub.runs.duration", "s", "Time from claim to completion.");
    }

    internal void RunStarted(string type) => _started.Add(1, new KeyValuePair<string, object?>("type", type));

    internal void RunDeduped(string type) => _deduped.Add(1, new KeyValuePair<string, object?>("type", type));

    internal void RunCompleted(string type, RunOutcome outcome) => _completed.Add(
        1, new KeyValuePair<string, object?>("type", type), new KeyValuePair<string, object?>("outcome", HubTracing.OutcomeName(outcome)));

    internal void QueueWait(string type, TimeSpan wait) =>
        _queueWait.Record(Math.Max(0, wait.TotalSeconds), new KeyValuePair<string, object?>("type", type));

    internal void RunDuration(string type, RunOutcome outcome, TimeSpan duration) => _duration.Record(
        Math.Max(0, duration.TotalSeconds),
        new KeyValuePair<string, object?>("type", type),
        new KeyValuePair<string, object?>("outcome", HubTracing.OutcomeName(outcome)));

}
