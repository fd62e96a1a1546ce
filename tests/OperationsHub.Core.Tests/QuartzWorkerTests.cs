using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using OperationsHub.Core.Data;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Tests.Infrastructure;
using OperationsHub.Core.Worker;

namespace OperationsHub.Core.Tests;

/// <summary>The whole engine in a real generic host: Quartz hosts the worker, which claims runs from the table; recovery runs at start-up.</summary>
public abstract class QuartzWorkerTests(TestProvider provider) : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private IHost _host = null!;
    private HeldCompletions? _held;

    public async ValueTask InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(provider);
        _host = BuildHost();
        await _host.Services.MigrateHubDatabaseAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _held?.Release(); // a failed assertion must not leave the host waiting for held completions
        _host.Dispose();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Worker_DrainsStartedRuns_ThroughQuartz_ToTheirOutcomes()
    {
        var tenantId = await SeedTenantAsync();
        await _host.StartAsync(TestContext.Current.CancellationToken);
        var service = _host.Services.GetRequiredService<OperationRunService>();

        var ids = new List<long>();
        for (var i = 0; i < 60; i++)
        {
            var type = i % 3 == 0 ? TestOperations.Partial : TestOperations.Succeed;
            var result = await service.StartAsync(new StartRunRequest
            {
                TenantId = tenantId,
                Type = type,
                IdentityInputs = new Dictionary<string, string> { ["n"] = $"{i}" },
            }, TestContext.Current.CancellationToken);
            ids.Add(result.Run.Id);
        }

        await WaitFor.ConditionAsync(async () => await CountAsync(r => r.Status == RunStatus.Completed) == 60, "all 60 runs to complete");
        (await CountAsync(r => r.Outcome == RunOutcome.PartiallySucceeded)).Should().Be(20);
        (await CountAsync(r => r.Outcome == RunOutcome.Succeeded)).Should().Be(40);
        (await CountAsync(r => r.Attempt != 1)).Should().Be(0);
    }

    [Fact]
    public async Task Startup_QueuedRunsLeftByACrashBeforeTheHandOver_AreClaimedAndRun()
    {
        var tenantId = await SeedTenantAsync();
        // Rows as a crash between INSERT and the hand-over would leave them: queued, and nobody woke a worker for them.
        await using (var db = await DbAsync())
        {
            for (var i = 0; i < 5; i++)
            {
                db.Runs.Add(new OperationRun
                {
                    TenantId = tenantId, Type = TestOperations.Succeed, Status = RunStatus.Queued,
                    RunIdentityHash = $"crash-{i}", ContextJson = "{}",
                    CreatedAt = DateTime.UtcNow.AddMinutes(-5), UpdatedAt = DateTime.UtcNow.AddMinutes(-5),
                });
            }

            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        await _host.StartAsync(TestContext.Current.CancellationToken);

        await WaitFor.ConditionAsync(async () => await CountAsync(r => r.Outcome == RunOutcome.Succeeded) == 5, "recovered runs to succeed");
    }

    [Fact]
    public async Task RunQueuedWhileTheWorkerIdles_WithoutWakingIt_IsFoundByThePoll()
    {
        // As a run queued by another node looks to this one: a row in the table, and no wake-up on this node.
        var tenantId = await SeedTenantAsync();
        await _host.StartAsync(TestContext.Current.CancellationToken);
        await Task.Delay(300, TestContext.Current.CancellationToken); // the worker's first look has found nothing
        await using (var db = await DbAsync())
        {
            db.Runs.Add(new OperationRun
            {
                TenantId = tenantId, Type = TestOperations.Succeed, Status = RunStatus.Queued,
                RunIdentityHash = "queued-elsewhere", ContextJson = "{}", CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
            });
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        await WaitFor.ConditionAsync(async () => await CountAsync(r => r.Outcome == RunOutcome.Succeeded) == 1,
            "the poll to claim the run", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Metrics_CountStartedAndCompletedRunsByTypeAndOutcome()
    {
        var tenantId = await SeedTenantAsync();
        var meterFactory = _host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var started = new MetricCollector<long>(meterFactory, HubMetrics.MeterName, "operationshub.runs.started");
        using var completed = new MetricCollector<long>(meterFactory, HubMetrics.MeterName, "operationshub.runs.completed");
        using var queueWait = new MetricCollector<double>(meterFactory, HubMetrics.MeterName, "operationshub.runs.queue_wait");
        using var duration = new MetricCollector<double>(meterFactory, HubMetrics.MeterName, "operationshub.runs.duration");
        await _host.StartAsync(TestContext.Current.CancellationToken);
        var service = _host.Services.GetRequiredService<OperationRunService>();

        await service.StartAsync(new StartRunRequest { TenantId = tenantId, Type = TestOperations.Partial }, TestContext.Current.CancellationToken);
        await WaitFor.ConditionAsync(() => Task.FromResult(completed.GetMeasurementSnapshot().Count == 1), "the completed measurement");

        started.GetMeasurementSnapshot().Should().ContainSingle().Which.Tags["type"].Should().Be(TestOperations.Partial);
        var done = completed.GetMeasurementSnapshot().Single();
        done.Tags["type"].Should().Be(TestOperations.Partial);
        done.Tags["outcome"].Should().Be("partially_succeeded");
        queueWait.GetMeasurementSnapshot().Should().ContainSingle().Which.Value.Should().BeGreaterThanOrEqualTo(0);
        duration.GetMeasurementSnapshot().Should().ContainSingle().Which.Tags["outcome"].Should().Be("partially_succeeded");
    }

    [Fact]
    public async Task Worker_NeverRunsMoreThanMaxConcurrencyAtOnce()
    {
        var tenantId = await SeedTenantAsync();
        await _host.StartAsync(TestContext.Current.CancellationToken);
        var service = _host.Services.GetRequiredService<OperationRunService>();
        var gate = _host.Services.GetRequiredService<BlockingGate>();
        var ids = new List<long>();
        for (var i = 0; i < 10; i++)
        {
            var result = await service.StartAsync(new StartRunRequest
            {
                TenantId = tenantId,
                Type = TestOperations.Blocking,
                IdentityInputs = new Dictionary<string, string> { ["n"] = $"{i}" },
            }, TestContext.Current.CancellationToken);
            ids.Add(result.Run.Id);
        }

        await WaitFor.ConditionAsync(async () => await CountAsync(r => r.Status == RunStatus.Running) == MaxConcurrency, "the pool to fill");
        await Task.Delay(300, TestContext.Current.CancellationToken); // give an unbounded worker the chance to overrun
        (await CountAsync(r => r.Status == RunStatus.Running)).Should().Be(MaxConcurrency);
        (await CountAsync(r => r.Status == RunStatus.Queued)).Should().Be(10 - MaxConcurrency);

        foreach (var id in ids)
        {
            gate.Release(id);
        }

        await WaitFor.ConditionAsync(async () => await CountAsync(r => r.Outcome == RunOutcome.Succeeded) == 10, "all runs to finish");
    }

    [Fact]
    public async Task Worker_GivesAFinishedHandlersSlotToTheNextRun_WhileItsCompletionIsWritten_UpToMaxConcurrencyOfThem()
    {
        // Every completion is held at the store: handlers that have returned wait there for their commit.
        var held = await StartWithHeldCompletionsAsync(3 * MaxConcurrency);

        // MaxConcurrency handlers ran and returned; their slots went to MaxConcurrency more, whose completions are held
        // too. Past that the worker claims nothing more: twice MaxConcurrency runs are in its hands.
        await WaitFor.ConditionAsync(() => Task.FromResult(held.Count == 2 * MaxConcurrency), "two rounds of handlers to return");
        await Task.Delay(300, TestContext.Current.CancellationToken); // give an unbounded worker the chance to overrun
        held.Count.Should().Be(2 * MaxConcurrency);
        (await CountAsync(r => r.Status == RunStatus.Running)).Should().Be(2 * MaxConcurrency);
        (await CountAsync(r => r.Status == RunStatus.Queued)).Should().Be(MaxConcurrency);

        _host.Services.GetRequiredService<IWorkerStatus>().Current.Completing.Should().Be(2 * MaxConcurrency);

        held.Release();
        await WaitFor.ConditionAsync(async () => await CountAsync(r => r.Outcome == RunOutcome.Succeeded) == 3 * MaxConcurrency, "all runs to finish");
    }

    [Fact]
    public async Task StoppingWorker_WaitsForTheCompletionsItIsWriting()
    {
        var held = await StartWithHeldCompletionsAsync(MaxConcurrency);
        await WaitFor.ConditionAsync(() => Task.FromResult(held.Count == MaxConcurrency), "every handler to return");

        var stopped = _host.StopAsync(TestContext.Current.CancellationToken);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        stopped.IsCompleted.Should().BeFalse("the completions are still being written");

        held.Release();
        await stopped;
        (await CountAsync(r => r.Outcome == RunOutcome.Succeeded)).Should().Be(MaxConcurrency);
    }

    /// <summary>A host whose store holds every completion, with <paramref name="runs"/> quick runs started.</summary>
    private async Task<HeldCompletions> StartWithHeldCompletionsAsync(int runs)
    {
        var held = _held = new HeldCompletions();
        _host.Dispose();
        // Held runs get no heartbeat: a lease long enough that recovery never requeues them while the test looks.
        _host = BuildHost(held.Decorate, new() { ["Worker:LeaseDuration"] = "00:01:00" });
        var tenantId = await SeedTenantAsync();
        await _host.StartAsync(TestContext.Current.CancellationToken);
        var service = _host.Services.GetRequiredService<OperationRunService>();
        for (var i = 0; i < runs; i++)
        {
            await service.StartAsync(new StartRunRequest
            {
                TenantId = tenantId,
                Type = TestOperations.Succeed,
                IdentityInputs = new Dictionary<string, string> { ["n"] = $"{i}" },
            }, TestContext.Current.CancellationToken);
        }

        return held;
    }

    private const int MaxConcurrency = 4;

    private IHost BuildHost(Action<IServiceCollection>? configure = null, Dictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(_database.Settings)
        {
            ["Worker:MaxConcurrency"] = $"{MaxConcurrency}",
            ["Worker:PollInterval"] = "00:00:00.500",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.Services.AddOperationsHub(builder.Configuration, TestDatabase.Storage);
        TestOperations.Register(builder.Services);
        configure?.Invoke(builder.Services);
        return builder.Build();
    }

    private async Task<long> SeedTenantAsync()
    {
        await using var db = await DbAsync();
        var tenant = new Tenant { ExternalId = "t", Name = "T" };
        db.Tenants.Add(tenant);
        await db.SaveChangesAsync();
        return tenant.Id;
    }

    private async Task<int> CountAsync(System.Linq.Expressions.Expression<Func<OperationRun, bool>> predicate)
    {
        await using var db = await DbAsync();
        return await db.Runs.CountAsync(predicate);
    }

    private Task<HubDbContext> DbAsync() =>
        _host.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync();
}

/// <summary>The provider's run store with every completion held until <see cref="Release"/>; everything else passes through.</summary>
internal sealed class HeldCompletions
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;

    /// <summary>Completions waiting now.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Release() => _released.TrySetResult();

    /// <summary>Wraps the registered <see cref="IRunStore"/>.</summary>
    public void Decorate(IServiceCollection services)
    {
        var inner = services.Last(d => d.ServiceType == typeof(IRunStore));
        services.Remove(inner);
        services.AddSingleton<IRunStore>(sp => new Store((IRunStore)inner.ImplementationFactory!(sp), this));
    }

    private async Task HoldAsync(RunTransition transition)
    {
        if (transition is RunTransition.Complete)
        {
            Interlocked.Increment(ref _count);
            await _released.Task;
        }
    }

    private sealed class Store(IRunStore inner, HeldCompletions held) : IRunStore
    {
        public Task<long?> InsertQueuedAsync(NewRun run, RunEffects effects, CancellationToken cancellationToken) =>
            inner.InsertQueuedAsync(run, effects, cancellationToken);

        public Task<IReadOnlyList<RunRow>> ClaimAsync(RunClaim claim, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken) =>
            inner.ClaimAsync(claim, effects, cancellationToken);

        public async Task<RunRow?> ApplyAsync(RunTransition transition, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken)
        {
            await held.HoldAsync(transition);
            return await inner.ApplyAsync(transition, effects, cancellationToken);
        }

        public async Task<RunRow?> ApplyAsync(RunTransition transition, RunEffects effects, CancellationToken cancellationToken)
        {
            await held.HoldAsync(transition);
            return await inner.ApplyAsync(transition, effects, cancellationToken);
        }

        public Task<HeartbeatOutcome> HeartbeatAsync(Heartbeat heartbeat, CancellationToken cancellationToken) =>
            inner.HeartbeatAsync(heartbeat, cancellationToken);

        public Task ReleaseLeaseAsync(long runId, string owner, int attempt, DateTime now, CancellationToken cancellationToken) =>
            inner.ReleaseLeaseAsync(runId, owner, attempt, now, cancellationToken);

        public Task<int> AppendLogAsync(long runId, string owner, int attempt, IReadOnlyList<LogEntry> lines, CancellationToken cancellationToken) =>
            inner.AppendLogAsync(runId, owner, attempt, lines, cancellationToken);

        public Task AppendEventAsync(long runId, string kind, string message, DateTime at, CancellationToken cancellationToken) =>
            inner.AppendEventAsync(runId, kind, message, at, cancellationToken);

        public Task<IReadOnlyList<PrunedRun>> PruneAsync(DateTime cutoff, int batchSize, CancellationToken cancellationToken) =>
            inner.PruneAsync(cutoff, batchSize, cancellationToken);

        public bool IsTransient(Exception exception) => inner.IsTransient(exception);

        public Task<DateTime> ReadClockAsync(CancellationToken cancellationToken) => inner.ReadClockAsync(cancellationToken);
    }
}

public sealed class QuartzWorkerTestsOnSqlite() : QuartzWorkerTests(TestProvider.Sqlite);

public sealed class QuartzWorkerTestsOnPostgreSql() : QuartzWorkerTests(TestProvider.PostgreSql);
