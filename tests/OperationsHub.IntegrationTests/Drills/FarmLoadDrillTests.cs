using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using OperationsHub.Testing;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>
/// 10,000 short runs over two nodes, one of them killed with SIGKILL and started again while they drain: every run
/// ends exactly once. Counted in the database: each run Completed and Succeeded, one "completed" event each, one
/// "started" event per attempt, a second attempt only after a requeue, and no run left Queued or Running.
/// </summary>
public abstract class FarmLoadDrillTests(TestProvider provider) : FarmDrill(provider)
{
    private const int Runs = 10_000;
    private const string Target = "Farm load drill";

    [Fact]
    public async Task TenThousandRuns_OverTwoNodes_OneKilledAndRestartedMidway_EveryRunEndsExactlyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var nodeA = await Farm.StartAsync(ShortLeases, ct);
        var nodeB = await Farm.StartAsync(ShortLeases, ct);
        var clock = Stopwatch.StartNew();

        // Starts through node B (node A dies below), 16 at a time; both nodes' workers drain them as they come.
        using var onB = nodeB.ApiClient();
        var next = 0;
        var refused = new List<string>();
        var starting = Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            for (var n = Interlocked.Increment(ref next); n <= Runs; n = Interlocked.Increment(ref next))
            {
                using var response = await onB.PostAsJsonAsync("/api/t/contoso/operations", new
                {
                    type = "policy_sync",
                    identityInputs = new Dictionary<string, string> { ["n"] = n.ToString(CultureInfo.InvariantCulture) },
                    inputs = new Dictionary<string, string> { ["items"] = "1", ["item_delay_ms"] = "0" },
                    target = Target,
                }, ct);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    var answer = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}";
                    lock (refused)
                    {
                        refused.Add(answer);
                    }
                }
            }
        }, ct)));

        // Midway: node A dies holding whatever it had claimed, and a new node A starts on the same database.
        await WaitForAsync(async () => await CountAsync("status = 'Completed'", ct) >= Runs / 4, TimeSpan.FromSeconds(120),
            "a quarter of the runs completed");
        var killedAt = clock.Elapsed;
        await nodeA.KillAsync();
        var restarted = await Farm.StartAsync(ShortLeases, ct);
        var restartedAt = clock.Elapsed;

        await starting;
        refused.Should().BeEmpty("node B accepts every start while node A dies and comes back");
        await WaitForAsync(async () => await CountAsync("status = 'Completed'", ct) == Runs, TimeSpan.FromSeconds(240),
            "every run completed");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"node A killed at {killedAt.TotalSeconds:F1} s and back at {restartedAt.TotalSeconds:F1} s; {Runs:N0} runs ended by {clock.Elapsed.TotalSeconds:F1} s; "
            + $"{await CountAsync("attempt > 1", ct)} ran a second time after the kill");

        (await CountAsync("1 = 1", ct)).Should().Be(Runs, "no run was lost and none was made twice");
        (await CountAsync("status <> 'Completed' OR outcome <> 'Succeeded'", ct)).Should().Be(0, "every run succeeded");
        (await ScalarAsync(
            "SELECT count(*) FROM operation_runs r WHERE r.target = @target AND"
            + " (SELECT count(*) FROM operation_run_events e WHERE e.run_id = r.id AND e.kind = 'completed') <> 1", ct))
            .Should().Be(0, "every run completed exactly once");
        (await ScalarAsync(
            "SELECT count(*) FROM operation_runs r WHERE r.target = @target AND"
            + " (SELECT count(*) FROM operation_run_events e WHERE e.run_id = r.id AND e.kind = 'started') <> r.attempt", ct))
            .Should().Be(0, "each attempt started once: no run was executed twice at the same time");
        (await ScalarAsync(
            "SELECT count(*) FROM operation_runs r WHERE r.target = @target AND r.attempt > 1 AND"
            + " NOT EXISTS (SELECT 1 FROM operation_run_events e WHERE e.run_id = r.id AND e.kind = 'requeued')", ct))
            .Should().Be(0, "a second attempt only follows a requeue of the dead node's claim");
    }

    private Task<long> CountAsync(string where, CancellationToken ct) =>
        ScalarAsync($"SELECT count(*) FROM operation_runs WHERE target = @target AND ({where})", ct);

    private async Task<long> ScalarAsync(string sql, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@target";
        parameter.Value = Target;
        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }
}

public sealed class FarmLoadDrillTestsOnSqlite() : FarmLoadDrillTests(TestProvider.Sqlite);

public sealed class FarmLoadDrillTestsOnPostgreSql() : FarmLoadDrillTests(TestProvider.PostgreSql);
