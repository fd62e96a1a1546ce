using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OperationsHub.Testing;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>The starvation drill takes a core: it runs alone, after the tests that run in parallel.</summary>
[CollectionDefinition(nameof(StarvedNodeDrill), DisableParallelization = true)]
public sealed class StarvedNodeDrill;

/// <summary>
/// A live node whose CPU is starved keeps its runs: node A, with the product's default lease settings, works two long
/// runs while it is pinned (<c>taskset</c>) to one core shared with four busy loops; node B beside it runs recovery
/// every second and would take any run whose lease lapsed. For three whole leases none is taken: no run is requeued or
/// abandoned, each keeps its first attempt and node A as its owner, and node A's renewals keep landing.
/// </summary>
public abstract class StarvedNodeDrillTests(TestProvider provider) : FarmDrill(provider)
{
    private const int BusyLoops = 4;
    private static readonly TimeSpan DefaultLease = new Core.Worker.WorkerOptions().LeaseDuration;

    private readonly List<Process> _loops = [];

    protected override async ValueTask DisposeCoreAsync()
    {
        foreach (var loop in _loops)
        {
            loop.Kill();
            await loop.WaitForExitAsync();
            loop.Dispose();
        }
    }

    [Fact]
    public async Task ANodeStarvedOfCpu_KeepsItsRuns_ForThreeLeases_WhileTheOtherNodeRunsRecovery()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = new Dictionary<string, string>(); // the product's defaults: lease, renewal, recovery
        var nodeA = await Farm.StartAsync(settings, ct);
        using var onA = nodeA.ApiClient();
        var runs = new List<long>();
        foreach (var type in new[] { "inventory_sync", "policy_sync" })
        {
            runs.Add(await StartAsync(onA, type, new() { ["items"] = "1000", ["item_delay_ms"] = "100", ["fail_every"] = "0" }));
        }

        await WaitForAsync(async () => (await ReadAsync(runs, ct)).All(r => r.Status == "Running"), TimeSpan.FromSeconds(30),
            "every run running on node A");
        var nodeB = await Farm.StartAsync(settings, ct);
        var owner = (await ReadAsync(runs, ct)).Select(r => r.LeaseOwner).Distinct().Should().ContainSingle().Subject!;
        owner.Should().Contain($"/{nodeA.ProcessId}/");
        owner.Should().NotContain($"/{nodeB.ProcessId}/");

        // Node A and four busy loops on the last core: node A gets a fifth of it, and waits behind them for each turn.
        var core = (Environment.ProcessorCount - 1).ToString(CultureInfo.InvariantCulture);
        await RunAsync("taskset", "-a", "-pc", core, nodeA.ProcessId.ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < BusyLoops; i++)
        {
            _loops.Add(Process.Start(new ProcessStartInfo("taskset", ["-c", core, "sh", "-c", "while :; do :; done"])
            {
                UseShellExecute = false,
            })!);
        }

        (await File.ReadAllTextAsync($"/proc/{nodeA.ProcessId}/status", ct)).Should()
            .Contain($"Cpus_allowed_list:\t{core}\n", "node A is pinned to the busy core");
        var cpuBefore = CpuTime(_loops[0].Id);

        // Three whole leases, sampled: a lapse longer than a lease would have let node B's recovery take a run.
        var clock = Stopwatch.StartNew();
        var leases = new HashSet<string>(StringComparer.Ordinal);
        while (clock.Elapsed < DefaultLease * 3)
        {
            var now = await ReadAsync(runs, ct);
            now.Should().OnlyContain(r => r.Status == "Running" && r.Attempt == 1 && r.LeaseOwner == owner,
                $"a starved but live node keeps its runs ({clock.Elapsed.TotalSeconds:F1} s into the starvation)\n{nodeB.Output}");
            foreach (var run in now)
            {
                leases.Add($"{run.Id}:{run.LeaseExpiresAt}");
            }

            await Task.Delay(500, ct);
        }

        var busy = CpuTime(_loops[0].Id) - cpuBefore;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"one busy loop used {busy.TotalSeconds:F1} s of CPU in {clock.Elapsed.TotalSeconds:F1} s; {leases.Count} distinct leases seen");
        busy.Should().BeGreaterThan(clock.Elapsed / (BusyLoops * 2), "the loops really shared node A's core");
        // Every renewal moves a run's expiry: over three leases at the default renewal, each run renews many times.
        leases.Count.Should().BeGreaterThanOrEqualTo(runs.Count * 4, "node A's renewals kept landing while it was starved");
        var kinds = await EventKindsAsync(runs, ct);
        kinds.Should().NotContain("requeued", "recovery took nothing").And.NotContain("abandoned");
    }

    private static TimeSpan CpuTime(int pid)
    {
        // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux).
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync();
        process.ExitCode.Should().Be(0, $"{file} {string.Join(' ', args)}");
    }

    private static async Task<long> StartAsync(HttpClient client, string type, Dictionary<string, string> inputs)
    {
        using var response = await client.PostAsJsonAsync("/api/t/contoso/operations",
            new { type, inputs, target = "Starved node drill" }, TestContext.Current.CancellationToken);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt64();
    }

    private async Task<List<RunLease>> ReadAsync(IReadOnlyList<long> ids, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT id, status, attempt, lease_owner, lease_expires_at FROM operation_runs"
            + $" WHERE id IN ({string.Join(',', ids)}) ORDER BY id";
        var rows = new List<RunLease>();
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new RunLease(reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : Convert.ToString(reader.GetValue(4), CultureInfo.InvariantCulture)));
        }

        return rows;
    }

    private async Task<List<string>> EventKindsAsync(IReadOnlyList<long> ids, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT kind FROM operation_run_events WHERE run_id IN ({string.Join(',', ids)})";
        var kinds = new List<string>();
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            kinds.Add(reader.GetString(0));
        }

        return kinds;
    }

    private sealed record RunLease(long Id, string Status, int Attempt, string? LeaseOwner, string? LeaseExpiresAt);
}

[Collection(nameof(StarvedNodeDrill))]
public sealed class StarvedNodeDrillTestsOnSqlite() : StarvedNodeDrillTests(TestProvider.Sqlite);

[Collection(nameof(StarvedNodeDrill))]
public sealed class StarvedNodeDrillTestsOnPostgreSql() : StarvedNodeDrillTests(TestProvider.PostgreSql);
