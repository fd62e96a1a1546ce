using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Webhooks;
using OperationsHub.Core.Worker;
using Quartz;

namespace OperationsHub.Core;

public static class OperationsHubServiceCollectionExtensions
{
    /// <summary>
    /// The engine: database, run service, change feed, and (when <c>Worker:Enabled</c>) the Quartz-hosted worker
    /// with its recovery and retention jobs. <paramref name="storage"/> offers the database providers the host can run
    /// on (<c>storage =&gt; storage.AddSqlite().AddPostgreSql()</c>); <c>Database:Provider</c> picks one. Register
    /// operation types with <see cref="AddOperationType{THandler}"/>.
    /// </summary>
    public static IServiceCollection AddOperationsHub(
        this IServiceCollection services, IConfiguration configuration, Action<HubStorageBuilder> storage)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(storage);
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddHubDatabase(configuration, storage);

        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WorkerOptions>, ValidateWorkerOptions>();
        services.AddOptions<ChangeFeedOptions>().BindConfiguration(ChangeFeedOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ChangeFeedOptions>, ValidateChangeFeedOptions>();
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RetentionOptions>, ValidateRetentionOptions>();
        services.AddOptions<BulkActionOptions>().BindConfiguration(BulkActionOptions.SectionName)
            .Validate(o => o.MaxRuns is >= 1 and <= 100_000, "BulkActions:MaxRuns must be between 1 and 100000.").ValidateOnStart();

        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, ValidateWebhookOptions>();
        services.AddDataProtection();
        services.AddSingleton<WebhookSecrets>();
        services.AddSingleton<WebhookListeners>();
        services.AddSingleton<WebhookSender>();
        services.AddHttpClient(WebhookSender.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan) // each request has its own
            .ConfigurePrimaryHttpMessageHandler(sp => WebhookSender.CreateHandler(sp.GetRequiredService<IOptions<WebhookOptions>>()));

        services.AddSingleton<HubMetrics>();
        services.AddSingleton<OperationTypeRegistry>();
        // One node's feed; a provider that relays changes between nodes (PostgreSQL) registers its own first.
        services.TryAddSingleton<IRunChangeFeed, InProcessRunChangeFeed>();
        services.AddSingleton<DatabaseClock>();
        // Before Quartz's hosted service (registered below): the worker's first leases are on the database's clock.
        services.AddHostedService<DatabaseClockSync>();
        services.AddSingleton<RunTransitions>();
        services.AddSingleton(sp => new OperationRunService(
            sp.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<HubDbContext>>(),
            sp.GetRequiredService<RunTransitions>(),
            sp.GetRequiredService<IRunDispatcher>(),
            sp.GetRequiredService<OperationTypeRegistry>(),
            sp.GetRequiredService<HubMetrics>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<OperationRunService>>(),
            sp.GetServices<IOperationStartValidator>()));
        services.TryAddSingleton<WorkerIdentity>();
        services.AddSingleton<RunExecutor>();
        services.AddSingleton<RunWorker>();
        services.AddSingleton<IWorkerStatus>(sp => sp.GetRequiredService<RunWorker>());
        services.AddSingleton<RunRecovery>();
        services.AddSingleton<RunRetention>();
        services.TryAddSingleton<IRunDispatcher, WorkerWakeDispatcher>();
        // Bulk actions are runs of the engine's own type, on every node that runs the worker.
        services.AddOperationType<BulkActionHandler>(BulkActions.Descriptor);

        // Quartz hosts four jobs: the webhook sender, the worker (one long-running job that claims runs from the database and executes
        // them on the thread pool, up to Worker:MaxConcurrency at once), recovery and retention.
        var worker = configuration.GetSection(WorkerOptions.SectionName).Get<WorkerOptions>() ?? new WorkerOptions();
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s => s.InstanceName = "OperationsHub");
            q.UseInMemoryStore();
            q.UseDefaultThreadPool(tp => tp.MaxConcurrency = 4);
            q.AddJob<WorkerJob>(j => j.WithIdentity(WorkerJob.Key).StoreDurably());
            q.AddTrigger(t => t.WithIdentity("worker", "operationshub").ForJob(WorkerJob.Key).StartNow());
            // The webhook sender: one long-running job like the worker, sending the outbox the lifecycle writes.
            q.AddJob<WebhookJob>(j => j.WithIdentity(WebhookJob.Key).StoreDurably());
            q.AddTrigger(t => t.WithIdentity("webhooks", "operationshub").ForJob(WebhookJob.Key).StartNow());
            q.AddJob<RecoveryJob>(j => j.WithIdentity(RecoveryJob.Key).StoreDurably());
            q.AddTrigger((sp, t) => t
                .WithIdentity("recovery", "operationshub")
                .ForJob(RecoveryJob.Key)
                .StartNow()
                .WithSimpleSchedule(s => s
                    .WithInterval(sp.GetRequiredService<IOptions<WorkerOptions>>().Value.RecoveryInterval)
                    .RepeatForever()
                    .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)));
            q.AddJob<RetentionJob>(j => j.WithIdentity(RetentionJob.Key).StoreDurably());
            q.AddTrigger((sp, t) => t
                .WithIdentity("retention", "operationshub")
                .ForJob(RetentionJob.Key)
                .StartAt(DateTimeOffset.UtcNow.AddMinutes(1))
                .WithSimpleSchedule(s => s
                    .WithInterval(sp.GetRequiredService<IOptions<RetentionOptions>>().Value.Interval)
                    .RepeatForever()
                    .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)));
        });

        if (worker.Enabled)
        {
            services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        }

        return services;
    }

    /// <summary>Registers an operation type and its handler (resolved per run, in a scope of its own).</summary>
    public static IServiceCollection AddOperationType<THandler>(this IServiceCollection services, OperationTypeDescriptor descriptor)
        where THandler : class, IOperationHandler
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        services.AddSingleton(descriptor);
        services.AddKeyedScoped<IOperationHandler, THandler>(descriptor.Type);
        return services;
    }
}
