using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// Two hub processes on one PostgreSQL database (several nodes is a PostgreSQL set-up: the cross-node feed is
/// LISTEN/NOTIFY), each with a disk of its own, and Chromium pages on node B while node A starts and works the runs.
/// Node B runs no worker, so whatever its pages show was done by node A and reached B through the database's feed.
/// </summary>
public sealed class AcrossNodesTests() : FarmDrill(TestProvider.PostgreSql)
{
    private const string Operations = "/admin/t/contoso/operations";
    private HubProcess _nodeA = null!;
    private HubProcess _nodeB = null!;
    private IPlaywright? _playwright;
    private IBrowser _browser = null!;

    public override async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await base.InitializeAsync();
        _nodeA = await Farm.StartAsync(new Dictionary<string, string> { ["Worker:ProgressInterval"] = "00:00:00.250" }, ct);
        _nodeB = await Farm.StartAsync(new Dictionary<string, string> { ["Worker:Enabled"] = "false" }, ct);
        _playwright = await Playwright.CreateAsync();
        _browser = await LiveProbes.LaunchChromiumAsync(_playwright);
        Directory.CreateDirectory(HubServer.ScreenshotDirectory);
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    [Fact]
    public async Task ARunStartedAndWorkedOnNodeA_IsFollowedLiveOnNodeB_AndToastsOnlyInTheInitiatorsTabs()
    {
        // The initiator (the owner: the demo API token is theirs) has a tab on each node; a colleague has one on B.
        var ownerOnB = await SignedInPageAsync(_nodeB, "owner@contoso.test", Operations);
        var ownerOnA = await SignedInPageAsync(_nodeA, "owner@contoso.test", "/admin/t/contoso");
        var colleagueOnB = await SignedInPageAsync(_nodeB, "manager@contoso.test", Operations);
        foreach (var page in new[] { ownerOnB, ownerOnA, colleagueOnB })
        {
            await page.EvaluateAsync("() => window.__sameDocument = true");
        }

        var runId = await StartOnNodeAAsync(new() { ["items"] = "10", ["item_delay_ms"] = "400", ["fail_every"] = "0" }, "Across nodes");
        var chip = $"tr:has([data-run='{runId}']) [data-outcome]";
        await HubServer.RecordAttributeAsync(ownerOnB, chip, "data-status", "status"); // the row may not be there yet
        await ownerOnB.Locator($"[data-run='{runId}']").WaitForAsync(new() { Timeout = 10_000 });

        // A run page on node B, opened while node A works the run, follows it to the end.
        var runPage = await ownerOnB.Context.NewPageAsync();
        await runPage.GotoAsync($"{Operations}/{runId}");
        await HubServer.WaitForInteractiveAsync(runPage);
        await runPage.EvaluateAsync("() => window.__sameDocument = true");
        await Assertions.Expect(runPage.Locator("[data-testid='timeline'] [data-event='started']")).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        var runChip = runPage.Locator("h1 ~ [data-status], .mud-chip[data-status]").First;
        await Assertions.Expect(runChip).ToHaveAttributeAsync("data-status", "Running");
        await HubServer.ScreenshotAsync(runPage, "across-nodes-run-running-on-b");
        await Assertions.Expect(runPage.Locator("[data-testid='timeline'] [data-event='completed']")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        await Assertions.Expect(runChip).ToHaveAttributeAsync("data-outcome", "Succeeded");

        await Assertions.Expect(ownerOnB.Locator(chip)).ToHaveAttributeAsync("data-outcome", "Succeeded", new() { Timeout = 10_000 });
        (await HubServer.RecordedAsync(ownerOnB, "status")).SkipWhile(s => s == "Queued").Should().Equal(["Running", "Completed"],
            "node B's grid showed node A's run running, then completed");
        await Assertions.Expect(colleagueOnB.Locator(chip)).ToHaveAttributeAsync("data-outcome", "Succeeded", new() { Timeout = 10_000 });

        // The initiator's tabs toast on both nodes; the colleague's tab, which saw the same run end, does not.
        const string succeeded = "Inventory sync succeeded";
        await ownerOnB.Locator(".mud-snackbar", new() { HasTextString = succeeded }).WaitForAsync(new() { Timeout = 10_000 });
        await runPage.Locator(".mud-snackbar", new() { HasTextString = succeeded }).WaitForAsync(new() { Timeout = 10_000 });
        await ownerOnA.Locator(".mud-snackbar", new() { HasTextString = succeeded }).WaitForAsync(new() { Timeout = 10_000 });
        await HubServer.ScreenshotAsync(ownerOnB, "across-nodes-toast-on-b");
        (await colleagueOnB.Locator(".mud-snackbar", new() { HasTextString = "Inventory sync" }).CountAsync()).Should().Be(0);
        await Assertions.Expect(colleagueOnB.Locator("[data-testid='notification-bell']")).ToHaveAttributeAsync("aria-label", "Notifications, 0 unread");
        await Assertions.Expect(ownerOnB.Locator("[data-testid='notification-bell']")).ToHaveAttributeAsync("aria-label", "Notifications, 1 unread");

        foreach (var page in new[] { ownerOnB, runPage, ownerOnA, colleagueOnB })
        {
            (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue("changes arrive over the circuit, not by reloading");
        }

        (await WorkedByAsync(runId)).Should().Be(1, "one node worked the run, once");
    }

    [Fact]
    public async Task WhenTheListenersConnectionsAreCut_PagesOnNodeB_ConvergeToTheDatabaseAfterTheReconnect()
    {
        var ct = TestContext.Current.CancellationToken;
        var grid = await SignedInPageAsync(_nodeB, "owner@contoso.test", Operations);
        await grid.EvaluateAsync("() => window.__sameDocument = true");
        var before = await ListenerBackendsAsync(ct);
        before.Should().HaveCount(2, "one LISTEN connection per node");

        // Cut every node's listener, and keep cutting each reconnect, while node A starts and finishes a run: what
        // node A relays meanwhile is lost to node B, which must re-read when its listener is back.
        var cut = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>(); // written by the cutting task, read here
        var runId = 0L;
        var cutting = Task.Run(async () =>
        {
            while (Volatile.Read(ref runId) == 0 || !await CompletedAsync(Volatile.Read(ref runId), ct))
            {
                foreach (var pid in await TerminateListenersAsync(ct))
                {
                    cut.TryAdd(pid, true);
                }

                await Task.Delay(20, ct);
            }
        }, ct);
        await WaitForAsync(() => Task.FromResult(before.All(cut.ContainsKey)), TimeSpan.FromSeconds(10), "both listeners cut");
        Volatile.Write(ref runId, await StartOnNodeAAsync(new() { ["items"] = "3", ["item_delay_ms"] = "100", ["fail_every"] = "0" }, "Cut listener"));
        await cutting.WaitAsync(TimeSpan.FromSeconds(60), ct);

        // The cutting has stopped: both nodes listen again, on new connections, and node B's grid shows the truth.
        await WaitForAsync(async () => (await ListenerBackendsAsync(ct)).Count(p => !cut.ContainsKey(p)) == 2, TimeSpan.FromSeconds(30),
            "both nodes listening again on new connections");
        await Assertions.Expect(grid.Locator($"tr:has([data-run='{runId}']) [data-outcome]"))
            .ToHaveAttributeAsync("data-outcome", "Succeeded", new() { Timeout = 30_000 });
        (await grid.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue("the page re-read over its circuit");
        await HubServer.ScreenshotAsync(grid, "across-nodes-after-reconnect");

        // And live delivery works again after the reconnect.
        var next = await StartOnNodeAAsync(new() { ["items"] = "3", ["item_delay_ms"] = "100", ["fail_every"] = "0" }, "After reconnect");
        await Assertions.Expect(grid.Locator($"tr:has([data-run='{next}']) [data-outcome]"))
            .ToHaveAttributeAsync("data-outcome", "Succeeded", new() { Timeout = 30_000 });
    }

    private async Task<IPage> SignedInPageAsync(HubProcess node, string email, string path)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = node.Address.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        await HubServer.SignInAsync(page, email, path);
        return page;
    }

    /// <summary>Starts an inventory sync through node A's API (the demo token: the owner's) and returns its number.</summary>
    private async Task<long> StartOnNodeAAsync(Dictionary<string, string> inputs, string target)
    {
        var ct = TestContext.Current.CancellationToken;
        using var api = _nodeA.ApiClient();
        using var response = await api.PostAsJsonAsync("/api/t/contoso/operations", new { type = "inventory_sync", inputs, target }, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt64();
    }

    private async Task<bool> CompletedAsync(long runId, CancellationToken ct) =>
        await ScalarAsync($"SELECT count(*) FROM operation_runs WHERE id = {runId} AND status = 'Completed'", ct) == 1;

    /// <summary>How many times the run was started (one 'started' event per attempt).</summary>
    private async Task<long> WorkedByAsync(long runId) =>
        await ScalarAsync($"SELECT count(*) FROM operation_run_events WHERE run_id = {runId} AND kind = 'started'", TestContext.Current.CancellationToken);

    private async Task<List<int>> ListenerBackendsAsync(CancellationToken ct) =>
        await PidsAsync("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'OperationsHub feed' AND query LIKE 'LISTEN%'", ct);

    private async Task<List<int>> TerminateListenersAsync(CancellationToken ct) =>
        await PidsAsync("""
            SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'OperationsHub feed' AND query LIKE 'LISTEN%'
              AND pg_terminate_backend(pid)
            """, ct);

    private async Task<List<int>> PidsAsync(string sql, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            pids.Add(reader.GetInt32(0));
        }

        return pids;
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }
}
