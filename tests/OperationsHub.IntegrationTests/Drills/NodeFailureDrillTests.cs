using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Testing;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>
/// A node of a farm dies holding long runs: two hub processes on one database, node A works every run, node B is up
/// beside it; A is killed with SIGKILL. Within A's lease plus one recovery interval, node B fails the run that is not
/// safe to repeat and takes the others again as a second attempt, and none stays Running under the dead node. Then,
/// with node B stopped so that nothing else writes, node A "comes back" with what it held (its owner name and attempt,
/// as a node frozen by a long GC pause or a partition would): its heartbeats and completions change nothing, because
/// every write of a running run is fenced by the owner and the attempt of the claim that began it.
/// </summary>
public abstract class NodeFailureDrillTests(TestProvider provider) : FarmDrill(provider)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(1);

    private HubProcess? _nodeA;
    private HubProcess? _nodeB;

    [Fact]
    public async Task ANodeKilledMidRun_ItsRunsAreFailedOrRerunByTheOther_AndItsLateWritesChangeNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        // A alone first, so every run below is A's; B joins before the kill, as a live second node.
        _nodeA = await Farm.StartAsync(ShortLeases, ct);
        using var onA = _nodeA.ApiClient();
        var backupId = await WaitForBackupAsync(ct);
        var retrySafe = new[]
        {
            await StartAsync(onA, "inventory_sync", new() { ["items"] = "600", ["item_delay_ms"] = "100", ["fail_every"] = "0" }),
            await StartAsync(onA, "policy_sync", new() { ["items"] = "600", ["item_delay_ms"] = "100" }),
        };
        var notRetrySafe = await StartAsync(onA, "restore", new() { ["item_delay_ms"] = "7000", ["unmapped"] = "skip" },
            new() { ["backup_id"] = backupId });
        long[] all = [.. retrySafe, notRetrySafe];
        await WaitForAsync(async () => (await ReadRunsAsync(all, ct)).All(r => r.Status == "Running" && r.Processed > 0),
            TimeSpan.FromSeconds(30), "every run running on node A and reporting progress");
        _nodeB = await Farm.StartAsync(ShortLeases, ct);

        var held = await ReadRunsAsync(all, ct);
        var deadOwner = held.Select(r => r.LeaseOwner).Distinct().Should().ContainSingle("node A claimed every run").Subject!;
        deadOwner.Should().Contain($"/{_nodeA.ProcessId}/", "the lease names node A's process");

        var clock = Stopwatch.StartNew();
        await _nodeA.KillAsync();
        var killedAt = clock.Elapsed;

        // Node B can act once the dead node's lease has run out; then one recovery pass, and a claim for the requeued.
        var budget = killedAt + Lease + RecoveryInterval;
        TimeSpan settledAt = default;
        await WaitForAsync(async () =>
        {
            var runs = await ReadRunsAsync(all, ct);
            settledAt = clock.Elapsed;
            return runs.All(r => r.Id == notRetrySafe
                ? r.Status == "Completed" && r.Outcome == "Failed"
                : r.Attempt == 2 && r.Status == "Running" && r.LeaseOwner is { } owner && owner != deadOwner);
        }, TimeSpan.FromSeconds(60), "node B failing the restore and running the others again");

        var recovered = await ReadRunsAsync(all, ct);
        recovered.Should().NotContain(r => r.LeaseOwner == deadOwner && r.Status == "Running", "no run stays with the dead node");
        recovered.Where(r => r.Id != notRetrySafe).Select(r => r.LeaseOwner).Should()
            .OnlyContain(o => o!.Contains($"/{_nodeB.ProcessId}/", StringComparison.Ordinal), "node B runs them now");
        recovered.Single(r => r.Id == notRetrySafe).FailuresJson.Should().Contain("abandoned");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"killed at {killedAt.TotalSeconds:F1} s, lease ran out at {(killedAt + Lease).TotalSeconds:F1} s, "
            + $"settled by {settledAt.TotalSeconds:F1} s (budget {budget.TotalSeconds:F1} s + 1 s of polling)");
        // The poll that sees it settled runs every 200 ms, and a claim follows the requeue: one second of slack.
        settledAt.Should().BeLessThanOrEqualTo(budget + TimeSpan.FromSeconds(1), "recovery acts within the lease plus one recovery interval");

        // Node A comes back with its old lease: the product's own store, as node A's worker would call it. Node B is
        // stopped first, so its own renewals cannot move the snapshot: whatever changes now, node A's late writes did.
        await _nodeB.KillAsync();
        var before = await SnapshotAsync(all, ct);
        using (var store = Store())
        {
            var now = DateTime.UtcNow;
            foreach (var run in held)
            {
                var beat = await store.HeartbeatAsync(
                    new Heartbeat(run.Id, deadOwner, run.Attempt, now, now + Lease, new RunCounts(600, 599, 599, 0, 0)), ct);
                beat.LeaseHeld.Should().BeFalse($"run {run.Id}: a lease taken over (or ended) cannot be renewed by its old holder");
                var completed = await store.ApplyAsync(
                    new RunTransition.Complete(run.Id, now, deadOwner, run.Attempt, RunOutcome.Succeeded, new RunCounts(600, 600, 600, 0, 0), null, 0),
                    new RunEffects("completed", "Completed by the dead node"), ct);
                completed.Should().BeNull($"run {run.Id}: the dead node's completion is refused");
                await store.ReleaseLeaseAsync(run.Id, deadOwner, run.Attempt, now, ct);
                (await store.AppendLogAsync(run.Id, deadOwner, run.Attempt, [new LogEntry(now, RunLogLevel.Information, "late line")], ct))
                    .Should().Be(0, $"run {run.Id}: the dead node's log lines are refused");
            }
        }

        (await SnapshotAsync(all, ct)).Should().Equal(before, "the dead node's late writes changed no run, event, notification or log line");
    }

    private SqlRunStore Store()
    {
        var options = Options.Create(new DatabaseOptions
        {
            Provider = Provider.ToString(),
            ConnectionString = Database.ConnectionString,
            WriterConnections = 1,
        });
        return Provider == TestProvider.Sqlite ? new SqliteRunStore(options) : new PostgreSqlRunStore(options);
    }

    private static async Task<long> StartAsync(
        HttpClient client, string type, Dictionary<string, string> inputs, Dictionary<string, string>? identity = null)
    {
        using var response = await client.PostAsJsonAsync("/api/t/contoso/operations",
            new { type, inputs, identityInputs = identity, target = "Node failure drill" }, TestContext.Current.CancellationToken);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt64();
    }

    /// <summary>A restore needs a backup of its tenant: the demo seed takes one at start-up.</summary>
    private async Task<string> WaitForBackupAsync(CancellationToken ct)
    {
        string? id = null;
        await WaitForAsync(async () =>
        {
            await using var connection = await Farm.OpenAsync(ct);
            await using var select = connection.CreateCommand();
            select.CommandText = "SELECT b.id FROM backups b JOIN tenants t ON t.id = b.tenant_id WHERE t.external_id = 'contoso' ORDER BY b.id LIMIT 1";
            id = Convert.ToString(await select.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            return !string.IsNullOrEmpty(id);
        }, TimeSpan.FromSeconds(30), "the demo's first backup");
        return id!;
    }

    private async Task<List<RunState>> ReadRunsAsync(long[] ids, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT id, status, outcome, attempt, lease_owner, processed_count, failures_json FROM operation_runs"
            + $" WHERE id IN ({string.Join(',', ids)}) ORDER BY id";
        var rows = new List<RunState>();
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new RunState(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.IsDBNull(6) ? "" : reader.GetString(6)));
        }

        return rows;
    }

    /// <summary>What a late write could touch: each run's row as its writers see it, and the rows a write adds.</summary>
    private async Task<List<string>> SnapshotAsync(long[] ids, CancellationToken ct)
    {
        var list = string.Join(',', ids);
        await using var connection = await Farm.OpenAsync(ct);
        var lines = new List<string>();
        foreach (var sql in new[]
        {
            $"SELECT id, status, outcome, attempt, lease_owner, lease_expires_at, version, completed_at FROM operation_runs WHERE id IN ({list}) ORDER BY id",
            $"SELECT count(*) FROM operation_run_events WHERE run_id IN ({list})",
            $"SELECT count(*) FROM user_notifications WHERE run_id IN ({list})",
            $"SELECT count(*) FROM run_log_lines WHERE run_id IN ({list})",
        })
        {
            await using var select = connection.CreateCommand();
            select.CommandText = sql;
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                lines.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount)
                    .Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
            }
        }

        return lines;
    }

    private sealed record RunState(long Id, string Status, string Outcome, int Attempt, string? LeaseOwner, int Processed, string FailuresJson);
}

public sealed class NodeFailureDrillTestsOnSqlite() : NodeFailureDrillTests(TestProvider.Sqlite);

public sealed class NodeFailureDrillTestsOnPostgreSql() : NodeFailureDrillTests(TestProvider.PostgreSql);
