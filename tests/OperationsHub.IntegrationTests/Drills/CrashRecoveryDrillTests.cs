using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>
/// Drill 2a: the hub runs as a child process; long runs of every sample type are started over HTTP and are mid-run when
/// the process is killed with SIGKILL. A new process on the same database must, within the lease plus one recovery
/// interval (counted from when it could first act), fail the run that is not safe to repeat and queue the others
/// again for a second attempt, which the new worker then runs. No run is left Running under the dead worker.
/// </summary>
public sealed class CrashRecoveryDrillTests : IAsyncDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(1);

    // Short leases so the drill takes seconds; the rules are the product's, only the clock is faster.
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Worker:LeaseDuration"] = "00:00:04",
        ["Worker:LeaseRenewalInterval"] = "00:00:01",
        ["Worker:ProgressInterval"] = "00:00:01",
        ["Worker:RecoveryInterval"] = "00:00:01",
    };

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("opshub-crash-");
    private HubProcess? _hub;

    private string DatabasePath => Path.Combine(_directory.FullName, "hub.db");

    public async ValueTask DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }

    [Fact]
    public async Task KillNineMidRun_EveryRunIsFailedOrRerunPerPolicy_WithinLeasePlusOneRecoveryInterval()
    {
        var ct = TestContext.Current.CancellationToken;
        _hub = await HubProcess.StartAsync(DatabasePath, Settings, ct);
        using var client = _hub.ApiClient();

        // A restore needs a backup of its tenant: the demo seed takes one at start-up (two seconds); wait for it, so
        // the drill's own backup below is new work, not deduped to the seed's.
        var backupId = await WaitForBackupAsync(ct);

        // Long enough that each is mid-run at the kill and, re-run, still running when the drill checks it.
        var retrySafe = new[]
        {
            await StartAsync(client, "inventory_sync", new() { ["items"] = "600", ["item_delay_ms"] = "100", ["fail_every"] = "0" }),
            await StartAsync(client, "policy_sync", new() { ["items"] = "600", ["item_delay_ms"] = "100" }),
            await StartAsync(client, "backup", new() { ["duration_seconds"] = "60" }),
        };
        var notRetrySafe = await StartAsync(client, "restore", new() { ["item_delay_ms"] = "7000", ["unmapped"] = "skip" },
            new() { ["backup_id"] = backupId });
        long[] all = [.. retrySafe, notRetrySafe];

        await WaitForAsync(async () => (await ReadRunsAsync(all)).All(r => r.Status == "Running" && r.Processed > 0),
            TimeSpan.FromSeconds(30), "every run running and reporting progress");
        var before = await ReadRunsAsync(all);
        var deadOwner = before.Select(r => r.LeaseOwner).Distinct().Should().ContainSingle().Subject;

        var clock = Stopwatch.StartNew();
        await _hub.KillAsync();
        var killedAt = clock.Elapsed;
        await _hub.DisposeAsync();
        _hub = await HubProcess.StartAsync(DatabasePath, Settings, ct);
        var readyAt = clock.Elapsed;

        // The new process can act once it is up and the dead worker's lease has run out; then one recovery pass.
        var canActAt = readyAt > killedAt + Lease ? readyAt : killedAt + Lease;
        var budget = canActAt + RecoveryInterval;
        TimeSpan settledAt = default;
        await WaitForAsync(async () =>
        {
            var runs = await ReadRunsAsync(all);
            var settled = runs.All(r => r.Id == notRetrySafe
                ? r.Status == "Completed" && r.Outcome == "Failed"
                : r.Attempt == 2 && r.LeaseOwner != deadOwner && r.Status is "Running" or "Completed");
            settledAt = clock.Elapsed;
            return settled;
        }, TimeSpan.FromSeconds(60), "every run failed or re-run by the new worker");

        var after = await ReadRunsAsync(all);
        after.Should().NotContain(r => r.Status == "Running" && r.LeaseOwner == deadOwner, "no run stays with the dead worker");
        var restore = after.Single(r => r.Id == notRetrySafe);
        restore.FailuresJson.Should().Contain("abandoned").And.NotContain("Bearer");
        after.Where(r => r.Id != notRetrySafe).Should().OnlyContain(r => r.Attempt == 2);
        (await EventKindsAsync(retrySafe[0])).Should().ContainInOrder("created", "started", "requeued", "started");

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"killed at {killedAt.TotalSeconds:F1} s, new process ready at {readyAt.TotalSeconds:F1} s, lease ran out at "
            + $"{(killedAt + Lease).TotalSeconds:F1} s, all settled by {settledAt.TotalSeconds:F1} s (budget {budget.TotalSeconds:F1} s + 1 s of polling)");
        // The poll that sees it settled runs every 200 ms, and a claim follows the requeue: one second of slack.
        settledAt.Should().BeLessThanOrEqualTo(budget + TimeSpan.FromSeconds(1),
            "recovery acts within the lease plus one recovery interval");
    }

    private static async Task<long> StartAsync(
        HttpClient client, string type, Dictionary<string, string> inputs, Dictionary<string, string>? identity = null)
    {
        using var response = await client.PostAsJsonAsync("/api/t/contoso/operations",
            new { type, inputs, identityInputs = identity, target = "Crash drill" }, TestContext.Current.CancellationToken);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt64();
    }

    private async Task<string> WaitForBackupAsync(CancellationToken ct)
    {
        string? id = null;
        await WaitForAsync(async () =>
        {
            await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
            await connection.OpenAsync(ct);
            await using var select = connection.CreateCommand();
            select.CommandText = "SELECT b.id FROM backups b JOIN tenants t ON t.id = b.tenant_id WHERE t.external_id = 'contoso' ORDER BY b.id LIMIT 1";
            id = (await select.ExecuteScalarAsync(ct))?.ToString();
            return id is not null;
        }, TimeSpan.FromSeconds(30), "the demo's first backup");
        return id!;
    }

    private async Task<List<RunRow>> ReadRunsAsync(long[] ids)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT id, status, outcome, attempt, lease_owner, processed_count, failures_json FROM operation_runs WHERE id IN ({string.Join(',', ids)})";
        var rows = new List<RunRow>();
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new RunRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.IsDBNull(6) ? "" : reader.GetString(6)));
        }

        return rows;
    }

    private async Task<List<string>> EventKindsAsync(long runId)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT kind FROM operation_run_events WHERE run_id = {runId} ORDER BY id";
        var kinds = new List<string>();
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            kinds.Add(reader.GetString(0));
        }

        return kinds;
    }

    private async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out waiting for {what}.\n--- hub output ---\n{_hub?.Output}");
            }

            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    private sealed record RunRow(long Id, string Status, string Outcome, int Attempt, string? LeaseOwner, int Processed, string FailuresJson);
}
