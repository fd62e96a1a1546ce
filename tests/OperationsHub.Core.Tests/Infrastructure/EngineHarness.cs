using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Worker;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Testing;

namespace OperationsHub.Core.Tests.Infrastructure;

/// <summary>
/// The engine wired as in production, on a real database of its own (a SQLite file, or a fresh PostgreSQL database),
/// without the Quartz host: tests drive the executor and recovery directly. The dispatcher and the clock are fakes
/// the test controls.
/// </summary>
public sealed class EngineHarness : IAsyncDisposable
{
    private readonly TestDatabase _database;

    private EngineHarness(TestDatabase database, ServiceProvider services, FakeTimeProvider? time)
    {
        _database = database;
        Services = services;
        Time = time;
    }

    public TestProvider Provider => _database.Provider;

    public ServiceProvider Services { get; }

    /// <summary>Null when the harness runs on the real clock.</summary>
    public FakeTimeProvider? Time { get; }

    public FakeDispatcher Dispatcher => (FakeDispatcher)Services.GetRequiredService<IRunDispatcher>();

    public OperationRunService Runs => Services.GetRequiredService<OperationRunService>();

    internal RunTransitions Transitions => Services.GetRequiredService<RunTransitions>();

    internal RunExecutor Executor => Services.GetRequiredService<RunExecutor>();

    internal RunRecovery Recovery => Services.GetRequiredService<RunRecovery>();

    internal RunRetention Retention => Services.GetRequiredService<RunRetention>();

    internal IRunChangeFeed Feed => Services.GetRequiredService<IRunChangeFeed>();

    public WorkerIdentity Worker => Services.GetRequiredService<WorkerIdentity>();

    public long TenantId { get; private set; }

    public long OtherTenantId { get; private set; }

    public RunInitiator Alice { get; private set; } = null!;

    public RunInitiator Bob { get; private set; } = null!;

    public static async Task<EngineHarness> CreateAsync(
        TestProvider provider,
        bool fakeTime = false,
        IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configure = null)
    {
        var database = await TestDatabase.CreateAsync(provider);
        var values = new Dictionary<string, string?>(database.Settings)
        {
            ["ChangeFeed:MinInterval"] = "00:00:00",
            ["Worker:Enabled"] = "false",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSingleton<Microsoft.Extensions.Hosting.IHostApplicationLifetime, Microsoft.Extensions.Hosting.Internal.ApplicationLifetime>();
        FakeTimeProvider? time = null;
        if (fakeTime)
        {
            time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 9, 0, 0, TimeSpan.Zero));
            services.AddSingleton<TimeProvider>(time);
        }

        services.AddSingleton<IRunDispatcher, FakeDispatcher>();
        services.AddOperationsHub(configuration, TestDatabase.Storage);
        TestOperations.Register(services);
        configure?.Invoke(services);

        var built = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        await built.MigrateHubDatabaseAsync();
        var harness = new EngineHarness(database, built, time);
        await harness.SeedAsync();
        return harness;
    }

    public async Task<HubDbContext> DbAsync() =>
        await Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync();

    public async Task<OperationRun> GetRunAsync(long runId)
    {
        await using var db = await DbAsync();
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId);
    }

    public async Task<List<OperationRunEvent>> GetEventsAsync(long runId)
    {
        await using var db = await DbAsync();
        return await db.RunEvents.AsNoTracking().Where(e => e.RunId == runId).OrderBy(e => e.Id).ToListAsync();
    }

    public async Task<List<UserNotification>> GetNotificationsAsync(long runId)
    {
        await using var db = await DbAsync();
        return await db.Notifications.AsNoTracking().Where(n => n.RunId == runId).OrderBy(n => n.Id).ToListAsync();
    }

    public Task<StartRunResult> StartAsync(
        string type = TestOperations.Succeed,
        IReadOnlyDictionary<string, string>? identity = null,
        IReadOnlyDictionary<string, string>? inputs = null,
        RunInitiator? initiator = null,
        long? tenantId = null,
        string? target = null,
        bool system = false) =>
        Runs.StartAsync(new StartRunRequest
        {
            TenantId = tenantId ?? TenantId,
            Type = type,
            IdentityInputs = identity ?? new Dictionary<string, string>(),
            Inputs = inputs ?? new Dictionary<string, string>(),
            Target = target,
            Initiator = system ? null : initiator ?? Alice,
        });

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        await _database.DisposeAsync();
    }

    private async Task SeedAsync()
    {
        await using var db = await DbAsync();
        var contoso = new Tenant { ExternalId = "contoso", Name = "Contoso" };
        var fabrikam = new Tenant { ExternalId = "fabrikam", Name = "Fabrikam" };
        var alice = new HubUser { DisplayName = "Alice Admin", Email = "alice@contoso.test" };
        var bob = new HubUser { DisplayName = "Bob Builder", Email = "bob@contoso.test" };
        db.AddRange(contoso, fabrikam, alice, bob);
        await db.SaveChangesAsync();
        TenantId = contoso.Id;
        OtherTenantId = fabrikam.Id;
        Alice = new RunInitiator(alice.Id, alice.DisplayName);
        Bob = new RunInitiator(bob.Id, bob.DisplayName);
    }
}

/// <summary>Records dispatched runs; can be told to throw, as a broken hand-over would.</summary>
public sealed class FakeDispatcher : IRunDispatcher
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<long> _dispatched = new();

    public Exception? ThrowOnDispatch { get; set; }

    public IReadOnlyCollection<long> Dispatched => [.. _dispatched];

    public Task DispatchAsync(long runId, CancellationToken cancellationToken)
    {
        if (ThrowOnDispatch is { } exception)
        {
            throw exception;
        }

        _dispatched.Enqueue(runId);
        return Task.CompletedTask;
    }
}

public static class WaitFor
{
    /// <summary>Waits for asynchronous work to reach a state; fails with <paramref name="what"/> after the timeout.</summary>
    public static async Task ConditionAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for: {what}");
            }

            await Task.Delay(10);
        }
    }
}
