using Quartz;

namespace OperationsHub.Core.Worker;

/// <summary>Hands a queued run to the worker. A throw means the run will not execute and must be failed.</summary>
public interface IRunDispatcher
{
    Task DispatchAsync(long runId, CancellationToken cancellationToken);

    /// <summary>Whether a trigger for the run is waiting or firing on this node.</summary>
    Task<bool> IsDispatchedAsync(long runId, CancellationToken cancellationToken);
}

/// <summary>Schedules one Quartz trigger per run, start now, for the single durable <see cref="RunOperationJob"/>.</summary>
internal sealed class QuartzRunDispatcher(ISchedulerFactory schedulerFactory) : IRunDispatcher
{
    public const string TriggerGroup = "runs";

    public async Task DispatchAsync(long runId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulerFactory.GetScheduler(cancellationToken);
        var trigger = TriggerBuilder.Create()
            .WithIdentity(TriggerKeyFor(runId))
            .ForJob(RunOperationJob.Key)
            .UsingJobData(RunOperationJob.RunIdKey, runId)
            .StartNow()
            .WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();
        try
        {
            await scheduler.ScheduleJob(trigger, default(ScheduleJobOptions), cancellationToken);
        }
        catch (ObjectAlreadyExistsException)
        {
            // Recovery and the start request can race to dispatch the same run; one trigger is all it needs.
        }
    }

    public async Task<bool> IsDispatchedAsync(long runId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulerFactory.GetScheduler(cancellationToken);
        return await scheduler.Exists(TriggerKeyFor(runId), cancellationToken);
    }

    private static TriggerKey TriggerKeyFor(long runId) =>
        new(runId.ToString(System.Globalization.CultureInfo.InvariantCulture), TriggerGroup);
}
