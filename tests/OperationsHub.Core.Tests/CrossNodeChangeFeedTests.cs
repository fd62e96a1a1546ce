using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OperationsHub.Core.Data;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Tests.Infrastructure;
using OperationsHub.PostgreSql;
using OperationsHub.Testing;

namespace OperationsHub.Core.Tests;

/// <summary>
/// Two nodes' feeds on one real PostgreSQL database, each with its own LISTEN connection: what one node publishes,
/// the other delivers to its subscribers. (SQLite is one node by design: nothing to relay.)
/// </summary>
public sealed class CrossNodeChangeFeedTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private PostgreSqlRunChangeFeed _nodeA = null!;
    private PostgreSqlRunChangeFeed _nodeB = null!;
    private int _wakesOnA;
    private int _wakesOnB;

    public async ValueTask InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(TestProvider.PostgreSql);
        _nodeA = await StartNodeAsync(() => Interlocked.Increment(ref _wakesOnA));
        _nodeB = await StartNodeAsync(() => Interlocked.Increment(ref _wakesOnB));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in new[] { _nodeA, _nodeB })
        {
            if (node is not null)
            {
                await node.StopAsync(CancellationToken.None);
                node.Dispose();
            }
        }

        await _database.DisposeAsync();
    }

    [Fact]
    public async Task AChangeOnNodeA_ReachesNodeBsSubscribersOfEachScope_AndNodeAsOwnOnlyOnce()
    {
        var tenantOnB = new Sink();
        var userOnB = new Sink();
        var runOnA = new Sink();
        using var t = _nodeB.Subscribe(RunChangeScope.ForTenant(7), tenantOnB.Receive);
        using var u = _nodeB.Subscribe(RunChangeScope.ForUser(42), userOnB.Receive);
        using var r = _nodeA.Subscribe(RunChangeScope.ForRun(1001), runOnA.Receive);
        var sequenceOnB = _nodeB.Sequence;

        _nodeA.Publish(new RunChanged(1001, 7, 42, 3));

        await WaitFor.ConditionAsync(() => Task.FromResult(tenantOnB.Changes.Any(c => c.RunId == 1001)), "node B's tenant subscriber");
        await WaitFor.ConditionAsync(() => Task.FromResult(userOnB.Changes.Any(c => c.RunId == 1001)), "node B's user subscriber");
        tenantOnB.Changes.Should().ContainSingle().Which.Should().Be(new RunChanged(1001, 7, 42, 3), "ids and version cross intact");
        _nodeB.Sequence.Should().BeGreaterThan(sequenceOnB, "shared reads on node B see that something changed");

        // Node A hears its own notification too, and skips it: its subscriber got the change once, from the publish.
        await WaitFor.ConditionAsync(() => Task.FromResult(runOnA.Changes.Count >= 1), "node A's own subscriber");
        _nodeB.Publish(new RunChanged(2002, 8, null, 1)); // a later notification through the same channel
        await WaitFor.ConditionAsync(() => Task.FromResult(_nodeA.Sequence >= 2), "node A hears node B");
        runOnA.Changes.Should().ContainSingle("node A's own notification came back and was skipped");
    }

    [Fact]
    public async Task ARunQueuedOnNodeA_WakesNodeBsWorker_ButLaterChangesDoNot()
    {
        var onB = new Sink();
        using var _ = _nodeB.Subscribe(RunChangeScope.ForTenant(1), onB.Receive);

        _nodeA.Publish(new RunChanged(5, 1, null, 2)); // a run moving on: nothing for another worker to claim
        await WaitFor.ConditionAsync(() => Task.FromResult(onB.Changes.Any(c => c.RunId == 5)), "the first change on node B");
        Volatile.Read(ref _wakesOnB).Should().Be(0);

        _nodeA.Publish(new RunChanged(6, 1, null, 1)); // inserted, queued
        await WaitFor.ConditionAsync(() => Task.FromResult(Volatile.Read(ref _wakesOnB) == 1), "node B's worker woken");
        Volatile.Read(ref _wakesOnA).Should().Be(0, "node A's own start wakes its worker through the dispatcher, not the feed");
    }

    [Fact]
    public async Task ABurstOfFiveThousandRuns_CrossesInPayloadsUnderTheLimit_EveryRunAtItsNewestVersion()
    {
        var onB = new Sink();
        using var _ = _nodeB.Subscribe(RunChangeScope.ForTenant(1), onB.Receive);

        for (var run = 1; run <= 5_000; run++)
        {
            _nodeA.Publish(new RunChanged(run, 1, run % 3 == 0 ? null : run, 1));
            _nodeA.Publish(new RunChanged(run, 1, run % 3 == 0 ? null : run, 2));
        }

        await WaitFor.ConditionAsync(() => Task.FromResult(onB.Newest.Count == 5_000), "all 5,000 runs on node B", TimeSpan.FromSeconds(30));
        onB.Newest.Values.Should().OnlyContain(c => c.Version == 2);
        onB.Newest[3].InitiatorUserId.Should().BeNull();
        onB.Newest[4].InitiatorUserId.Should().Be(4);
    }

    [Fact]
    public void Payloads_StayUnderPostgreSqlsLimit_AndDecodeToWhatWasEncoded()
    {
        var changes = Enumerable.Range(1, 3_000)
            .Select(i => new RunChanged(long.MaxValue - i, long.MaxValue - 1, i % 2 == 0 ? null : long.MaxValue, int.MaxValue, ProgressOnly: i % 3 == 0))
            .ToList();

        var payloads = PostgreSqlRunChangeFeed.Encode("node-a", changes);

        payloads.Should().HaveCountGreaterThan(1).And.OnlyContain(p => System.Text.Encoding.UTF8.GetByteCount(p) < 8_000);
        var decoded = payloads.Select(PostgreSqlRunChangeFeed.Decode).ToList();
        decoded.Should().OnlyContain(d => d.NodeId == "node-a");
        decoded.SelectMany(d => d.Changes).Should().Equal(changes);
        PostgreSqlRunChangeFeed.Decode("garbage").Changes.Should().BeEmpty();
        PostgreSqlRunChangeFeed.Decode("n|1,2,3;x,y,z,w;4,5,,6").Changes.Should().Equal(new RunChanged(4, 5, null, 6));
        // A progress beat is marked; a fifth part that is not the mark is refused rather than read as a state change.
        PostgreSqlRunChangeFeed.Decode("n|4,5,,6,p;7,8,,9,x").Changes.Should().Equal(new RunChanged(4, 5, null, 6, ProgressOnly: true));
    }

    [Fact]
    public async Task AfterItsListenerIsCut_NodeBReconnects_TellsItsPagesToReload_AndHearsLaterChanges()
    {
        var onB = new Sink();
        using var _ = _nodeB.Subscribe(RunChangeScope.ForTenant(1), onB.Receive);

        await using (var admin = new NpgsqlConnection(_database.ConnectionString))
        {
            await admin.OpenAsync(TestContext.Current.CancellationToken);
            await using var kill = admin.CreateCommand();
            kill.CommandText = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                + " WHERE datname = current_database() AND application_name = 'OperationsHub feed' AND query LIKE 'LISTEN%'";
            var killed = (long)(await kill.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
            killed.Should().Be(2, "each node has one listener connection");
        }

        await WaitFor.ConditionAsync(() => Task.FromResult(onB.Batches.Any(b => b.Overflowed)), "node B's reload signal");
        await WaitFor.ConditionAsync(() => Task.FromResult(_nodeA.Listening && _nodeB.Listening), "both listeners back");

        _nodeA.Publish(new RunChanged(77, 1, null, 1));
        await WaitFor.ConditionAsync(() => Task.FromResult(onB.Changes.Any(c => c.RunId == 77)), "a change after the reconnect");
    }

    private async Task<PostgreSqlRunChangeFeed> StartNodeAsync(Action wake)
    {
        var node = new PostgreSqlRunChangeFeed(
            Options.Create(new DatabaseOptions { Provider = "PostgreSql", ConnectionString = _database.ConnectionString }),
            Options.Create(new ChangeFeedOptions { MinInterval = TimeSpan.Zero, MaxBatchRuns = 10_000 }),
            TimeProvider.System,
            NullLoggerFactory.Instance,
            wake);
        await node.StartAsync(TestContext.Current.CancellationToken);
        await WaitFor.ConditionAsync(() => Task.FromResult(node.Listening), "the node's listener");
        return node;
    }

    private sealed class Sink
    {
        private readonly ConcurrentQueue<RunChangeBatch> _batches = new();

        public IReadOnlyList<RunChangeBatch> Batches => [.. _batches];

        public IReadOnlyList<RunChanged> Changes => Batches.SelectMany(b => b.Changes).ToList();

        public IReadOnlyDictionary<long, RunChanged> Newest => Changes
            .GroupBy(c => c.RunId)
            .ToDictionary(g => g.Key, g => g.MaxBy(c => c.Version));

        public Task Receive(RunChangeBatch batch)
        {
            _batches.Enqueue(batch);
            return Task.CompletedTask;
        }
    }
}
