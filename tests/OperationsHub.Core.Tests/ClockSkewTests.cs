using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>
/// Lifecycle times follow the database's clock, not the node's: a node whose clock runs ahead (another machine, a
/// broken NTP) would otherwise find other nodes' live leases expired and take their runs. The node here is this
/// harness with a clock that can be set off the real one, on a real database.
/// </summary>
public abstract class ClockSkewTests(TestProvider provider) : IAsyncLifetime
{
    private static readonly TimeSpan Ahead = TimeSpan.FromSeconds(30);
    private readonly SkewedTime _time = new();
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() =>
        _hub = await EngineHarness.CreateAsync(provider, configure: s => s.AddSingleton<TimeProvider>(_time));

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    private DatabaseClock Clock => _hub.Services.GetRequiredService<DatabaseClock>();

    private IRunStore Store => _hub.Services.GetRequiredService<IRunStore>();

    [Fact]
    public async Task ANodeWhoseClockRunsAhead_TakesNoLiveRun_AndStillRecoversOneWhoseLeaseRanOutOnTheDatabasesClock()
    {
        // Another node, on the right time, claims two runs: one with a long lease, one with a short one.
        var live = (await _hub.StartAsync(type: TestOperations.Blocking, identity: new Dictionary<string, string> { ["n"] = "live" })).Run;
        var dying = (await _hub.StartAsync(type: TestOperations.Blocking, identity: new Dictionary<string, string> { ["n"] = "dying" })).Run;
        (await _hub.Transitions.TryClaimAsync(live.Id, "live-node", TimeSpan.FromMinutes(1), default)).Should().NotBeNull();
        (await _hub.Transitions.TryClaimAsync(dying.Id, "dead-node", TimeSpan.FromSeconds(2), default)).Should().NotBeNull();

        // This node's clock runs 30 s ahead: by it, both leases have run out.
        _time.Skew = Ahead;
        await Clock.SyncAsync(default);
        Clock.Offset.Should().BeCloseTo(-Ahead, TimeSpan.FromSeconds(1), "the node measured how far its clock is off the database's");

        (await _hub.Recovery.RunOnceAsync(default)).Requeued.Should().Be(0, "on the database's clock neither lease has run out yet");
        var untouched = await _hub.GetRunAsync(live.Id);
        untouched.Status.Should().Be(RunStatus.Running);
        untouched.LeaseOwner.Should().Be("live-node");
        untouched.Attempt.Should().Be(1);

        // Once the short lease has run out on the database's clock, recovery on this node takes that run, and only it.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        (await _hub.Recovery.RunOnceAsync(default)).Requeued.Should().Be(1);
        (await _hub.GetRunAsync(dying.Id)).Status.Should().Be(RunStatus.Queued);
        (await _hub.GetRunAsync(live.Id)).LeaseOwner.Should().Be("live-node");
    }

    [Fact]
    public async Task LeasesAndRunTimes_WrittenByANodeWhoseClockIsOff_AreOnTheDatabasesClock()
    {
        _time.Skew = -Ahead; // behind: its leases would otherwise run out 30 s early for every other node
        await Clock.SyncAsync(default);
        var run = (await _hub.StartAsync(type: TestOperations.Blocking)).Run;
        var lease = TimeSpan.FromSeconds(8);
        (await _hub.Transitions.TryClaimAsync(run.Id, "this-node", lease, default)).Should().NotBeNull();
        var databaseNow = await Store.ReadClockAsync(default);

        var stored = await _hub.GetRunAsync(run.Id);
        stored.CreatedAt.Should().BeCloseTo(databaseNow, TimeSpan.FromSeconds(2));
        stored.StartedAt!.Value.Should().BeCloseTo(databaseNow, TimeSpan.FromSeconds(2));
        stored.LeaseExpiresAt!.Value.Should().BeCloseTo(databaseNow + lease, TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task EveryNode_MeasuresTheDatabasesClock_WhenItStarts()
    {
        _time.Skew = Ahead;
        var sync = _hub.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<DatabaseClockSync>().Should().ContainSingle().Subject;

        await sync.StartAsync(default);
        try
        {
            Clock.Offset.Should().BeCloseTo(-Ahead, TimeSpan.FromSeconds(1), "measured before the host's other services start");
        }
        finally
        {
            await sync.StopAsync(default);
        }
    }

    [Fact]
    public async Task ADifferenceWithinTolerance_IsTakenAsNone()
    {
        _time.Skew = TimeSpan.FromMilliseconds(20);
        await Clock.SyncAsync(default);
        Clock.Offset.Should().Be(TimeSpan.Zero, "a few milliseconds are a round trip's noise, not a clock to correct");

        _time.Skew = TimeSpan.FromSeconds(5);
        await Clock.SyncAsync(default);
        Clock.Offset.Should().BeCloseTo(TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(1));
    }

    /// <summary>The real clock, set off by <see cref="Skew"/>.</summary>
    private sealed class SkewedTime : TimeProvider
    {
        public TimeSpan Skew { get; set; }

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Skew;
    }
}

public sealed class ClockSkewTestsOnSqlite() : ClockSkewTests(TestProvider.Sqlite);

public sealed class ClockSkewTestsOnPostgreSql() : ClockSkewTests(TestProvider.PostgreSql);
