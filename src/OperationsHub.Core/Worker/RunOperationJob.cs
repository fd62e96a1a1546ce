using Microsoft.Extensions.Hosting;
using Quartz;

namespace OperationsHub.Core.Worker;

/// <summary>The one Quartz job that runs every operation: a thin shell around <see cref="RunExecutor"/>.</summary>
internal sealed class RunOperationJob(RunExecutor executor, IHostApplicationLifetime lifetime) : IJob
{
    public static readonly JobKey Key = new("run-operation", "operationshub");
    public const string RunIdKey = "runId";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var runId = context.MergedJobDataMap.GetLong(RunIdKey);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(
            cancellationToken, lifetime.ApplicationStopping);
        await executor.ExecuteAsync(runId, stopping.Token);
    }
}
